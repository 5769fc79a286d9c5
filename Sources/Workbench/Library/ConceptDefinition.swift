import Concepts
import Foundation
import Store

/// What a concept is made from: example images, optional negatives and background, and options.
/// It is stored as JSON with the concept (its provenance) and read from `concepts/*.concept` files.
public struct ConceptDefinition: Codable, Sendable, Equatable {
    public var name: String
    public var description: String
    public var kind: Target.Kind
    /// Example sources: folders (recursive), files or globs; relative ones are relative to `base`.
    public var examples: [String]
    /// Negative sources, same forms; they join the background.
    public var negatives: [String]
    /// A stored collection whose images serve as background.
    public var background: String?
    /// Random concepts of the significance test (R).
    public var randomConcepts: Int
    /// The folder relative sources are resolved against.
    public var base: String
    /// The concept file this came from, if any.
    public var file: String?

    public init(name: String, description: String = "", kind: Target.Kind = .mean, examples: [String],
                negatives: [String] = [], background: String? = nil, randomConcepts: Int = 50,
                base: String = FileManager.default.currentDirectoryPath, file: String? = nil) {
        self.name = name; self.description = description; self.kind = kind; self.examples = examples
        self.negatives = negatives; self.background = background; self.randomConcepts = randomConcepts
        self.base = base; self.file = file
    }

    /// Kinds whose target is defined against a background set.
    public static let kindsNeedingBackground: Set<Target.Kind> = [.contrast, .centred, .probe, .whitened]
}

/// A stored concept as the CLI shows it.
public struct ConceptSummary: Codable, Sendable, Equatable {
    public var name: String
    public var model: String
    public var modelSHA256: String
    public var kind: String
    public var description: String
    public var preprocessing: String
    /// "collection:NAME", "negatives", "collection:NAME+negatives" or "none".
    public var background: String
    public var examples: Int
    public var negatives: Int
    public var backgroundImages: Int
    public var quality: ConceptQuality?
    public var createdAt: String
    public var updatedAt: String
    /// "defined", "unchanged" (sync found nothing new) or "imported".
    public var status: String?
    /// Example files that could not be used.
    public var errors: [FileFailure]?

    /// 0 when everything was used, 3 when some example files failed.
    public var exitCode: Int32 { (errors ?? []).isEmpty ? 0 : 3 }
}

