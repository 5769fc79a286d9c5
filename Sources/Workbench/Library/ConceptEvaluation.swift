import Concepts
import Foundation
import Store

/// A stored concept judged again, against the background it was defined with or another collection.
public struct ConceptEvaluation: Codable, Sendable {
    public var concept: String
    public var model: String
    public var kind: String
    /// "stored negatives" or "collection:NAME".
    public var background: String
    public var quality: ConceptQuality
}

/// Recomputes a stored concept's quality figures (coherence, leave-one-out ranks, AUC, significance
/// against R random concepts) from its stored example embeddings, without changing the concept.
/// - Parameter collection: rank against this collection's images (the examples excluded) instead of the
///   background stored with the concept.
/// - Throws: `WorkbenchError` for an unknown concept or a collection without embeddings for its model;
///   `StoreError` on database failures.
public func evaluateConcept(_ name: String, modelName: String? = nil, collection: String? = nil,
                            randomConcepts: Int = 50, store: Store) throws -> ConceptEvaluation {
    let (record, model) = try resolveConcept(name, modelName: modelName, store: store)
    let kind = try target(of: record).kind
    let examples = try store.conceptExamples(conceptID: record.id)
    let positives = examples.filter { $0.example.role == .positive }.map(\.example.sha256)
    let stored = try store.embeddings(for: examples.map(\.example.sha256), modelID: model.id, preprocessingID: record.preprocessingID)
    let exampleEmbeddings = positives.compactMap { stored[$0] }
    var background: [[Float]] = []
    let described: String
    if let collection {
        let matrix = try store.embeddingMatrix(modelID: model.id, preprocessingID: record.preprocessingID, collection: collection)
        guard matrix.count > 0 else {
            throw WorkbenchError.failed("collection '\(collection)' has no embeddings for model \(model.name) at \(record.preprocessingID); index it with `cdam index DIR --collection \(collection)`")
        }
        let own = Set(positives)
        for row in 0..<matrix.count where !own.contains(matrix.sha256s[row]) {
            background.append(Array(matrix.values[(row * matrix.width)..<((row + 1) * matrix.width)]))
        }
        described = "collection:\(collection)"
    } else {
        background = examples.filter { $0.example.role != .positive }.compactMap { stored[$0.example.sha256] }
        described = "stored negatives"
    }
    let quality = ConceptQuality.evaluate(kind: kind, examples: exampleEmbeddings, background: background.isEmpty ? nil : background,
                                          randomConcepts: randomConcepts, name: record.name)
    return ConceptEvaluation(concept: record.name, model: model.name, kind: record.kind, background: described, quality: quality)
}
