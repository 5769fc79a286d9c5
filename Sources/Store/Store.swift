import Foundation
import GRDB

/// The concept store: one SQLite file holding models, images, embeddings, concepts and collections.
///
/// On disk it is a WAL-mode database shared safely by several processes (writers wait up to 5 s for
/// each other); every method that writes does so in one transaction, so an interrupted process
/// leaves either all or none of a call's rows. Errors are `StoreError`s naming the database path.
public final class Store: @unchecked Sendable {
    /// The database file's path, or ":memory:".
    public let path: String
    let writer: any DatabaseWriter
    /// This Store's lease on the images it stores without a collection (see `saveEmbeddedImages`).
    let leaseID = UUID().uuidString

    private init(path: String, writer: any DatabaseWriter) {
        self.path = path
        self.writer = writer
    }

    /// Opens (creating it and its parent folders if needed) and migrates the database at `url`.
    /// - Throws: `StoreError` when the folder cannot be created, the file is not a database, is read-only,
    ///   locked for more than 5 s, or was migrated by a newer cdam.
    public static func open(at url: URL) throws -> Store {
        try open(at: url, busyTimeout: 5)
    }

    /// Opens the database at `url` for writing; `createFolder: false` refuses a missing folder (a mistyped
    /// `--db` creates nothing).
    /// - Throws: as `open(at:)`; `StoreError.foreignDatabase` for another program's database.
    public static func open(at url: URL, createFolder: Bool) throws -> Store {
        try open(at: url, busyTimeout: 5, createFolder: createFolder)
    }

