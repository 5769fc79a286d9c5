import Concepts
import Foundation
import Store

/// One ranked image of a search (INTERFACE.md, `search`).
public struct SearchHit: Codable, Sendable, Equatable {
    public var rank: Int
    public var image: String
    public var sha256: String
    public var score: Float
    /// The score's percentile among the searched images (100: above all of them).
    public var percentile: Double?
    /// True when the image is one of the concept's examples: its rank says nothing about the concept's
    /// quality (examples are left out unless asked for).
    public var example: Bool = false

    public init(rank: Int, image: String, sha256: String, score: Float, percentile: Double? = nil, example: Bool = false) {
        self.rank = rank; self.image = image; self.sha256 = sha256; self.score = score
        self.percentile = percentile; self.example = example
    }
}

/// The `search` document of INTERFACE.md.
public struct SearchOutput: Codable, Sendable, Equatable {
    public var model: String
    public var concept: String
    public var results: [SearchHit]
    /// How many of the concept's examples were among the searched images and left out of the ranking.
    public var excludedExamples: Int = 0
    /// What the user should know about these ranks (a concept fitted against the searched collection, ...).
    public var warnings: [String]?

    public init(model: String, concept: String, results: [SearchHit], excludedExamples: Int = 0, warnings: [String]? = nil) {
        self.model = model; self.concept = concept; self.results = results
        self.excludedExamples = excludedExamples; self.warnings = warnings
    }
}

/// Stored embeddings held in memory for repeated searches: loading is the slow part (one pass over
/// the database), each search afterwards is one pass over the N x D matrix (`ConceptBuilder.scores`) and a top-K selection.
/// Only the hits' paths and hashes are read back from the database.
public final class SearchIndex: @unchecked Sendable {
    /// The embeddings searched (N x D); its sha256s and paths are empty (labels are read per hit).
    public let matrix: EmbeddingMatrix
    private let store: Store
    private let collection: String?

    /// Loads the embeddings of one model and preprocessing (of one collection when given).
    /// - Throws: `StoreError` (unknown collection, database failure).
    public init(store: Store, modelID: Int64, preprocessingID: String, collection: String?) throws {
        self.store = store
        self.collection = collection
        matrix = try store.embeddingMatrix(modelID: modelID, preprocessingID: preprocessingID, collection: collection, withLabels: false)
    }

    /// The score of every row (Target.score semantics: linear, or cosine with a zero row scoring 0).
    /// - Throws: `WorkbenchError.failed` when the target's width is not the embeddings'.
    public func scores(_ target: Target) throws -> [Float] {
        let n = matrix.count, d = matrix.width
        guard n > 0 else { return [] }
        guard target.direction.count == d else {
            throw WorkbenchError.failed("concept '\(target.name)' has \(target.direction.count) numbers but the stored embeddings have \(d); they come from different models")
        }
        return ConceptBuilder.scores(target, embeddings: matrix.values, count: n)
    }

    /// The `top` best-scoring images for `target`, best first; ties keep the stored order.
    /// - Parameters:
    ///   - excluding: image ids left out of the ranking (a concept's examples).
    ///   - marking: image ids marked `example` in the hits.
    /// - Throws: `WorkbenchError.failed` when the target's width is not the embeddings'; `StoreError`.
    public func search(_ target: Target, top: Int, excluding: Set<Int64> = [], marking: Set<Int64> = []) throws -> [SearchHit] {
        var scores = try self.scores(target)
        let reference = ScoreReference(scores: scores, label: "searched images")
        if !excluding.isEmpty {
            for i in scores.indices where excluding.contains(matrix.imageIDs[i]) { scores[i] = .nan }
        }
        let best = topK(scores, top).filter { !scores[$0].isNaN || excluding.isEmpty }
        let labels = try store.labels(of: best.map { matrix.imageIDs[$0] }, collection: collection)
        return best.enumerated().map { rank, index in
            let label = labels[matrix.imageIDs[index]]
            return SearchHit(rank: rank + 1, image: label?.path ?? "", sha256: label?.sha256 ?? "", score: scores[index],
                             percentile: reference.percentile(of: scores[index]),
                             example: marking.contains(matrix.imageIDs[index]))
        }
    }

    /// How many of `ids` are among the searched rows.
    public func count(of ids: Set<Int64>) -> Int { matrix.imageIDs.filter { ids.contains($0) }.count }
}

