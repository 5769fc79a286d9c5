import Foundation
import Store
import Testing
@testable import Workbench

/// A model-free embedder: a file's vector is its class prototype plus noise from the bytes' hash.
///
/// Test images are tiny files with a PNG signature followed by `class:NAME` and an id, so examples of
/// one class cluster the way a real model's embeddings of one object would.
final class FakeEmbedder: ImageEmbedder {
    let modelName: String
    let modelSHA256: String
    let width: Int
    let patchSize = 14
    let preprocessingID: String
    let preprocessingDescription = #"{"fake":true}"#
    /// Every file handed to `embed`, in order: how tests see what was cached.
    private(set) var embedded: [URL] = []

    init(name: String = "fake", weights: String = String(repeating: "f", count: 64), width: Int = 16, preprocessing: String = "fake-224") {
        modelName = name; modelSHA256 = weights; self.width = width; preprocessingID = preprocessing
    }

    func embed(_ files: [URL]) -> [Result<EmbeddedImage, Error>] {
        files.map { url in
            embedded.append(url)
            guard let data = try? Data(contentsOf: url), ImageFiles.sniff(data) != nil else {
                return .failure(WorkbenchError.failed("\(url.path): not a JPEG, PNG or WebP image"))
            }
            let text = String(decoding: data.dropFirst(8), as: UTF8.self)
            let label = text.split(separator: " ").first.map(String.init) ?? "none"
            let noise = FakeEmbedder.vector(seed: ImageFiles.sha256(data), width: width)
            let prototype = FakeEmbedder.vector(seed: label, width: width)
            let embedding = zip(prototype, noise).map { $0 * 1.0 + $1 * 0.3 }
            return .success(EmbeddedImage(url: url, sha256: ImageFiles.sha256(data), format: "png", height: 32, width: 48,
                                          embedding: embedding))
        }
    }

    static func vector(seed: String, width: Int) -> [Float] {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 })
        return (0..<width).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
        }
    }
}

/// A `FakeEmbedder` whose `embed` goes through `hook`: tests make things happen between batches (a file rewritten,
/// a prune or a removal by another process, a run that dies).
final class HookedEmbedder: ImageEmbedder {
    let inner: FakeEmbedder
    let hook: ([URL], FakeEmbedder) -> [Result<EmbeddedImage, Error>]
    init(_ inner: FakeEmbedder = FakeEmbedder(), hook: @escaping ([URL], FakeEmbedder) -> [Result<EmbeddedImage, Error>]) {
        self.inner = inner; self.hook = hook
    }
    var modelName: String { inner.modelName }
    var modelSHA256: String { inner.modelSHA256 }
    var width: Int { inner.width }
    var patchSize: Int { inner.patchSize }
    var preprocessingID: String { inner.preprocessingID }
    var preprocessingDescription: String { inner.preprocessingDescription }
    func embed(_ files: [URL]) -> [Result<EmbeddedImage, Error>] { hook(files, inner) }
}

/// A temporary folder for a test, removed afterwards.
final class Scratch {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-library-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes a fake image of class `label` at `relative` (content unique per `id`).
    @discardableResult
    func image(_ relative: String, label: String, id: Int) -> URL {
        let url = self.url.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        data.append(Data("\(label) \(id)".utf8))
        try! data.write(to: url)
        return url
    }

    @discardableResult
    func file(_ relative: String, _ text: String) -> URL {
        let url = self.url.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: url)
        return url
    }

    /// A real on-disk store inside the scratch folder.
    func store(_ name: String = "cdam.sqlite") throws -> Store {
        try Store.open(at: url.appendingPathComponent("db/\(name)"))
    }
}

func expectSound(_ store: Store) throws {
    #expect(try store.integrityCheck() == ["ok"])
}
