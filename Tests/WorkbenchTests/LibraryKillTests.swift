import Foundation
import Store
import Testing
@testable import Workbench

/// Faults with the real binary: `kill -9` of `cdam index` at random moments, then a rerun; and two
/// indexing processes on one database at once. Needs a built `cdam`, an installed model and photos:
/// `CDAM_E2E_HOME=HOME_WITH_MODEL [CDAM_E2E_IMAGES=DIR] swift test --filter LibraryKill`.
@Suite(.serialized) struct LibraryKillTests {
    static let environment = ProcessInfo.processInfo.environment
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../.build/debug/cdam").standardized
    static let images = environment["CDAM_E2E_IMAGES"] ?? "/work/shared/images/imagenet-samples"
    static var enabled: Bool {
        environment["CDAM_E2E_HOME"] != nil && FileManager.default.isExecutableFile(atPath: binary.path)
            && FileManager.default.fileExists(atPath: images)
    }

    /// Copies the first `count` photos into a fresh folder.
    func photos(_ count: Int, into scratch: Scratch) throws -> URL {
        let folder = scratch.url.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for url in try ImageFiles.find(in: URL(fileURLWithPath: Self.images)).prefix(count) {
            try FileManager.default.copyItem(at: url, to: folder.appendingPathComponent(url.lastPathComponent))
        }
        return folder
    }

    func index(_ folder: URL, db: URL, collection: String = "k", log: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["index", folder.path, "--collection", collection, "--db", db.path,
                             "--home", Self.environment["CDAM_E2E_HOME"]!, "--batch-size", "4"]
        process.standardOutput = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }

    /// Every stored image has exactly one embedding, path and membership: nothing half-written.
    func expectWhole(_ db: URL, count expected: Int?) throws {
        let store = try Store.open(at: db)
        #expect(try store.integrityCheck() == ["ok"])
        let all = try store.rowCounts()
        let counts = ["images", "embeddings", "image_paths", "collection_images"].map { all[$0]! }
        #expect(Set(counts).count == 1, "images, embeddings, paths, memberships: \(counts)")
        if let expected { #expect(counts[0] == expected) }
    }

    @Test(.enabled(if: enabled), .timeLimit(.minutes(10)))
    func killedIndexingLosesAtMostABatchAndARerunFinishes() throws {
        let scratch = Scratch()
        let folder = try photos(40, into: scratch)
        let db = scratch.url.appendingPathComponent("kill.sqlite")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let process = try index(folder, db: db)
            usleep(UInt32.random(in: 500_000...6_000_000, using: &rng))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: db.path) { try expectWhole(db, count: nil) }
        }
        let rerun = try index(folder, db: db)
        rerun.waitUntilExit()
        #expect(rerun.terminationStatus == 0)
        try expectWhole(db, count: 40)
    }

    @Test(.enabled(if: enabled), .timeLimit(.minutes(10)))
    func twoIndexingProcessesOnOneDatabaseBothFinish() throws {
        let scratch = Scratch()
        let folder = try photos(24, into: scratch)
        let db = scratch.url.appendingPathComponent("two.sqlite")
        let logs = [scratch.url.appendingPathComponent("first.log"), scratch.url.appendingPathComponent("second.log")]
        let first = try index(folder, db: db, log: logs[0]), second = try index(folder, db: db, log: logs[1])
        first.waitUntilExit(); second.waitUntilExit()
        let stderr = try logs.map { try String(contentsOf: $0, encoding: .utf8) }.joined(separator: " | ")
        #expect(first.terminationStatus == 0 && second.terminationStatus == 0, "\(stderr)")
        try expectWhole(db, count: 24)
    }
}