/// Indices of the `k` largest scores, largest first, ties by lower index (NaN scores rank last).
func topK(_ scores: [Float], _ k: Int) -> [Int] {
    let k = min(max(0, k), scores.count)
    guard k > 0 else { return [] }
    func better(_ a: Int, _ b: Int) -> Bool {
        let sa = scores[a].isNaN ? -Float.infinity : scores[a], sb = scores[b].isNaN ? -Float.infinity : scores[b]
        return sa > sb || (sa == sb && a < b)
    }
    if k * 8 >= scores.count { return Array(scores.indices.sorted(by: better).prefix(k)) }
    // Kept sorted best-first. Rows come in index order, so a row tying the worst kept one loses the tie:
    // most rows cost one float comparison.
    var kept: [Int] = []
    kept.reserveCapacity(k + 1)
    var worst = -Float.infinity
    scores.withUnsafeBufferPointer { s in
        for i in 0..<s.count {
            if kept.count == k, !(s[i] > worst) { continue }
            if s[i].isNaN { continue }
            var lo = 0, hi = kept.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if better(kept[mid], i) { lo = mid + 1 } else { hi = mid }
            }
            kept.insert(i, at: lo)
            if kept.count > k { kept.removeLast() }
            worst = s[kept[kept.count - 1]]
        }
    }
    if kept.count < k {
        // Only NaN scores are left to fill with, in index order.
        kept += scores.indices.filter { scores[$0].isNaN }.prefix(k - kept.count)
    }
    return kept
}

/// Ranks stored images by a stored concept's score: one product over the embeddings of the concept's
/// model and preprocessing (of `collection` when given, else every stored image).
/// - Parameter modelName: the model whose concept to use; needed only when several models define `concept`.
/// - Throws: as `resolveConcept`; `WorkbenchError.failed` when nothing is stored to search; `StoreError`.
///
/// The concept's own examples are left out of the ranking (they would rank at the top and say nothing
/// about the concept) unless `includeExamples`, and then they are marked. A warning says when the
/// concept was fitted against the searched collection: its unlabelled positives were fitted as negatives.
public func searchConcept(_ concept: String, modelName: String? = nil, collection: String? = nil, top: Int = 10,
                          includeExamples: Bool = false, store: Store) throws -> SearchOutput {
    guard top > 0 else { throw WorkbenchError.usage("--top \(top): give a positive number of results") }
    let (record, model) = try resolveConcept(concept, modelName: modelName, store: store)
    if let collection { _ = try requireCollection(collection, store: store) }
    let index = try SearchIndex(store: store, modelID: model.id, preprocessingID: record.preprocessingID, collection: collection)
    if index.matrix.count == 0, let collection {
        let counts = try store.embeddingCounts(collection: collection)
        let other = counts.map { "\($0.count) for \($0.model) at \($0.preprocessing)" }.joined(separator: ", ")
        throw WorkbenchError.failed("collection '\(collection)' has no embeddings for model \(model.name) at \(record.preprocessingID) (the concept's)\(other.isEmpty ? "" : "; it has \(other)"); index it with `cdam index DIR --collection \(collection) --model \(model.name)\(BlockTag.option(of: record.preprocessingID))`")
    }
    let examples = try exampleImageIDs(of: record, store: store)
    let results = try index.search(try target(of: record, width: model.width), top: top, excluding: includeExamples ? [] : examples, marking: examples)
    return SearchOutput(model: model.name, concept: record.name, results: results,
                        excludedExamples: includeExamples ? 0 : index.count(of: examples),
                        warnings: backgroundWarnings(record, searched: collection))
}

/// The ids of a stored concept's positive examples.
func exampleImageIDs(of record: ConceptRecord, store: Store) throws -> Set<Int64> {
    let shas = try store.conceptExamples(conceptID: record.id).filter { $0.example.role == .positive }.map(\.example.sha256)
    return Set(try store.imageIDs(sha256s: shas).values)
}