/// Defines (or redefines, atomically) a concept from example images with `embedder`'s model.
///
/// Examples and negatives are embedded once and cached in the store by content hash; the background
/// is the negatives plus the named collection's stored embeddings (examples excluded). The target is
/// built with `ConceptBuilder`, judged with `ConceptQuality.evaluate` (R random concepts, seed 0), and
/// stored with its examples and provenance in one transaction.
/// - Parameter onlyIfChanged: skip the work when the stored concept's fingerprint (definition and
///   example contents) is unchanged (what `concept sync` does).
/// - Throws: `WorkbenchError.usage` for a kind that needs a background when none is given;
///   `WorkbenchError.failed` when no example can be read or embedded, when the background collection has
///   no embeddings for this model, or when the builder refuses the data; `StoreError` on database failures.
public func defineConcept(_ definition: ConceptDefinition, embedder: ImageEmbedder, store: Store,
                          onlyIfChanged: Bool = false, batchSize: Int = 8,
                          progress: ((LibraryProgress) -> Void)? = nil) throws -> ConceptSummary {
    let name = definition.name
    guard !name.isEmpty, !name.contains(where: { $0.isNewline }) else {
        throw WorkbenchError.usage("a concept needs a one-line, non-empty name")
    }
    if definition.kind == .classLogit {
        throw WorkbenchError.usage("concept '\(name)': kind 'class' is a trained head, not an example concept; use mean, cosine, contrast, centred, probe or whitened")
    }
    if ConceptDefinition.kindsNeedingBackground.contains(definition.kind), definition.negatives.isEmpty, definition.background == nil {
        throw WorkbenchError.usage("concept '\(name)': kind '\(definition.kind.rawValue)' needs a background: add --background COLLECTION or --negatives DIR (or use --kind mean)")
    }
    guard !definition.examples.isEmpty else {
        throw WorkbenchError.usage("concept '\(name)': give example images with --examples DIR")
    }
    let base = URL(fileURLWithPath: definition.base)
    let positiveFiles = try unique(definition.examples.flatMap { try ImageFiles.expand($0, relativeTo: base) })
    guard !positiveFiles.isEmpty else {
        throw WorkbenchError.failed("concept '\(name)': no image files in \(definition.examples.joined(separator: ", "))")
    }
    let negativeFiles = try unique(definition.negatives.flatMap { try ImageFiles.expand($0, relativeTo: base) })
    let model = try store.register(embedder)
    let preprocessing = embedder.preprocessingID

    let positives = try ensureEmbedded(positiveFiles, embedder: embedder, store: store, model: model, collection: nil,
                                       batchSize: batchSize, keepEmbeddings: true, progress: progress)
    let negatives = try ensureEmbedded(negativeFiles, embedder: embedder, store: store, model: model, collection: nil,
                                       batchSize: batchSize, keepEmbeddings: true, progress: progress)
    let failures = positives.failures + negatives.failures
    let positiveSHAs = orderedUnique(positives.sha256ByFile.map(\.sha256)).filter { positives.embeddings[$0] != nil }
    guard !positiveSHAs.isEmpty else {
        throw WorkbenchError.failed(failures.first.map { "concept '\(name)': no example could be embedded; first error: \($0.error)" }
                                    ?? "concept '\(name)': no example could be embedded")
    }
    let positiveSet = Set(positiveSHAs)
    let negativeSHAs = orderedUnique(negatives.sha256ByFile.map(\.sha256)).filter { !positiveSet.contains($0) && negatives.embeddings[$0] != nil }
    var backgroundSHAs: [String] = []
    var backgroundVectors: [[Float]] = negativeSHAs.map { negatives.embeddings[$0]! }
    if let collection = definition.background {
        let matrix = try store.embeddingMatrix(modelID: model.id, preprocessingID: preprocessing, collection: collection)
        guard matrix.count > 0 else {
            throw WorkbenchError.failed("concept '\(name)': collection '\(collection)' has no embeddings for model \(model.name) at \(preprocessing); run `cdam index DIR --collection \(collection)` with the same --model and --size")
        }
        let taken = positiveSet.union(negativeSHAs)
        for row in 0..<matrix.count where !taken.contains(matrix.sha256s[row]) {
            backgroundSHAs.append(matrix.sha256s[row])
            backgroundVectors.append(Array(matrix.values[(row * matrix.width)..<((row + 1) * matrix.width)]))
        }
    }
    let fingerprint = conceptFingerprint(definition, model: model, preprocessing: preprocessing,
                                         positives: positiveSHAs, negatives: negativeSHAs, background: backgroundSHAs)
    let backgroundLabel = [definition.background.map { "collection:\($0)" }, negativeSHAs.isEmpty ? nil : "negatives"]
        .compactMap { $0 }.joined(separator: "+")

    if onlyIfChanged, let existing = try? store.concept(named: name, modelID: model.id), existing.fingerprint == fingerprint {
        var summary = try summarize(existing, model: model, store: store)
        summary.status = "unchanged"
        summary.errors = failures
        return summary
    }

    let examples = positiveSHAs.map { positives.embeddings[$0]! }
    let target: Target
    do {
        target = try ConceptBuilder.build(kind: definition.kind, name: name, examples: examples,
                                          background: backgroundVectors.isEmpty ? nil : backgroundVectors)
    } catch let error as ConceptError {
        if case .needsBackground = error { throw WorkbenchError.usage(error.description) }
        throw WorkbenchError.failed(error.description)
    }
    progress?(LibraryProgress(phase: "evaluating", done: 0, total: 1))
    let quality = ConceptQuality.evaluate(kind: definition.kind, examples: examples,
                                          background: backgroundVectors.isEmpty ? nil : backgroundVectors,
                                          randomConcepts: max(0, definition.randomConcepts), seed: 0)
    let record = ConceptRecord(name: name, modelID: model.id, kind: target.kind.rawValue, description: definition.description,
                               direction: target.direction, bias: target.bias, preprocessingID: preprocessing,
                               background: backgroundLabel.isEmpty ? "none" : backgroundLabel,
                               definition: try jsonString(definition), quality: try jsonString(quality), fingerprint: fingerprint)
    let roles = positiveSHAs.map { ConceptExample(sha256: $0, role: .positive) }
        + negativeSHAs.map { ConceptExample(sha256: $0, role: .negative) }
        + backgroundSHAs.map { ConceptExample(sha256: $0, role: .background) }
    let saved = try store.saveConcept(record, examples: roles)
    var summary = try summarize(saved, model: model, store: store)
    summary.status = "defined"
    summary.errors = failures
    return summary
}

/// A hash of everything a concept's numbers depend on: unchanged means redefining would give the same concept.
func conceptFingerprint(_ definition: ConceptDefinition, model: ModelRecord, preprocessing: String,
                        positives: [String], negatives: [String], background: [String]) -> String {
    let parts = [
        "v1", model.weightsSHA256, preprocessing, definition.kind.rawValue, definition.description,
        String(definition.randomConcepts), definition.background ?? "",
        positives.sorted().joined(separator: ","), negatives.sorted().joined(separator: ","),
        background.sorted().joined(separator: ","),
    ]
    return ImageFiles.sha256(Data(parts.joined(separator: "\n").utf8))
}

/// The CLI's view of a stored concept.
func summarize(_ record: ConceptRecord, model: ModelRecord, store: Store) throws -> ConceptSummary {
    let examples = try store.conceptExamples(conceptID: record.id)
    func count(_ role: ExampleRole) -> Int { examples.filter { $0.example.role == role }.count }
    return ConceptSummary(name: record.name, model: model.name, modelSHA256: model.weightsSHA256, kind: record.kind,
                          description: record.description, preprocessing: record.preprocessingID,
                          background: record.background, examples: count(.positive), negatives: count(.negative),
                          backgroundImages: count(.background) + count(.negative),
                          quality: try? JSONDecoder().decode(ConceptQuality.self, from: Data(record.quality.utf8)),
                          createdAt: record.createdAt, updatedAt: record.updatedAt, status: nil, errors: nil)
}

func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func unique(_ urls: [URL]) -> [URL] {
    var seen = Set<String>()
    return urls.filter { seen.insert($0.path).inserted }
}

func orderedUnique(_ values: [String]) -> [String] {
    var seen = Set<String>()
    return values.filter { seen.insert($0).inserted }
}
