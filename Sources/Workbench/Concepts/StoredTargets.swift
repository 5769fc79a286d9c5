import Concepts
import Store

/// Targets from stored concepts, with what their scores are compared with.
public struct StoredTargets: Sendable {
    public var targets: [Target]
    /// Per target: the scores of its reference images (the concept's background and negatives, or the
    /// `collection` given), for percentiles; nil when there is none.
    public var references: [ScoreReference?]
    /// Per target: random concepts of its kind, for per-patch significance (empty when not asked for, or
    /// for a contrast of two concepts).
    public var randomTargets: [[Target]]
    /// Concepts that could not be used, one line each.
    public var errors: [String]
}

/// Targets from stored concepts for `query`: names, `all`, and "A,B" contrasts.
///
/// A concept that cannot be used (unknown, or made with another model) is reported and skipped, so the
/// others still run; the caller exits 3 when any was skipped.
/// - Parameter collection: score percentiles against this collection instead of each concept's background.
/// - Parameter randomConcepts: R random concepts per concept for per-patch significance (0: none), built from
///   its stored background as its significance test builds them.
/// - Throws: `StoreError` on database failures (an unknown collection among them).
public func storedTargets(names: [String], contrasts: [String], modelName: String, collection: String? = nil,
                          randomConcepts: Int = 0, store: Store) throws -> StoredTargets {
    try Limits.checkRandomConcepts(randomConcepts)
    var out = StoredTargets(targets: [], references: [], randomTargets: [], errors: [])
    // Per target, the records whose background images form its reference.
    var sources: [[ConceptRecord]] = []
    func lookup(_ name: String) -> (Target, ConceptRecord)? {
        do {
            let (record, model) = try resolveConcept(name, modelName: modelName, store: store)
            return (try target(of: record, width: model.width), record)
        } catch {
            out.errors.append(String(describing: error))
            return nil
        }
    }
    for name in names {
        if name == "all" {
            guard let model = try store.model(named: modelName) else {
                out.errors.append("no concepts are stored for model \(modelName) (see `cdam concept list`)")
                continue
            }
            let all = try store.concepts(modelID: model.id)
            if all.isEmpty { out.errors.append("no concepts are stored for model \(modelName); define one with `cdam concept define`") }
            for record in all {
                do {
                    out.targets.append(try target(of: record, width: model.width))
                    sources.append([record])
                } catch {
                    out.errors.append(String(describing: error))
                }
            }
        } else if let (t, record) = lookup(name) {
            out.targets.append(t)
            sources.append([record])
        }
    }
    for pair in contrasts {
        let parts = pair.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else {
            out.errors.append("--contrast \(pair): expected two concept names, A,B")
            continue
        }
        guard let (a, ra) = lookup(parts[0]), let (b, rb) = lookup(parts[1]) else { continue }
        guard !a.isCosine, !b.isCosine, a.direction.count == b.direction.count else {
            out.errors.append("--contrast \(pair): cosine concepts have no linear difference; use mean, centred, probe or whitened concepts")
            continue
        }
        guard a.block == b.block else {
            out.errors.append("--contrast \(pair): '\(a.name)' is defined at \(BlockTag.describe(a.block)) and '\(b.name)' at \(BlockTag.describe(b.block)); a difference needs one block (define both with the same --layer)")
            continue
        }
        // f_A - f_B is linear again: direction w_A - w_B, offset b_A - b_B.
        out.targets.append(Target(name: "\(a.name)-not-\(b.name)", kind: .contrast,
                                  direction: zip(a.direction, b.direction).map { $0 - $1 }, bias: a.bias - b.bias, block: a.block))
        sources.append([ra, rb])
    }
    out.references = try scoreReferences(out.targets, sources: sources, modelName: modelName, collection: collection, store: store)
    out.randomTargets = try zip(out.targets, sources).map { target, records -> [Target] in
        guard randomConcepts > 0, records.count == 1, let model = try store.model(named: modelName) else { return [] }
        let examples = try store.conceptExamples(conceptID: records[0].id)
        let background = try store.embeddings(for: examples.filter { $0.example.role != .positive }.map(\.example.sha256),
                                              modelID: model.id, preprocessingID: records[0].preprocessingID)
        let n = examples.filter { $0.example.role == .positive }.count
        return ConceptBuilder.randomConcepts(kind: target.kind, exampleCount: n,
                                             background: background.keys.sorted().compactMap { background[$0] },
                                             count: randomConcepts, seed: 0)
    }
    return out
}

/// The reference scores of each target: the collection's images when given, else the background and
/// negatives stored with its concept(s), at the concept's preprocessing.
func scoreReferences(_ targets: [Target], sources: [[ConceptRecord]], modelName: String, collection: String?,
                     store: Store) throws -> [ScoreReference?] {
    guard let model = try store.model(named: modelName) else { return targets.map { _ in nil } }
    var matrices: [String: EmbeddingMatrix] = [:]
    return try zip(targets, sources).map { target, records -> ScoreReference? in
        guard let first = records.first else { return nil }
        if let collection {
            let matrix = try matrices[first.preprocessingID] ?? store.embeddingMatrix(
                modelID: model.id, preprocessingID: first.preprocessingID, collection: collection, withLabels: false)
            matrices[first.preprocessingID] = matrix
            guard matrix.count > 0, matrix.width == target.direction.count else { return nil }
            return ScoreReference(scores: ConceptBuilder.scores(target, embeddings: matrix.values, count: matrix.count),
                                  label: "collection '\(collection)' (\(matrix.count) images)")
        }
        var shas: [String] = []
        for record in records {
            shas += try store.conceptExamples(conceptID: record.id).filter { $0.example.role != .positive }.map(\.example.sha256)
        }
        let vectors = try store.embeddings(for: Array(Set(shas)), modelID: model.id, preprocessingID: first.preprocessingID)
            .values.filter { $0.count == target.direction.count }
        guard !vectors.isEmpty else { return nil }
        return ScoreReference(scores: vectors.map(target.score), label: "the concept's background (\(vectors.count) images)")
    }
}
