import Foundation

/// A model as the store knows it: embeddings and concepts hang off it.
public struct ModelRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// sha256 of the weights: the model's true identity.
    public var weightsSHA256: String
    /// Embedding width D.
    public var width: Int
    public var patchSize: Int
    /// JSON describing the preprocessing the model was registered with.
    public var preprocessing: String
    public var createdAt: String
}

/// What `Store.upsertModel` needs to register a model.
public struct ModelInfo: Sendable, Equatable {
    public var name: String
    public var weightsSHA256: String
    public var width: Int
    public var patchSize: Int
    public var preprocessing: String

    public init(name: String, weightsSHA256: String, width: Int, patchSize: Int, preprocessing: String = "{}") {
        self.name = name; self.weightsSHA256 = weightsSHA256
        self.width = width; self.patchSize = patchSize; self.preprocessing = preprocessing
    }
}

/// A stored image: its content identity and the paths it was seen at.
public struct ImageRecord: Sendable, Equatable {
    public var id: Int64
    public var sha256: String
    public var byteSize: Int
    public var format: String
    public var height: Int
    public var width: Int
    /// Paths it was seen at, most recently seen first.
    public var paths: [String]
}

/// An image with its embedding, ready to be stored.
public struct NewEmbeddedImage: Sendable, Equatable {
    public var sha256: String
    public var byteSize: Int
    public var format: String
    public var height: Int
    public var width: Int
    /// Where it was read from (absolute path).
    public var path: String
    /// The CLS embedding (D numbers).
    public var embedding: [Float]

    public init(sha256: String, byteSize: Int, format: String, height: Int, width: Int, path: String, embedding: [Float]) {
        self.sha256 = sha256; self.byteSize = byteSize; self.format = format
        self.height = height; self.width = width; self.path = path; self.embedding = embedding
    }
}

/// An already-stored image seen again at a path.
public struct ImageSighting: Sendable, Equatable {
    public var sha256: String
    public var path: String

    public init(sha256: String, path: String) { self.sha256 = sha256; self.path = path }
}

/// All embeddings of one model and preprocessing (optionally of one collection), as one matrix.
public struct EmbeddingMatrix: Sendable {
    public var imageIDs: [Int64]
    public var sha256s: [String]
    /// One path per row: the collection's path when a collection was asked for, else the most recently seen one.
    public var paths: [String]
    /// Embedding width D.
    public var width: Int
    /// count x width floats, row-major.
    public var values: [Float]

    /// Number of rows.
    public var count: Int { imageIDs.count }

    public init(imageIDs: [Int64], sha256s: [String], paths: [String], width: Int, values: [Float]) {
        self.imageIDs = imageIDs; self.sha256s = sha256s; self.paths = paths
        self.width = width; self.values = values
    }
}

/// The part an image plays in a concept's definition.
public enum ExampleRole: String, Sendable, Codable, CaseIterable {
    case positive, negative, background
}

/// One image of a concept's definition, by content hash.
public struct ConceptExample: Sendable, Equatable, Hashable {
    public var sha256: String
    public var role: ExampleRole

    public init(sha256: String, role: ExampleRole) { self.sha256 = sha256; self.role = role }
}

/// A stored concept: the target's numbers plus where they came from.
public struct ConceptRecord: Sendable, Equatable {
    /// 0 until stored.
    public var id: Int64
    public var name: String
    public var modelID: Int64
    /// The target kind's raw value (mean, cosine, centred, probe, whitened, ...).
    public var kind: String
    public var description: String
    /// The direction w (D numbers).
    public var direction: [Float]
    public var bias: Float
    /// The preprocessing its examples were embedded with.
    public var preprocessingID: String
    /// What served as background: "collection:NAME", "negatives:DIR" or "none".
    public var background: String
    /// JSON: the definition (sources, file, options).
    public var definition: String
    /// JSON: the quality figures measured at definition time.
    public var quality: String
    /// A hash of the definition and of its examples' contents: unchanged means no need to redefine.
    public var fingerprint: String
    public var createdAt: String
    public var updatedAt: String

    public init(id: Int64 = 0, name: String, modelID: Int64, kind: String, description: String = "",
                direction: [Float], bias: Float = 0, preprocessingID: String, background: String = "none",
                definition: String = "{}", quality: String = "{}", fingerprint: String = "",
                createdAt: String = "", updatedAt: String = "") {
        self.id = id; self.name = name; self.modelID = modelID; self.kind = kind
        self.description = description; self.direction = direction; self.bias = bias
        self.preprocessingID = preprocessingID; self.background = background
        self.definition = definition; self.quality = quality; self.fingerprint = fingerprint
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// A collection and how many images it holds.
public struct CollectionSummary: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var createdAt: String
    public var imageCount: Int
}

/// One image of a collection.
public struct CollectionMember: Sendable, Equatable, Codable {
    public var sha256: String
    public var path: String
    public var format: String
    public var height: Int
    public var width: Int
    public var addedAt: String
}

/// What `Store.prune` forgot.
public struct PruneSummary: Sendable, Equatable, Codable {
    /// Recorded paths whose file no longer exists.
    public var pathsForgotten = 0
    /// Collection memberships dropped because the image's file is gone from every recorded path.
    public var membershipsForgotten = 0
    /// Images (with their embeddings) forgotten: no file, no collection and no concept uses them.
    public var imagesForgotten = 0
    /// Images whose files are gone but that concepts still use: their embeddings stay.
    public var imagesKeptForConcepts = 0

    public init() {}
}

/// How many embeddings of one model and preprocessing a collection has.
public struct EmbeddingCount: Sendable, Equatable, Codable {
    public var model: String
    public var preprocessing: String
    public var count: Int

    public init(model: String, preprocessing: String, count: Int) {
        self.model = model; self.preprocessing = preprocessing; self.count = count
    }
}