    /// Opens the database at `url` for a command that only reads: read-only, without the WAL set-up write,
    /// so it reads while another process holds a write transaction, and reads a file it may not write.
    /// A database that still needs migrations is opened for writing instead (it is migrated first).
    /// - Parameter createFolder: when the file is missing, create it (and, with this, its folders); without it
    ///   a missing folder is an error (a mistyped `--db` creates nothing).
    /// - Throws: `StoreError` as `open(at:)`; `.foreignDatabase` for another program's database.
    public static func openForReading(at url: URL, createFolder: Bool = true) throws -> Store {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { return try open(at: url, busyTimeout: 5, createFolder: createFolder) }
        var config = configuration(busyTimeout: 5)
        config.readonly = true
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: path, configuration: config) } catch {
            throw StoreError.wrap(error, path: path)
        }
        let store = Store(path: path, writer: queue)
        let recorded: [String]?
        do { recorded = try store.recordedMigrations() } catch { throw StoreError.wrap(error, path: path) }
        let known = Set(Store.migrationIdentifiers)
        if let recorded, Set(recorded) == known { return store }
        if let recorded, !recorded.isEmpty, !recorded.contains(where: known.contains) {
            throw StoreError.foreignDatabase(path: path)
        }
        if let recorded {
            let unknown = recorded.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty { throw StoreError.newerSchema(path: path, unknown: unknown) }
        }
        return try open(at: url, busyTimeout: 5, createFolder: createFolder)
    }

    /// The migrations recorded in the database, or nil when it has no `schema_migrations` table of cdam's.
    /// - Throws: `StoreError.foreignDatabase` when it holds other tables and none of cdam's.
    private func recordedMigrations() throws -> [String]? {
        try writer.read { db in
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            guard tables.contains("schema_migrations") else {
                if tables.isEmpty { return nil }
                throw StoreError.foreignDatabase(path: path)
            }
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(schema_migrations)").map { $0["name"] as String? ?? "" }
            guard columns.contains("identifier") else { throw StoreError.foreignDatabase(path: path) }
            return try String.fetchAll(db, sql: "SELECT identifier FROM schema_migrations")
        }
    }

    /// Refuses, before anything is written, a non-empty database that is not cdam's (another program's tables,
    /// or migrations of which cdam knows none).
    private static func checkNotForeign(_ url: URL, busyTimeout: TimeInterval) throws {
        let path = url.path
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard size > 0 else { return }
        var config = configuration(busyTimeout: busyTimeout)
        config.readonly = true
        // A file SQLite cannot open read-only is left to the writable open, which reports it.
        guard let queue = try? DatabaseQueue(path: path, configuration: config) else { return }
        let store = Store(path: path, writer: queue)
        let recorded: [String]?
        do { recorded = try store.recordedMigrations() } catch let error as StoreError {
            if case .foreignDatabase = error { throw error }
            return
        } catch { return }
        let known = Set(Store.migrationIdentifiers)
        if let recorded, !recorded.isEmpty, !recorded.contains(where: known.contains) {
            throw StoreError.foreignDatabase(path: path)
        }
    }

    static func open(at url: URL, busyTimeout: TimeInterval, createFolder: Bool = true) throws -> Store {
        let path = url.path
        let folder = url.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: folder.path) {
            guard createFolder else {
                throw StoreError.cannotOpen(path: path, reason: "its folder \(folder.path) does not exist; create it first (or check the --db path)")
            }
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw StoreError.cannotOpen(path: path, reason: "cannot create its folder: \(error.localizedDescription)")
            }
        }
        try checkNotForeign(url, busyTimeout: busyTimeout)
        do {
            let pool = try DatabasePool(path: path, configuration: configuration(busyTimeout: busyTimeout))
            let store = Store(path: path, writer: pool)
            try store.migrate()
            return store
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    /// A fresh, migrated in-memory database (for tests and throwaway runs).
    /// - Throws: `StoreError` if SQLite cannot create it.
    public static func inMemory() throws -> Store {
        do {
            let queue = try DatabaseQueue(configuration: configuration(busyTimeout: 5))
            let store = Store(path: ":memory:", writer: queue)
            try store.migrate()
            return store
        } catch {
            throw StoreError.wrap(error, path: ":memory:")
        }
    }

    private static func configuration(busyTimeout: TimeInterval) -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            // In WAL mode NORMAL keeps every committed transaction across a crash of the process.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return config
    }

    /// The identifiers of the migrations this build knows, in order (files `migrations/NNNN_*.sql`).
    public static var migrationIdentifiers: [String] { embeddedMigrations.map(\.id) }

    /// Applies the migrations not yet recorded in `schema_migrations`, each in its own IMMEDIATE transaction
    /// that first re-reads the record: two processes opening a fresh database at once cannot both apply one
    /// (GRDB's DatabaseMigrator reads the record outside its transaction, which races).
    private func migrate() throws {
        let known = Set(Store.migrationIdentifiers)
        // The usual case, an up-to-date file, needs no write lock: commands that only read never wait
        // for an indexing process's commit.
        let recorded: [String]? = try writer.read { db in
            guard try db.tableExists("schema_migrations") else { return nil }
            return try String.fetchAll(db, sql: "SELECT identifier FROM schema_migrations")
        }
        if let recorded {
            let unknown = recorded.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty { throw StoreError.newerSchema(path: path, unknown: unknown) }
            if Set(recorded) == known { return }
        }
        try writer.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS schema_migrations (identifier TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL) STRICT")
                return .commit
            }
            let applied = try String.fetchAll(db, sql: "SELECT identifier FROM schema_migrations")
            let unknown = applied.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty { throw StoreError.newerSchema(path: path, unknown: unknown) }
            for migration in embeddedMigrations {
                try db.inTransaction(.immediate) {
                    let done = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE identifier = ?)",
                                                 arguments: [migration.id]) ?? false
                    if !done {
                        try db.execute(sql: migration.sql)
                        try db.execute(sql: "INSERT INTO schema_migrations(identifier, applied_at) VALUES (?, ?)",
                                       arguments: [migration.id, Store.now()])
                        let violations = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                        if !violations.isEmpty {
                            throw StoreError.sqlite(path: path, message: "migration \(migration.id) leaves \(violations.count) foreign key violations")
                        }
                    }
                    return .commit
                }
            }
        }
    }

    // MARK: - Access helpers

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try writer.read(body) } catch { throw StoreError.wrap(error, path: path) }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try writer.write(body) } catch { throw StoreError.wrap(error, path: path) }
    }

    static func now() -> String { timestamp(Date()) }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// The result of `PRAGMA integrity_check` and `PRAGMA foreign_key_check`: `["ok"]` when sound.
    /// - Throws: `StoreError` if the checks cannot run.
    public func integrityCheck() throws -> [String] {
        try read { db in
            var problems = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            problems += fk.map { "foreign key violation in \($0[0] as String? ?? "?") row \($0[1] as Int64? ?? -1)" }
            return problems.isEmpty ? ["ok"] : problems
        }
    }

    /// The number of rows of every table of the schema, by table name (a health check for tests and tools).
    /// - Throws: `StoreError` on a database failure.
    public func rowCounts() throws -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            for table in ["meta", "models", "images", "image_paths", "embeddings", "concepts", "concept_examples",
                          "collections", "collection_images"] {
                counts[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
            }
            return counts
        }
    }

    // MARK: - Meta

    /// The value stored under `key` in the meta table, if any.
    /// - Throws: `StoreError` on a database failure.
    public func meta(_ key: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    /// Stores `value` under `key` (nil removes it).
    /// - Throws: `StoreError` on a database failure (read-only, full disk, locked).
    public func setMeta(_ key: String, _ value: String?) throws {
        try write { db in
            if let value {
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key])
            }
        }
    }

    // MARK: - Models

    /// Registers a model, or returns the stored one of that name.
    /// - Throws: `StoreError.modelChanged` when the name is stored with other weights; `StoreError` on a database failure.
    @discardableResult
    public func upsertModel(_ info: ModelInfo) throws -> ModelRecord {
        try write { db in
            if let existing = try Store.model(db, named: info.name) {
                guard existing.weightsSHA256 == info.weightsSHA256 else {
                    throw StoreError.modelChanged(path: path, name: info.name,
                                                  storedSHA256: existing.weightsSHA256, givenSHA256: info.weightsSHA256)
                }
                return existing
            }
            try db.execute(sql: """
                INSERT INTO models(name, weights_sha256, width, patch_size, preprocessing, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [info.name, info.weightsSHA256, info.width, info.patchSize, info.preprocessing, Store.now()])
            return try Store.model(db, named: info.name)!
        }
    }

    /// The model stored under `name`, if any.
    /// - Throws: `StoreError` on a database failure.
    public func model(named name: String) throws -> ModelRecord? {
        try read { db in try Store.model(db, named: name) }
    }

    /// The model with this id, if any.
    /// - Throws: `StoreError` on a database failure.
    public func model(id: Int64) throws -> ModelRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM models WHERE id = ?", arguments: [id]).map(Store.modelRecord)
        }
    }

    /// Every stored model, by name.
    /// - Throws: `StoreError` on a database failure.
    public func models() throws -> [ModelRecord] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY name").map(Store.modelRecord) }
    }

    static func model(_ db: Database, named name: String) throws -> ModelRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM models WHERE name = ?", arguments: [name]).map(modelRecord)
    }

    static func modelRecord(_ row: Row) -> ModelRecord {
        ModelRecord(id: row["id"], name: row["name"], weightsSHA256: row["weights_sha256"], width: row["width"],
                    patchSize: row["patch_size"], preprocessing: row["preprocessing"], createdAt: row["created_at"])
    }
}
