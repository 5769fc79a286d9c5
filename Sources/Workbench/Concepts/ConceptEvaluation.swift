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
    /// What the figures say, in one line.
    public var verdict: ConceptVerdict
    /// The examples' file names, in the order of `quality.leaveOneOutRanks`.
    public var exampleNames: [String]
    /// With held-out positives: how the stored concept ranks images of the concept it never saw.
    public var heldOut: HeldOutFigures?
    public var warnings: [String]?
    /// Held-out files that could not be used.
    public var errors: [FileFailure]?
    /// With `--layer auto`: the concept's definition measured again at each candidate block.
    public var layerChoice: LayerChoice? = nil
}

/// `concept evaluate --layer auto`: the stored concept's definition (its example and negative files, its
/// background collection, its kind) measured again, not stored, at each of `embedders`' blocks by
/// leave-one-out AUC, as `concept define --layer auto` chooses; the block it would choose, and why.
/// A background collection must be indexed at each block (`cdam index DIR --collection C --layer L`);
/// a block where it is not is reported with the problem.
/// - Throws: `WorkbenchError` for an unknown concept or one whose stored definition cannot be read.
public func measureStoredConceptLayers(_ name: String, modelName: String? = nil, embedders: [ModelEmbedder], store: Store,
                                       progress: ((LibraryProgress) -> Void)? = nil) throws -> LayerChoice {
    let (record, _) = try resolveConcept(name, modelName: modelName, store: store)
    guard let definition = try? JSONDecoder().decode(ConceptDefinition.self, from: Data(record.definition.utf8)),
          !definition.examples.isEmpty else {
        throw WorkbenchError.failed("concept '\(record.name)': its stored definition names no example files (imported?), so it cannot be measured at other blocks; define it again with --layer auto")
    }
    var measured = definition
    measured.name = record.name
    measured.randomConcepts = 0   // the AUC decides; the significance test is not needed per block
    return try measureLayers(measured, embedders: embedders, store: store, replace: true, progress: progress).choice
}

/// The stored concept, as it is, scoring positives that were not among its examples against the background.
public struct HeldOutFigures: Codable, Sendable, Equatable {
    /// Held-out positives used (examples among them are left out).
    public var positives: Int
    /// Background images they are ranked against (examples and held-out positives excluded).
    public var backgroundCount: Int
    /// Probability that a held-out positive outscores a background image (ties count one half).
    public var auc: Double
    /// Share of held-out positives among the 10 best-scoring of positives and background together.
    public var precisionAt10: Double
    /// What precision@10 a random ranking would give: positives / (positives + background).
    public var chancePrecision: Double
    /// Each held-out positive's rank among the background (1 = above all), with its file name, best first.
    public var ranks: [HeldOutRank]

    public struct HeldOutRank: Codable, Sendable, Equatable {
        public var image: String
        public var rank: Int
        public var score: Float
    }
}

