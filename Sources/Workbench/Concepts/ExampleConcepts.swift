import Concepts
import Foundation
import Store

/// Concepts built on the fly from example folders: `query --examples DIR`.
public enum ExampleConcepts {
    /// Targets built from folders, with the reference their percentiles are read against.
    public struct Built: Sendable {
        public var targets: [Target]
        /// Per target: the background's scores (nil without a background).
        public var references: [ScoreReference?]
        /// What the background was taken to be, for people ("folder /x (120 images)", "collection 'street' (500 images)").
        public var background: String?
        /// Per target: R random concepts of its kind from the background, for per-patch significance.
        public var randomTargets: [[Target]]
    }

    /// Embeds the example folders and builds one target per folder (`contrast`: one target from two folders).
    ///
    /// - Parameters:
    ///   - folders: example folders (or files); each folder's name names its concept.
    ///   - kind: mean (the paper's), cosine, contrast, centred, probe or whitened.
    ///   - background: images that are not the concept, needed by centred, probe and whitened: a folder
    ///     (or file or glob), or the name of a stored collection when no such path exists.
    ///   - store: when given, images are embedded once and reused by content hash, and collections can serve
    ///     as background.
    /// - Throws: `WorkbenchError` for a wrong combination, an empty folder, an unknown background, or a concept
    ///   that cannot be built; `StoreError`.
    /// - Parameter randomConcepts: R random concepts per target for per-patch significance (needs a background).
    public static func build(folders: [String], kind: Target.Kind, background: String?, embedder: ImageEmbedder,
                             store: Store? = nil, randomConcepts: Int = 0, warn: (String) -> Void = { _ in }) throws -> Built {
        guard !folders.isEmpty else { throw WorkbenchError.usage("give at least one --examples DIR (or a stored --concept NAME)") }
        if kind == .contrast && folders.count != 2 {
            throw WorkbenchError.usage("--kind contrast takes exactly two --examples folders (A, then B: \"A and not B\")")
        }
        if kind == .classLogit { throw WorkbenchError.usage("--kind class needs a trained head, not example folders") }
        // A contrast from folders takes its B from the second folder; the other kinds need --background.
        if kind.needsBackground && kind != .contrast && background == nil {
            throw WorkbenchError.usage("--kind \(kind.rawValue) needs a background: add --background DIR or COLLECTION (images that are not the concept)")
        }
        let examples = try folders.map { try embedFolder($0, embedder: embedder, store: store, warn: warn) }
        var described: String? = nil
        var backgroundEmbeddings: [[Float]]? = nil
        if let background {
            let resolved = try resolveBackground(background, embedder: embedder, store: store, warn: warn)
            backgroundEmbeddings = resolved.embeddings
            described = resolved.described
        }
        let names = folders.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent }
        var targets: [Target]
        do {
            if kind == .contrast {
                targets = [try ConceptBuilder.contrast(name: "\(names[0])-not-\(names[1])", positives: examples[0], negatives: examples[1])]
            } else {
                targets = try zip(names, examples).map { name, ex in
                    try ConceptBuilder.build(kind: kind, name: name, examples: ex, background: backgroundEmbeddings)
                }
            }
        } catch let error as ConceptError {
            throw WorkbenchError.failed(error.description)
        }
        // Examples embedded at an earlier block make targets of that block.
        for k in targets.indices { targets[k].block = BlockTag.block(of: embedder.preprocessingID) }
        let references = targets.map { t -> ScoreReference? in
            guard let bg = backgroundEmbeddings, !bg.isEmpty else { return nil }
            return ScoreReference(scores: bg.map(t.score), label: "the background, \(described ?? "")")
        }
        let randomTargets = targets.indices.map { k -> [Target] in
            guard randomConcepts > 0, kind != .contrast, let bg = backgroundEmbeddings else { return [] }
            return ConceptBuilder.randomConcepts(kind: kind, exampleCount: examples[k].count, background: bg,
                                                 count: randomConcepts, seed: 0)
        }
        return Built(targets: targets, references: references, background: described, randomTargets: randomTargets)
    }

    /// A background given by path (folder, file or glob) or, when no such path exists, by collection name.
    static func resolveBackground(_ source: String, embedder: ImageEmbedder, store: Store?,
                                  warn: (String) -> Void) throws -> (embeddings: [[Float]], described: String) {
        let path = NSString(string: source).expandingTildeInPath
        let isPattern = path.contains(where: { "*?[{".contains($0) })
        if isPattern || FileManager.default.fileExists(atPath: path) {
            let embeddings = try embedFolder(source, embedder: embedder, store: store, warn: warn)
            return (embeddings, "folder \(source) (\(embeddings.count) images)")
        }
        guard let store else {
            throw WorkbenchError.failed("\(source): no such file or folder (a collection name needs the database)")
        }
        guard try store.collection(named: source) != nil else {
            let names = try store.collections().map(\.name)
            throw WorkbenchError.failed("--background \(source): no such file or folder, and no collection of that name\(didYouMean(source, among: names)) (see `cdam collection list`)")
        }
        guard let model = try store.model(named: embedder.modelName) else {
            throw WorkbenchError.failed("collection '\(source)' has no embeddings for model \(embedder.modelName); run `cdam index DIR --collection \(source)`")
        }
        let matrix = try store.embeddingMatrix(modelID: model.id, preprocessingID: embedder.preprocessingID, collection: source, withLabels: false)
        guard matrix.count > 0 else {
            throw WorkbenchError.failed("collection '\(source)' has no embeddings for model \(embedder.modelName) at \(embedder.preprocessingID); run `cdam index DIR --collection \(source)\(BlockTag.option(of: embedder.preprocessingID))` with the same --model")
        }
        let rows = (0..<matrix.count).map { Array(matrix.values[($0 * matrix.width)..<(($0 + 1) * matrix.width)]) }
        return (rows, "collection '\(source)' (\(rows.count) images)")
    }

    /// The CLS embeddings of the images in a folder; bad files are skipped with a warning. With a store,
    /// images already embedded with this model and preprocessing are read back instead of embedded again,
    /// and new ones are kept for next time.
    /// - Throws: `WorkbenchError.failed` when the folder holds no usable image; `StoreError`.
    static func embedFolder(_ path: String, embedder: ImageEmbedder, store: Store?, warn: (String) -> Void) throws -> [[Float]] {
        let files = try ImageInput.expand([path])
        var out: [[Float]] = []
        if let store {
            let model = try store.register(embedder)
            let embedded = try ensureEmbedded(files, embedder: embedder, store: store, model: model, collection: nil,
                                              batchSize: 8, keepEmbeddings: true, progress: nil)
            for failure in embedded.failures { warn("warning: skipping \(failure.error)") }
            out = embedded.sha256ByFile.compactMap { embedded.embeddings[$0.sha256] }
        } else {
            for (file, result) in zip(files, embedder.embed(files)) {
                switch result {
                case .success(let e): out.append(e.embedding)
                case .failure(let error): warn("warning: skipping \(FileFailure.of(file, error).error)")
                }
            }
        }
        guard !out.isEmpty else { throw WorkbenchError.failed("\(path): no usable example images") }
        return out
    }
}
