import Foundation

/// One image, embedded: where it came from and its CLS embedding.
public struct EmbeddedImage: Sendable {
    /// The file as given by the user.
    public var url: URL
    /// sha256 of the file's bytes (lowercase hex): the image's identity in the store.
    public var sha256: String
    /// "jpeg", "png" or "webp", as sniffed from the content.
    public var format: String
    /// The decoded image's size before preprocessing.
    public var height: Int
    public var width: Int
    /// The CLS embedding (D numbers).
    public var embedding: [Float]

    public init(url: URL, sha256: String, format: String, height: Int, width: Int, embedding: [Float]) {
        self.url = url; self.sha256 = sha256; self.format = format
        self.height = height; self.width = width; self.embedding = embedding
    }
}

/// Turns image files into CLS embeddings with one model and one preprocessing.
///
/// The real one decodes, preprocesses and runs the ViT; tests use a fake with the same contract.
public protocol ImageEmbedder: AnyObject {
    /// The model's name in the home (e.g. "dinov2-small-imgfocus").
    var modelName: String { get }
    /// sha256 of the model's weights file: embeddings and concepts are tied to it.
    var modelSHA256: String { get }
    /// Embedding width D.
    var width: Int { get }
    /// Patch size of the model.
    var patchSize: Int { get }
    /// A stable id of the preprocessing, stored with each embedding (e.g. "pil-bicubic-224x224").
    var preprocessingID: String { get }
    /// A JSON description of the preprocessing, stored with the model record.
    var preprocessingDescription: String { get }

    /// Embeds a batch of files; one result per file, in order. A bad file fails alone.
    func embed(_ files: [URL]) -> [Result<EmbeddedImage, Error>]
}

/// Which block's CLS a stored vector is, written into the id stored with embeddings and concepts.
///
/// The id of an embedding says how its vector was computed: the preprocessing ("pil-bicubic-224x224")
/// and, for the CLS of an earlier block, "@blockL" ("pil-bicubic-224x224@block11"). Vectors of the last
/// block keep the bare preprocessing id, so every database written before layers existed stays valid.
public enum BlockTag {
    /// The stored id for `preprocessing` at `block` (nil: the last block).
    public static func id(_ preprocessing: String, block: Int?) -> String {
        block.map { "\(preprocessing)@block\($0)" } ?? preprocessing
    }

    /// The block an id names (nil: the last block).
    public static func block(of id: String) -> Int? {
        guard let at = id.range(of: "@block", options: .backwards) else { return nil }
        return Int(id[at.upperBound...])
    }

    /// The preprocessing part of an id.
    public static func preprocessing(of id: String) -> String {
        id.range(of: "@block", options: .backwards).map { String(id[..<$0.lowerBound]) } ?? id
    }

    /// " --layer 11" for an id of block 11, "" for the last block: what `cdam index` needs to match the id.
    public static func option(of id: String) -> String {
        block(of: id).map { " --layer \($0)" } ?? ""
    }

    /// "block 11" or "the last block", for messages.
    public static func describe(_ block: Int?) -> String {
        block.map { "block \($0)" } ?? "the last block"
    }
}
