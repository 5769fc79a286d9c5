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
    /// Background images most like the examples to leave out before fitting (0: none): a collection may hold
    /// unlabelled images of the concept, which would otherwise be fitted as negatives. Ranked by the cosine
    /// of centred embeddings, (e - mu).(c - mu) / (|e - mu| |c - mu|), c the examples' mean, mu the background's.
    public var excludeSimilar: Int

    public init(name: String, description: String = "", kind: Target.Kind = .mean, examples: [String],
                negatives: [String] = [], background: String? = nil, randomConcepts: Int = 50,
                base: String = FileManager.default.currentDirectoryPath, file: String? = nil, excludeSimilar: Int = 0) {
        self.name = name; self.description = description; self.kind = kind; self.examples = examples
        self.negatives = negatives; self.background = background; self.randomConcepts = randomConcepts
        self.base = base; self.file = file; self.excludeSimilar = excludeSimilar
    }

    enum CodingKeys: String, CodingKey {
        case name, description, kind, examples, negatives, background, randomConcepts, base, file, excludeSimilar
    }

    /// Definitions stored before a key existed decode with its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        kind = try c.decode(Target.Kind.self, forKey: .kind)
        examples = try c.decode([String].self, forKey: .examples)
        negatives = try c.decodeIfPresent([String].self, forKey: .negatives) ?? []
        background = try c.decodeIfPresent(String.self, forKey: .background)
        randomConcepts = try c.decodeIfPresent(Int.self, forKey: .randomConcepts) ?? 50
        base = try c.decodeIfPresent(String.self, forKey: .base) ?? ""
        file = try c.decodeIfPresent(String.self, forKey: .file)
        excludeSimilar = try c.decodeIfPresent(Int.self, forKey: .excludeSimilar) ?? 0
    }

    /// Kinds whose target is defined against a background set.
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
    /// The examples' file names, in the order of `quality.leaveOneOutRanks`.
    public var exampleNames: [String]?
    /// What the quality figures say, in one line (nil without figures).
    public var verdict: ConceptVerdict?
    /// What the user should know about how the concept was fitted (near-duplicates left out, a background
    /// that may hold unlabelled examples, ...).
    public var warnings: [String]?
    /// The block whose CLS the concept is defined on (nil: the last block).
    public var block: Int?
    /// With `--layer auto`: the blocks measured and why this one was chosen.
    public var layerChoice: LayerChoice?

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
/// - Parameter replace: redefine a concept of this name and model that already exists; without it that is
///   a usage error, checked before any work (sync replaces: its files are the concepts' source).
///
/// The background is guarded (`BackgroundGuard`): background images that are near-duplicates of examples
/// (centred cosine >= 0.95) are left out, `excludeSimilar` more are left out by similarity to the examples,
/// and a collection with images at least as like the concept as a typical example gets a warning (they may be
/// unlabelled examples, fitted as negatives).
/// A `contrast` concept is "examples and not negatives": c_A - c_B with B the negatives alone when given
/// (a background collection then only serves to measure it); without negatives B is the background.
/// - Throws: `WorkbenchError.usage` for a kind that needs a background when none is given, or an existing
///   concept without `replace`;
///   `WorkbenchError.failed` when no example can be read or embedded, when the background collection has
///   no embeddings for this model, or when the builder refuses the data; `StoreError` on database failures.
public func defineConcept(_ definition: ConceptDefinition, embedder: ImageEmbedder, store: Store,
                          onlyIfChanged: Bool = false, replace: Bool = false, batchSize: Int = 8, dryRun: Bool = false,
                          progress: ((LibraryProgress) -> Void)? = nil) throws -> ConceptSummary {
    let name = definition.name
    try definition.checkOptions()
    if !replace && !onlyIfChanged, let model = try store.model(named: embedder.modelName),
       let existing = try store.concepts(modelID: model.id).first(where: { $0.name == name }) {
        throw WorkbenchError.usage("concept '\(name)' already exists for model \(model.name) (\(existing.kind), updated \(existing.updatedAt)); add --replace to redefine it, or choose another name")
    }
    let base = URL(fileURLWithPath: definition.base)
    // --background names a collection, or a folder (file, glob) of images that are not the concept.
    var definition = definition
    var backgroundNote: String? = nil
    if let background = definition.background, try store.collection(named: background) == nil {
        let path = background.hasPrefix("/") || background.hasPrefix("~") ? NSString(string: background).expandingTildeInPath
            : base.appendingPathComponent(background).path
        guard FileManager.default.fileExists(atPath: path) || background.contains(where: { "*?[{".contains($0) }) else {
            _ = try requireCollection(background, store: store)
            throw WorkbenchError.failed("collection '\(background)' does not exist")
        }
        guard definition.kind != .contrast else {
            throw WorkbenchError.usage("concept '\(name)': --background \(background) is a folder; for a contrast give the images to contrast against with --negatives \(background)")
        }
        definition.negatives.append(background)
        definition.background = nil
        backgroundNote = "--background \(background) is a folder, not a collection: its images serve as negatives"
    }
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
            throw WorkbenchError.failed("concept '\(name)': collection '\(collection)' has no embeddings for model \(model.name) at \(preprocessing); run `cdam index DIR --collection \(collection)\(BlockTag.option(of: preprocessing))` with the same --model and --size")
        }
        let taken = positiveSet.union(negativeSHAs)
        for row in 0..<matrix.count where !taken.contains(matrix.sha256s[row]) {
            backgroundSHAs.append(matrix.sha256s[row])
            backgroundVectors.append(Array(matrix.values[(row * matrix.width)..<((row + 1) * matrix.width)]))
        }
    }
    let examples = positiveSHAs.map { positives.embeddings[$0]! }
    // Guard the collection part of the background (the user's negatives are trusted as given).
    var warnings: [String] = backgroundNote.map { [$0] } ?? []
    var excludedSimilar = 0
    if !backgroundSHAs.isEmpty {
        let guardResult = BackgroundGuard.screen(examples: examples, background: Array(backgroundVectors[negativeSHAs.count...]),
                                                 excludeSimilar: definition.excludeSimilar)
        let kept = Set(guardResult.kept)
        backgroundSHAs = backgroundSHAs.indices.filter { kept.contains($0) }.map { backgroundSHAs[$0] }
        backgroundVectors = Array(backgroundVectors[..<negativeSHAs.count])
            + guardResult.kept.map { backgroundVectors[negativeSHAs.count + $0] }
        if guardResult.nearDuplicates > 0 {
            warnings.append("\(guardResult.nearDuplicates) background image\(guardResult.nearDuplicates == 1 ? " is a near-duplicate" : "s are near-duplicates") of examples (centred cosine >= \(BackgroundGuard.nearDuplicateCosine)) and \(guardResult.nearDuplicates == 1 ? "was" : "were") left out")
        }
        excludedSimilar = guardResult.excluded
        if guardResult.excluded > 0 {
            warnings.append("left the \(guardResult.excluded) background images most similar to the examples out of the background (--exclude-similar \(definition.excludeSimilar))")
        } else if guardResult.aboveTypicalExample > 0, definition.kind != .mean, definition.kind != .cosine {
            let k = guardResult.aboveTypicalExample
            warnings.append("\(k) image\(k == 1 ? "" : "s") of collection '\(definition.background ?? "")' look\(k == 1 ? "s" : "") at least as much like the concept as a typical example; those that show the concept are fitted as negatives, and searches of that collection rank them low. A background without the concept is the reliable fix (--exclude-similar K leaves out the K most similar images, but similarity finds only some of them on this model); measure with `cdam concept evaluate \(name) --positives DIR`")
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

    // "A and not B": B is the negatives when given; the background collection then only measures the concept.
    let negativeVectors = negativeSHAs.map { negatives.embeddings[$0]! }
    let contrastNegatives = definition.kind == .contrast && !negativeVectors.isEmpty ? negativeVectors : nil
    if definition.kind == .contrast, contrastNegatives == nil {
        warnings.append("contrast without --negatives subtracts the background's mean: it ranks exactly as --kind centred does; give --negatives DIR for \"examples and not negatives\"")
    }
    let target: Target
    do {
        target = try ConceptBuilder.build(kind: definition.kind, name: name, examples: examples,
                                          background: contrastNegatives ?? (backgroundVectors.isEmpty ? nil : backgroundVectors))
    } catch let error as ConceptError {
        if case .needsBackground = error { throw WorkbenchError.usage(error.description) }
        throw WorkbenchError.failed(error.description)
    }
    progress?(LibraryProgress(phase: "evaluating", done: 0, total: 1))
    var quality = ConceptQuality.evaluate(kind: definition.kind, examples: examples,
                                          background: backgroundVectors.isEmpty ? nil : backgroundVectors,
                                          randomConcepts: max(0, definition.randomConcepts), seed: 0,
                                          contrastNegatives: contrastNegatives)
    if excludedSimilar > 0 { quality.excludedSimilar = excludedSimilar }
    if dryRun {
        // Measured, not stored (the embeddings made on the way are kept: they are a cache).
        var summary = ConceptSummary(name: name, model: model.name, modelSHA256: model.weightsSHA256, kind: target.kind.rawValue,
                                     description: definition.description, preprocessing: preprocessing,
                                     background: backgroundLabel.isEmpty ? "none" : backgroundLabel, examples: positiveSHAs.count,
                                     negatives: negativeSHAs.count, backgroundImages: backgroundSHAs.count + negativeSHAs.count,
                                     quality: quality, createdAt: "", updatedAt: "", status: "measured", errors: failures)
        summary.block = BlockTag.block(of: preprocessing)
        summary.verdict = quality.verdict()
        return summary
    }
    let record = ConceptRecord(name: name, modelID: model.id, kind: target.kind.rawValue, description: definition.description,
                               direction: target.direction, bias: target.bias, preprocessingID: preprocessing,
                               background: backgroundLabel.isEmpty ? "none" : backgroundLabel,
                               definition: try jsonString(definition), quality: try jsonString(quality), fingerprint: fingerprint)
    let roles = positiveSHAs.map { ConceptExample(sha256: $0, role: .positive) }
        + negativeSHAs.map { ConceptExample(sha256: $0, role: .negative) }
        + backgroundSHAs.map { ConceptExample(sha256: $0, role: .background) }
    let saved = try store.saveConcept(record, examples: roles)
    // The concept now keeps its examples: the lease that protected them from `prune` while it was built ends.
    try? store.releaseLease()
    var summary = try summarize(saved, model: model, store: store)
    summary.status = "defined"
    summary.errors = failures
    summary.warnings = warnings.isEmpty ? nil : warnings
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
    ] + (definition.excludeSimilar > 0 ? ["exclude-similar \(definition.excludeSimilar)"] : [])
    return ImageFiles.sha256(Data(parts.joined(separator: "\n").utf8))
}

