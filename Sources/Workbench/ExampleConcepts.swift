import Concepts
import Foundation

/// Concepts built on the fly from example folders, with no database: `query --examples DIR`.
public enum ExampleConcepts {
    /// Embeds the example folders and builds one target per folder (`contrast`: one target from two folders).
    ///
    /// - Parameters:
    ///   - folders: example folders (or files); each folder's name names its concept.
    ///   - kind: mean (the paper's), cosine, contrast, centred, probe or whitened.
    ///   - background: a folder of background images, needed by centred, probe and whitened.
    /// - Throws: `WorkbenchError` for a wrong combination, an empty folder, or a concept that cannot be built.
    public static func build(folders: [String], kind: Target.Kind, background: String?, embedder: ImageEmbedder,
                             warn: (String) -> Void = { _ in }) throws -> [Target] {
        guard !folders.isEmpty else { throw WorkbenchError.usage("give at least one --examples DIR (or a stored --concept NAME)") }
        if kind == .contrast && folders.count != 2 {
            throw WorkbenchError.usage("--kind contrast takes exactly two --examples folders (A, then B: \"A and not B\")")
        }
        if kind == .classLogit { throw WorkbenchError.usage("--kind class needs a trained head, not example folders") }
        let needsBackground: Set<Target.Kind> = [.centred, .probe, .whitened]
        if needsBackground.contains(kind) && background == nil {
            throw WorkbenchError.usage("--kind \(kind.rawValue) needs a background: add --background DIR (images that are not the concept)")
        }
        let examples = try folders.map { try embedFolder($0, embedder: embedder, warn: warn) }
        let backgroundEmbeddings = try background.map { try embedFolder($0, embedder: embedder, warn: warn) }
        let names = folders.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent }
        do {
            if kind == .contrast {
                return [try ConceptBuilder.contrast(name: "\(names[0])-not-\(names[1])", positives: examples[0], negatives: examples[1])]
            }
            return try zip(names, examples).map { name, ex in
                try ConceptBuilder.build(kind: kind, name: name, examples: ex, background: backgroundEmbeddings)
            }
        } catch let error as ConceptError {
            throw WorkbenchError.failed(error.description)
        }
    }

    /// The CLS embeddings of the images in a folder; bad files are skipped with a warning.
    /// - Throws: `WorkbenchError.failed` when the folder holds no usable image.
    static func embedFolder(_ path: String, embedder: ImageEmbedder, warn: (String) -> Void) throws -> [[Float]] {
        let files = try ImageInput.expand([path])
        var out: [[Float]] = []
        for (file, result) in zip(files, embedder.embed(files)) {
            switch result {
            case .success(let e): out.append(e.embedding)
            case .failure(let error): warn("warning: skipping \((error as? CustomStringConvertible)?.description ?? "\(file.path): \(error)")")
            }
        }
        guard !out.isEmpty else { throw WorkbenchError.failed("\(path): no usable example images") }
        return out
    }
}