/// Warnings for ranking `searched` (nil: every stored image) with a concept fitted against a collection.
func backgroundWarnings(_ record: ConceptRecord, searched: String?) -> [String]? {
    let kind = Target.Kind(rawValue: record.kind)
    guard kind != .mean, kind != .cosine else { return nil }
    let fitted = record.background.split(separator: "+").compactMap { part -> String? in
        part.hasPrefix("collection:") ? String(part.dropFirst("collection:".count)) : nil
    }
    guard let background = fitted.first, searched == nil || searched == background else { return nil }
    return ["concept '\(record.name)' was fitted against collection '\(background)', which is \(searched == nil ? "part of what you search" : "the collection you search"): its images of the concept that are not examples were fitted as negatives and rank too low. Redefine it with --exclude-similar K or a background without the concept, and measure with `cdam concept evaluate \(record.name) --positives DIR`"]
}

/// Timings of `benchmarkSearch` (seconds).
public struct SearchBenchmarkReport: Codable, Sendable {
    public var count: Int
    public var width: Int
    public var top: Int
    /// Time to create the synthetic rows (0 when the database already held them).
    public var populateSeconds: Double
    /// Opening the database and loading the N x D matrix: what a fresh process pays before its first search.
    public var loadSeconds: Double
    /// Resolving the concept, loading and searching, as `searchConcept` does in a fresh process (in-process).
    public var firstSearchSeconds: Double
    /// Searches on the loaded matrix: median and best of `repeats`.
    public var warmMedianSeconds: Double
    public var warmBestSeconds: Double
    public var repeats: Int
    public var databaseBytes: Int
}

/// Benchmarks search over `count` synthetic embeddings of width `width` stored in the database at `url`
/// (collection "bench", model "bench-synthetic", concept "bench"; created on the first run and reused).
/// A cold-process figure is `cdam search --db URL --concept bench --collection bench` timed from outside.
/// - Throws: `StoreError` on database failures.
public func benchmarkSearch(databaseURL url: URL, count: Int = 100_000, width: Int = 384, top: Int = 10,
                            repeats: Int = 20) throws -> SearchBenchmarkReport {
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    var store = try Store.open(at: url)
    let model = try store.upsertModel(ModelInfo(name: "bench-synthetic", weightsSHA256: String(repeating: "0", count: 64),
                                                width: width, patchSize: 14, preprocessing: #"{"synthetic":true}"#))
    let preprocessing = "synthetic"
    var populate = 0.0
    let existing = try store.collection(named: "bench")?.imageCount ?? 0
    if existing < count {
        populate = seconds(try clock.measure {
            var rng = SystemRandomNumberGenerator()
            var start = existing
            while start < count {
                let end = min(start + 5000, count)
                let batch = (start..<end).map { i -> NewEmbeddedImage in
                    let sha = ImageFiles.sha256(Data("bench-\(i)".utf8))
                    let v = (0..<width).map { _ in Float.random(in: -1...1, using: &rng) }
                    return NewEmbeddedImage(sha256: sha, byteSize: 0, format: "synthetic", height: 224, width: 224,
                                            path: "/synthetic/\(i).jpg", embedding: v)
                }
                try store.saveEmbeddedImages(batch, modelID: model.id, preprocessingID: preprocessing, collection: "bench")
                start = end
            }
            let direction = (0..<width).map { Float(sin(Double($0))) }
            try store.saveConcept(ConceptRecord(name: "bench", modelID: model.id, kind: "mean", description: "synthetic benchmark concept",
                                                direction: direction, preprocessingID: preprocessing), examples: [])
        })
    }
    store = try Store.open(at: url)
    var index: SearchIndex?
    let load = seconds(try clock.measure {
        let reopened = try Store.open(at: url)
        index = try SearchIndex(store: reopened, modelID: model.id, preprocessingID: preprocessing, collection: "bench")
    })
    let first = seconds(try clock.measure { _ = try searchConcept("bench", collection: "bench", top: top, store: store) })
    let target = try target(of: try store.concept(named: "bench", modelID: model.id)!)
    var warm: [Double] = []
    for _ in 0..<max(1, repeats) {
        warm.append(seconds(try clock.measure { _ = try index!.search(target, top: top) }))
    }
    warm.sort()
    let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    return SearchBenchmarkReport(count: index!.matrix.count, width: width, top: top, populateSeconds: populate,
                                 loadSeconds: load, firstSearchSeconds: first, warmMedianSeconds: warm[warm.count / 2],
                                 warmBestSeconds: warm[0], repeats: warm.count, databaseBytes: bytes)
}
