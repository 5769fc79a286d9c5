import Foundation
import Testing
@testable import Store

/// Where a test's database lives: GRDB's habit of running database tests both in memory and on disk.
enum Backing: String, CaseIterable, CustomTestStringConvertible {
    case memory, disk
    var testDescription: String { rawValue }
}

/// A temporary folder removed when the value is released.
final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-store-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A store plus the temporary folder keeping its file alive.
struct Fixture {
    let store: Store
    let dir: TempDir

    init(_ backing: Backing) throws {
        dir = TempDir()
        switch backing {
        case .memory: store = try Store.inMemory()
        case .disk: store = try Store.open(at: dir.url.appendingPathComponent("nested/db/cdam.sqlite"))
        }
    }

    /// Every scenario ends by checking the file is sound.
    func checkIntegrity() throws {
        #expect(try store.integrityCheck() == ["ok"])
    }
}

let width = 8

func sha(_ n: Int) -> String { String(repeating: String(format: "%02x", n % 256), count: 32) }

func vector(_ seed: Int, width: Int = width) -> [Float] {
    (0..<width).map { Float(sin(Double(seed * 31 + $0))) }
}

func newImage(_ n: Int, path: String? = nil, width w: Int = width) -> NewEmbeddedImage {
    NewEmbeddedImage(sha256: sha(n), byteSize: 1000 + n, format: "jpeg", height: 100 + n, width: 200 + n,
                     path: path ?? "/photos/\(n).jpg", embedding: vector(n, width: w))
}

func model(_ store: Store, name: String = "tiny", weights: String = String(repeating: "a", count: 64)) throws -> ModelRecord {
    try store.upsertModel(ModelInfo(name: name, weightsSHA256: weights, width: width, patchSize: 14, preprocessing: #"{"size":224}"#))
}