/// Recomputes a stored concept's quality figures (coherence, leave-one-out ranks, AUC, significance
/// against R random concepts) from its stored example embeddings, without changing the concept.
///
/// With `positives` (held-out images of the concept, embedded once and cached by content hash), it also
/// measures the stored concept itself on them: AUC against the background and precision@10. These are
/// the figures to trust when the concept was fitted against an unlabelled collection: leave-one-out
/// figures cannot see unlabelled examples in the background, held-out positives can.
/// - Parameter collection: rank against this collection's images (the examples excluded) instead of the
///   background stored with the concept.
/// - Throws: `WorkbenchError` for an unknown concept, a collection without embeddings for its model, held-out
///   positives without an embedder of the concept's model and preprocessing, or none readable; `StoreError`.
public func evaluateConcept(_ name: String, modelName: String? = nil, collection: String? = nil,
                            randomConcepts: Int = 50, positives heldOutSources: [String] = [],
                            embedder: ImageEmbedder? = nil, store: Store,
                            progress: ((LibraryProgress) -> Void)? = nil) throws -> ConceptEvaluation {
    try Limits.checkRandomConcepts(randomConcepts)
    let (record, model) = try resolveConcept(name, modelName: modelName, store: store)
    let conceptTarget = try target(of: record, width: model.width)
    let kind = conceptTarget.kind
    let examples = try store.conceptExamples(conceptID: record.id)
    let positives = examples.filter { $0.example.role == .positive }.map(\.example.sha256)
    let stored = try store.embeddings(for: examples.map(\.example.sha256), modelID: model.id, preprocessingID: record.preprocessingID)
    let exampleEmbeddings = positives.compactMap { stored[$0] }
    let exampleNames = examples.filter { $0.example.role == .positive }
        .map { $0.path.map { URL(fileURLWithPath: $0).lastPathComponent } ?? String($0.example.sha256.prefix(12)) }
    var background: [(sha256: String, vector: [Float])] = []
    let described: String
    if let collection {
        _ = try requireCollection(collection, store: store)
        let matrix = try store.embeddingMatrix(modelID: model.id, preprocessingID: record.preprocessingID, collection: collection)
        guard matrix.count > 0 else {
            throw WorkbenchError.failed("collection '\(collection)' has no embeddings for model \(model.name) at \(record.preprocessingID); index it with `cdam index DIR --collection \(collection)\(BlockTag.option(of: record.preprocessingID))`")
        }
        let own = Set(positives)
        for row in 0..<matrix.count where !own.contains(matrix.sha256s[row]) {
            background.append((matrix.sha256s[row], Array(matrix.values[(row * matrix.width)..<((row + 1) * matrix.width)])))
        }
        described = "collection:\(collection)"
    } else {
        background = examples.filter { $0.example.role != .positive }.compactMap { e in stored[e.example.sha256].map { (e.example.sha256, $0) } }
        described = "stored negatives"
    }

    // Held-out positives: embedded at the concept's preprocessing, never examples, never background.
    var heldOut: HeldOutFigures? = nil
    var warnings: [String] = []
    var failures: [FileFailure] = []
    if !heldOutSources.isEmpty {
        guard let embedder else { throw WorkbenchError.usage("held-out positives need the model to embed them") }
        guard embedder.modelSHA256 == model.weightsSHA256, embedder.preprocessingID == record.preprocessingID else {
            throw WorkbenchError.usage("concept '\(record.name)' was defined with \(model.name) at \(record.preprocessingID); embed the held-out positives the same way (--model \(model.name), and --size/--crop as the concept's)")
        }
        let files = unique(try heldOutSources.flatMap { try ImageFiles.expand($0, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) })
        let embedded = try ensureEmbedded(files, embedder: embedder, store: store, model: model, collection: nil,
                                          batchSize: 8, keepEmbeddings: true, progress: progress)
        failures = embedded.failures
        let exampleSet = Set(positives)
        var seen = Set<String>()
        var held: [(name: String, sha256: String, vector: [Float])] = []
        var asExamples = 0
        for (url, sha) in embedded.sha256ByFile where seen.insert(sha).inserted {
            if exampleSet.contains(sha) { asExamples += 1; continue }
            if let v = embedded.embeddings[sha] { held.append((url.lastPathComponent, sha, v)) }
        }
        if asExamples > 0 { warnings.append("\(asExamples) held-out image\(asExamples == 1 ? " is an example" : "s are examples") of the concept and \(asExamples == 1 ? "was" : "were") left out") }
        guard !held.isEmpty else {
            throw WorkbenchError.failed("no held-out positive could be used from \(heldOutSources.joined(separator: ", "))\(failures.first.map { "; first error: \($0.error)" } ?? "")")
        }
        let heldSet = Set(held.map(\.sha256))
        let fitted = background.filter { heldSet.contains($0.sha256) }.count
        if fitted > 0 {
            warnings.append("\(fitted) held-out positive\(fitted == 1 ? " is" : "s are") in the background the figures rank against\(collection == nil ? ", so the concept was fitted against \(fitted == 1 ? "it" : "them") as negatives" : "") (left out of the background here)")
        }
        let negatives = background.filter { !heldSet.contains($0.sha256) }
        let positiveScores = held.map { conceptTarget.score($0.vector) }
        let negativeScores = negatives.map { conceptTarget.score($0.vector) }
        if let auc = ConceptBuilder.auc(positives: positiveScores, negatives: negativeScores) {
            let all = positiveScores.map { ($0, true) } + negativeScores.map { ($0, false) }
            let top = all.sorted { $0.0 > $1.0 }.prefix(10)
            let ranks = zip(held, positiveScores).map { h, s in
                HeldOutFigures.HeldOutRank(image: h.name, rank: 1 + negativeScores.filter { $0 > s }.count, score: s)
            }.sorted { $0.rank < $1.rank }
            heldOut = HeldOutFigures(positives: held.count, backgroundCount: negatives.count, auc: auc,
                                     precisionAt10: Double(top.filter(\.1).count) / Double(top.count),
                                     chancePrecision: Double(held.count) / Double(held.count + negatives.count), ranks: ranks)
        } else {
            warnings.append("no background to rank the held-out positives against")
        }
    }

    let contrastNegatives = kind == .contrast
        ? examples.filter { $0.example.role == .negative }.compactMap { stored[$0.example.sha256] } : []
    let quality = ConceptQuality.evaluate(kind: kind, examples: exampleEmbeddings,
                                          background: background.isEmpty ? nil : background.map(\.vector),
                                          randomConcepts: randomConcepts, name: record.name,
                                          contrastNegatives: contrastNegatives.isEmpty ? nil : contrastNegatives)
    return ConceptEvaluation(concept: record.name, model: model.name, kind: record.kind, background: described, quality: quality,
                             verdict: quality.verdict(exampleNames: exampleNames), exampleNames: exampleNames,
                             heldOut: heldOut, warnings: warnings.isEmpty ? nil : warnings,
                             errors: failures.isEmpty ? nil : failures)
}
