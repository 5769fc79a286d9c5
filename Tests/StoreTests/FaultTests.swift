import Foundation
import GRDB
import Testing
@testable import Store

@Suite struct FaultTests {
    /// A full disk in the middle of a batch: the batch is rolled back, earlier rows stay, the message is one line.
    @Test func fullDiskLosesOnlyTheCurrentBatch() throws {
        let dir = TempDir()
        let store = try Store.open(at: dir.url.appendingPathComponent("cdam.sqlite"))
        let m = try model(store)
        try store.saveEmbeddedImages((1...3).map { newImage($0) }, modelID: m.id, preprocessingID: "p", collection: "c")
        let pages = try store.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count")! }
        try store.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages + 1)") }
        let big = (100..<400).map { newImage($0, path: "/big/\($0)/" + String(repeating: "x", count: 300)) }
        #expect {
            try store.saveEmbeddedImages(big, modelID: m.id, preprocessingID: "p", collection: "c")
        } throws: { error in
            guard case StoreError.diskFull = error else { return false }
            return "\(error)".hasPrefix(store.path) && !"\(error)".contains("\n")
        }
        #expect(try store.collection(named: "c")?.imageCount == 3)
        #expect(try store.findImage(sha256: sha(100)) == nil)
        #expect(try store.integrityCheck() == ["ok"])
    }

    /// A database that cannot be written (here: query_only, as a read-only mount would) gives a clear error.
    @Test func readOnlyIsAClearError() throws {
        let dir = TempDir()
        let store = try Store.open(at: dir.url.appendingPathComponent("cdam.sqlite"))
        let m = try model(store)
        try store.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = 1") }
        #expect {
            try store.saveEmbeddedImages([newImage(1)], modelID: m.id, preprocessingID: "p", collection: nil)
        } throws: { error in
            guard case StoreError.readOnly = error else { return false }
            return "\(error)".hasPrefix(store.path)
        }
        #expect(try store.model(named: "tiny") == m)
    }

    /// Another process holding the write lock past the busy timeout: a clear error, nothing half-written.
    @Test func lockedDatabaseIsAClearError() throws {
        let dir = TempDir()
        let url = dir.url.appendingPathComponent("cdam.sqlite")
        let store = try Store.open(at: url, busyTimeout: 0.2)
        let m = try model(store)
        var config = Configuration()
        config.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: url.path, configuration: config)
        try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        #expect {
            try store.saveEmbeddedImages([newImage(1)], modelID: m.id, preprocessingID: "p", collection: nil)
        } throws: { error in
            guard case StoreError.busy = error else { return false }
            return "\(error)".hasPrefix(url.path)
        }
        try other.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        try store.saveEmbeddedImages([newImage(1)], modelID: m.id, preprocessingID: "p", collection: nil)
        #expect(try store.integrityCheck() == ["ok"])
    }

    /// Two writers on one file (two Store instances, as two processes would be) both finish.
    @Test func twoWritersBothFinish() async throws {
        let dir = TempDir()
        let url = dir.url.appendingPathComponent("cdam.sqlite")
        let first = try Store.open(at: url)
        let second = try Store.open(at: url)
        let m = try model(first)
        async let a: Void = Task.detached {
            for i in 0..<50 { try first.saveEmbeddedImages([newImage(i)], modelID: m.id, preprocessingID: "p", collection: "x") }
        }.value
        async let b: Void = Task.detached {
            for i in 25..<75 { try second.saveEmbeddedImages([newImage(i)], modelID: m.id, preprocessingID: "p", collection: "x") }
        }.value
        _ = try await (a, b)
        #expect(try first.collection(named: "x")?.imageCount == 75)
        #expect(try first.integrityCheck() == ["ok"])
    }
}