/// The CLI's view of a stored concept.
func summarize(_ record: ConceptRecord, model: ModelRecord, store: Store) throws -> ConceptSummary {
    let examples = try store.conceptExamples(conceptID: record.id)
    func count(_ role: ExampleRole) -> Int { examples.filter { $0.example.role == role }.count }
    let quality = try? JSONDecoder().decode(ConceptQuality.self, from: Data(record.quality.utf8))
    // Positives come first, in the order they were given: the order of the quality figures.
    let names = examples.filter { $0.example.role == .positive }
        .map { $0.path.map { URL(fileURLWithPath: $0).lastPathComponent } ?? String($0.example.sha256.prefix(12)) }
    var summary = ConceptSummary(name: record.name, model: model.name, modelSHA256: model.weightsSHA256, kind: record.kind,
                          description: record.description, preprocessing: record.preprocessingID,
                          background: record.background, examples: count(.positive), negatives: count(.negative),
                          backgroundImages: count(.background) + count(.negative),
                          quality: quality,
                          createdAt: record.createdAt, updatedAt: record.updatedAt, status: nil, errors: nil)
    summary.exampleNames = names
    summary.verdict = quality?.verdict(exampleNames: names)
    summary.block = BlockTag.block(of: record.preprocessingID)
    return summary
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

/// `concept define --layer auto`: the blocks tried, their held-out figures, and the one chosen.
public struct LayerChoice: Codable, Sendable, Equatable {
    public struct Candidate: Codable, Sendable, Equatable {
        /// The block (1-based).
        public var block: Int
        /// Leave-one-out AUC of the concept defined at this block (nil: no background to measure against).
        public var auc: Double?
        /// Why this block could not be measured.
        public var problem: String?
    }
    public var candidates: [Candidate]
    /// The block chosen.
    public var block: Int
    /// One line: why.
    public var reason: String

    /// The blocks `--layer auto` tries on a model of `layers` blocks: the last three. On
    /// dinov2-small-imgfocus blocks 10 and 11 separate concepts better than 12 (README); earlier ones do not.
    public static func candidates(layers: Int) -> [Int] {
        Array(Set([layers, layers - 1, layers - 2].filter { $0 >= 1 })).sorted(by: >)
    }
}

/// Measures a definition (not stored) at each of `embedders`' blocks by leave-one-out AUC and picks the best
/// (the later block on a tie within 0.005; the last block when nothing could be measured).
/// - Throws: `WorkbenchError.usage` when the definition itself is wrong.
public func measureLayers(_ definition: ConceptDefinition, embedders: [ModelEmbedder], store: Store, replace: Bool = true,
                          batchSize: Int = 8, progress: ((LibraryProgress) -> Void)? = nil) throws -> (choice: LayerChoice, chosen: ModelEmbedder) {
    precondition(!embedders.isEmpty)
    let layers = embedders[0].model.transformer.config.layers
    var candidates: [LayerChoice.Candidate] = []
    var measured: [(embedder: ModelEmbedder, auc: Double)] = []
    for embedder in embedders {
        let block = embedder.block ?? layers
        do {
            let summary = try defineConcept(definition, embedder: embedder, store: store, replace: replace,
                                            batchSize: batchSize, dryRun: true, progress: progress)
            candidates.append(.init(block: block, auc: summary.quality?.auc, problem: nil))
            if let auc = summary.quality?.auc { measured.append((embedder, auc)) }
        } catch let error as WorkbenchError {
            if case .usage = error { throw error }
            candidates.append(.init(block: block, auc: nil, problem: error.description))
        }
    }
    let chosen: ModelEmbedder, reason: String
    let figures = candidates.map { c in c.auc.map { String(format: "block %d %.3f", c.block, $0) } ?? "block \(c.block) not measured" }
        .joined(separator: ", ")
    if let best = measured.max(by: { $0.auc < $1.auc }) {
        // Prefer the later block unless an earlier one is clearly better.
        let blockOf = { (e: ModelEmbedder) in e.block ?? layers }
        let pick = measured.filter { $0.auc >= best.auc - 0.005 }.max { blockOf($0.embedder) < blockOf($1.embedder) }!
        chosen = pick.embedder
        reason = String(format: "block %d: leave-one-out AUC %.3f, the best of the blocks tried (%@)", blockOf(chosen), pick.auc, figures)
    } else {
        chosen = embedders.first { $0.block == nil } ?? embedders[0]
        reason = "block \(chosen.block ?? layers): no block could be measured (\(figures)); a background (--background or --negatives) lets --layer auto compare blocks"
    }
    return (LayerChoice(candidates: candidates, block: chosen.block ?? layers, reason: reason), chosen)
}

/// Defines a concept at the block whose CLS separates its examples from the background best (`measureLayers`)
/// and stores it there.
/// - Throws: as `defineConcept`, when the concept cannot be defined at the chosen block.
public func defineConceptChoosingLayer(_ definition: ConceptDefinition, embedders: [ModelEmbedder], store: Store,
                                       replace: Bool = false, batchSize: Int = 8,
                                       progress: ((LibraryProgress) -> Void)? = nil) throws -> ConceptSummary {
    let (choice, chosen) = try measureLayers(definition, embedders: embedders, store: store, replace: replace,
                                             batchSize: batchSize, progress: progress)
    var summary = try defineConcept(definition, embedder: chosen, store: store, replace: replace, batchSize: batchSize,
                                    progress: progress)
    summary.layerChoice = choice
    return summary
}

extension ConceptDefinition {
    /// The checks every entry point makes before any work: name and description limits, R, the kind, a background
    /// for the kinds that need one, examples given.
    /// - Throws: `WorkbenchError.usage` naming the option to change.
    public func checkOptions() throws {
        let definition = self
        let name = definition.name
        try Limits.checkConceptName(name)
        try Limits.checkDescription(definition.description, concept: name)
        try Limits.checkRandomConcepts(definition.randomConcepts)
        guard definition.excludeSimilar <= Limits.maxExcludeSimilar else {
            throw WorkbenchError.usage("concept '\(name)': --exclude-similar \(definition.excludeSimilar): at most \(Limits.maxExcludeSimilar)")
        }
        if definition.kind == .classLogit {
            throw WorkbenchError.usage("concept '\(name)': kind 'class' is a trained head, not an example concept; use mean, cosine, contrast, centred, probe or whitened")
        }
        if definition.kind.needsBackground, definition.negatives.isEmpty, definition.background == nil {
            throw WorkbenchError.usage("concept '\(name)': kind '\(definition.kind.rawValue)' needs a background: add --background COLLECTION or --negatives DIR (or use --kind mean)")
        }
        guard !definition.examples.isEmpty else {
            throw WorkbenchError.usage("concept '\(name)': give example images with --examples DIR")
        }
        guard definition.excludeSimilar >= 0 else {
            throw WorkbenchError.usage("concept '\(name)': --exclude-similar \(definition.excludeSimilar): give 0 or more images")
        }
    }
}
