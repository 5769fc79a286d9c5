import Foundation
import GRDB
import Testing
@testable import Store

@Suite struct MigrationTests {
    /// Every SQL file is compiled in, in order (a new file needs its `.embedInCode` line and its entry).
    @Test func embeddedSQLMatchesTheFiles() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.map { String($0.dropLast(4)) } == Store.migrationIdentifiers,
                "add the new migration to Package.swift (.embedInCode) and Sources/Store/Migrations.swift")
        for (file, migration) in zip(files, embeddedMigrations) {
            let sql = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(sql == migration.sql, "\(file) is not the SQL compiled in")
        }
    }

    @Test(arguments: Backing.allCases)
    func migrationsApplyAndAreRecorded(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let tables = try fixture.store.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        }
        for table in ["collection_images", "collections", "concept_examples", "concepts", "embeddings",
                      "image_paths", "images", "meta", "models"] {
            #expect(tables.contains(table))
        }
        let applied = try fixture.store.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM schema_migrations ORDER BY identifier") }
        #expect(applied == Store.migrationIdentifiers)
        // Every table of ours is STRICT and foreign keys are enforced.
        let strict = try fixture.store.read { db in
            try Row.fetchAll(db, sql: "PRAGMA table_list").filter { ($0["type"] as String) == "table" && !($0["name"] as String).hasPrefix("sqlite_") }
                .map { ($0["name"] as String, $0["strict"] as Int) }
        }
        #expect(!strict.isEmpty && strict.allSatisfy { $0.1 == 1 }, "\(strict)")
        #expect(try fixture.store.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") } == 1)
        try fixture.checkIntegrity()
    }

    @Test func diskDatabaseIsWALAndReopens() throws {
        let dir = TempDir()
        let url = dir.url.appendingPathComponent("cdam.sqlite")
        do {
            let store = try Store.open(at: url)
            #expect(try store.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") } == "wal")
            try store.saveEmbeddedImages([newImage(1)], modelID: try model(store).id, preprocessingID: "p", collection: "c")
        }
        let again = try Store.open(at: url)
        #expect(try again.findImage(sha256: sha(1)) != nil)
        #expect(try again.integrityCheck() == ["ok"])
    }

    @Test func newerSchemaIsRefused() throws {
        let dir = TempDir()
        let url = dir.url.appendingPathComponent("cdam.sqlite")
        let store = try Store.open(at: url)
        try store.write { db in
            try db.execute(sql: "INSERT INTO schema_migrations(identifier, applied_at) VALUES ('9999_future', 'now')")
        }
        #expect {
            try Store.open(at: url)
        } throws: { error in
            "\(error)".hasPrefix(url.path) && "\(error)".contains("9999_future")
        }
    }

    @Test func notADatabaseIsAClearError() throws {
        let dir = TempDir()
        let url = dir.url.appendingPathComponent("junk.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: url)
        #expect {
            try Store.open(at: url)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(url.path) && text.contains("not an SQLite database") && !text.contains("\n")
        }
        // The file is left as it was.
        #expect(try Data(contentsOf: url) == Data(repeating: 0x41, count: 8192))
    }

    @Test func unwritableFolderIsAClearError() throws {
        let dir = TempDir()
        let blocker = dir.url.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let url = blocker.appendingPathComponent("sub/cdam.sqlite")
        #expect {
            try Store.open(at: url)
        } throws: { error in "\(error)".hasPrefix(url.path) && "\(error)".contains("cannot open") }
    }
}

@Suite struct ConcurrentOpenTests {
    /// Many connections opening one fresh file at once: the schema is applied exactly once.
    @Test func manyStoresOpeningAFreshFileAgree() async throws {
        let dir = TempDir()
        let url = dir.url.appendingPathComponent("race.sqlite")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { _ = try Store.open(at: url) }
            }
            try await group.waitForAll()
        }
        let store = try Store.open(at: url)
        #expect(try store.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM schema_migrations") } == Store.migrationIdentifiers)
        #expect(try store.integrityCheck() == ["ok"])
    }
}
