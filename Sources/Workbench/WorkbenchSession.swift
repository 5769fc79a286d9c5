import Attribution
import Concepts
import Foundation
import Imaging
import Store
import TensorMath
import ViT

/// How images enter the model: which installed model, at what size, and at which block's CLS.
public struct InputSettings: Hashable, Sendable {
    /// The installed model's name (nil: the default model).
    public var model: String?
    public var height: Int
    public var width: Int
    /// Shorter side resized and centre-cropped instead of resizing to the exact size.
    public var crop: Bool
    /// Truncated JPEGs are accepted with a warning instead of refused.
    public var allowTruncated: Bool
    /// The block whose CLS is the embedding (1-based; nil: the last).
    public var block: Int?
    /// The linear layers' precision (README, bf16): auto is bf16 for multi-pass work where this CPU runs it
    /// faster than fp32, and fp32 for single CDAM maps.
    public var precision: PrecisionChoice

    public init(model: String? = nil, height: Int = 224, width: Int = 224, crop: Bool = false,
                allowTruncated: Bool = false, block: Int? = nil, precision: PrecisionChoice = .auto) {
        self.model = model; self.height = height; self.width = width
        self.crop = crop; self.allowTruncated = allowTruncated; self.block = block; self.precision = precision
    }

    /// The same model, crop and block at the size concepts are defined at (INTERFACE.md: 224): concepts built
    /// on the fly and the rankings of reports are made there, whatever size maps are drawn at.
    public var conceptSettings: InputSettings {
        var settings = self
        settings.height = 224; settings.width = 224
        return settings
    }
}

/// One workbench session: a home, its database (opened when first needed, read-only for commands that only read),
/// and the models loaded so far, shared by every use case. A front end (the command line, the server) parses its
/// input into the typed options below, calls one method per use case, and prints or serves the Codable document it
/// returns; warnings go to `warn`.
///
/// Not thread-safe: a server serialises calls, or opens a session per worker.
public final class WorkbenchSession {
    public let home: Home
    /// The database file: `--db`, else the home's `cdam.sqlite`.
    public let databaseURL: URL
    /// Notes and warnings a front end shows (stderr for the command line).
    public var warn: (String) -> Void
    private let databaseGiven: Bool
    private var writer: Store?
    private var reader: Store?
    private var embedders: [InputSettings: ModelEmbedder] = [:]

    public init(home: Home, database: URL? = nil, warn: @escaping (String) -> Void = { _ in }) {
        self.home = home
        self.databaseURL = database ?? home.database
        self.databaseGiven = database != nil
        self.warn = warn
    }

    /// The installed models.
    public var models: ModelRegistry { ModelRegistry(home: home) }

    /// The database for use cases that write. A `--db` in a missing folder is an error (the home is created).
    public func store() throws -> Store {
        if let writer { return writer }
        let store = try Store.open(at: databaseURL, createFolder: !databaseGiven)
        writer = store
        return store
    }

    /// The database for use cases that only read: read-only, so it reads while another process writes and reads
    /// a file it may not write. Once the session has opened it for writing, that connection serves.
    public func readStore() throws -> Store {
        if let writer { return writer }
        if let reader { return reader }
        let store = try Store.openForReading(at: databaseURL, createFolder: !databaseGiven)
        reader = store
        return store
    }

    /// The embedder for `input`: the model loaded once per session (truncated copies share its weights).
    /// - Throws: `WorkbenchError` for a missing or broken model, or a size that does not fit its patches.
    /// Its model runs at `input.precision` resolved for multi-pass work (embedding, TAM, averaged maps).
    /// - Throws: `WorkbenchError` for a missing or broken model, a size that does not fit its patches, or bf16
    ///   asked for on a CPU without AVX512-BF16.
    public func embedder(_ input: InputSettings) throws -> ModelEmbedder {
        if let embedder = embedders[input] { return embedder }
        let embedder: ModelEmbedder
        let precision = try PrecisionSetting.resolve(input.precision, multiPass: true)
        if let loaded = embedders.first(where: { $0.key.model == input.model })?.value.model {
            loaded.transformer.precision = precision
            try Limits.checkSize(height: input.height, width: input.width, patch: loaded.transformer.config.patchSize)
            do { try loaded.transformer.validate(height: input.height, width: input.width) } catch let error as ModelError {
                throw WorkbenchError.usage("--size: \(error.description)")
            }
            embedder = try ModelEmbedder(model: loaded, preprocessing: Preprocessing(height: input.height, width: input.width, crop: input.crop),
                                         decodeOptions: DecodeOptions(allowTruncated: input.allowTruncated), block: input.block)
        } else {
            embedder = try openEmbedder(home: home, model: input.model, height: input.height, width: input.width,
                                        crop: input.crop, allowTruncated: input.allowTruncated, block: input.block,
                                        precision: precision)
        }
        embedders[input] = embedder
        return embedder
    }

    /// The identity the store keeps for `input`'s model and preprocessing.
    public func modelInfo(_ input: InputSettings) throws -> ModelInfo {
        let e = try embedder(input)
        return ModelInfo(name: e.modelName, weightsSHA256: e.modelSHA256, width: e.width, patchSize: e.patchSize,
                         preprocessing: e.preprocessingDescription)
    }
}

// MARK: - Images and collections

extension WorkbenchSession {
    /// `embed`: the CLS embeddings of image files (folders searched).
    public func embed(_ paths: [String], input: InputSettings, progress: ((LibraryProgress) -> Void)? = nil) throws -> EmbedReport {
        let files = try ImageInput.expand(paths)
        guard !files.isEmpty else { throw WorkbenchError.failed("no image files in \(paths.joined(separator: ", "))") }
        return embedFiles(files, embedder: try embedder(input), progress: progress)
    }

    /// `index`: every image under a folder into a collection, skipping content already stored.
    public func index(_ directory: URL, collection: String?, input: InputSettings, batchSize: Int = 8,
                      progress: ((LibraryProgress) -> Void)? = nil) throws -> IndexReport {
        try indexImages(directory: directory, collection: collection, embedder: try embedder(input), store: try store(),
                        batchSize: batchSize, progress: progress)
    }

    public func collections() throws -> [CollectionSummary] { try listCollections(store: try readStore()) }
    public func collection(_ name: String, limit: Int? = nil) throws -> CollectionDetails {
        try showCollection(name, limit: limit, store: try readStore())
    }
    public func removeCollection(_ name: String) throws -> CollectionSummary {
        try Workbench.removeCollection(name, store: try store())
    }
    public func prune() throws -> PruneSummary { try pruneLibrary(store: try store()) }

    /// A stored image's file: its most recently seen path that still exists.
    /// - Throws: `WorkbenchError.failed` when no image has this content or none of its files is left.
    public func storedImageFile(sha256: String) throws -> URL {
        guard let image = try readStore().findImage(sha256: sha256) else {
            throw WorkbenchError.failed("no stored image has sha256 \(sha256.prefix(16)); index it first (`cdam index DIR`)")
        }
        guard let path = image.paths.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw WorkbenchError.failed("the files of image \(sha256.prefix(16)) are gone (last seen at \(image.paths.first ?? "?"))")
        }
        return URL(fileURLWithPath: path)
    }

    /// `search`: stored images ranked by a concept's score (no model is loaded).
    public func search(_ concept: String, model: String?, collection: String?, top: Int, includeExamples: Bool) throws -> SearchOutput {
        try searchConcept(concept, modelName: model, collection: collection, top: top, includeExamples: includeExamples,
                          store: try readStore())
    }
}

// MARK: - Concepts

extension WorkbenchSession {
    /// `concept define`: a concept from example images, stored with its quality figures. With `chooseLayer`, the
    /// last three blocks are measured and the best kept (`--layer auto`).
    /// With `dryRun`, the concept is measured (figures and verdict) but not stored.
    public func define(_ definition: ConceptDefinition, input: InputSettings, chooseLayer: Bool = false, replace: Bool = false,
                       dryRun: Bool = false, progress: ((LibraryProgress) -> Void)? = nil) throws -> ConceptSummary {
        try definition.checkOptions()
        let embedder = try embedder(input)
        guard chooseLayer else {
            return try defineConcept(definition, embedder: embedder, store: try store(), replace: replace, dryRun: dryRun,
                                     progress: progress)
        }
        let candidates = try LayerChoice.candidates(layers: embedder.model.transformer.config.layers).map { block in
            var settings = input
            settings.block = block
            return try self.embedder(settings)
        }
        return try defineConceptChoosingLayer(definition, embedders: candidates, store: try store(), replace: replace, progress: progress)
    }

    public func concepts(model: String? = nil) throws -> [ConceptSummary] { try listConcepts(modelName: model, store: try readStore()) }
    public func concept(_ name: String, model: String? = nil) throws -> ConceptDetails {
        try showConcept(name, modelName: model, store: try readStore())
    }
    public func removeConcept(_ name: String, model: String? = nil) throws -> ConceptSummary {
        try Workbench.removeConcept(name, modelName: model, store: try store())
    }

    /// `concept export`: the concept's self-describing document, also written to `file` when given.
    public func exportConcept(_ name: String, model: String? = nil, to file: URL? = nil) throws -> ConceptExport {
        let export = try Workbench.exportConcept(name, modelName: model, store: try readStore())
        if let file { try writeConceptExport(export, to: file) }
        return export
    }

    /// `concept import`: a concept file for `input`'s model.
    public func importConcept(_ file: URL, input: InputSettings, rename: String? = nil, replace: Bool = false) throws -> ConceptSummary {
        try Workbench.importConcept(from: file, model: try modelInfo(input), rename: rename, replace: replace, store: try store())
    }

    /// `concept sync`: concept files of a folder into the database; unchanged ones are skipped.
    public func sync(_ directory: URL, input: InputSettings, progress: ((LibraryProgress) -> Void)? = nil) throws -> SyncReport {
        try syncConcepts(directory: directory, embedder: try embedder(input), store: try store(), progress: progress)
    }

    /// `concept evaluate`: a stored concept judged again, with held-out positives when given (embedded with `input`).
    /// With `chooseLayer` (`--layer auto`), its definition is also measured at the last three blocks, as `define`
    /// chooses (`layerChoice`); the stored concept is not changed.
    public func evaluate(_ name: String, model: String?, background: String?, randomConcepts: Int, positives: [String],
                         input: InputSettings, chooseLayer: Bool = false,
                         progress: ((LibraryProgress) -> Void)? = nil) throws -> ConceptEvaluation {
        var result = try evaluateConcept(name, modelName: model, collection: background, randomConcepts: randomConcepts,
                                         positives: positives, embedder: positives.isEmpty ? nil : try embedder(input),
                                         store: try store(), progress: progress)
        if chooseLayer {
            let embedder = try embedder(input)
            let candidates = try LayerChoice.candidates(layers: embedder.model.transformer.config.layers).map { block in
                var settings = input
                settings.block = block
                return try self.embedder(settings)
            }
            result.layerChoice = try measureStoredConceptLayers(name, modelName: model, embedders: candidates, store: try store(),
                                                                progress: progress)
        }
        return result
    }
}

// MARK: - Maps

/// What `query` looks for and computes.
public struct QueryOptions: Sendable {
    /// Image files or folders.
    public var images: [String]
    /// Stored concepts (`all`: every concept of the model), contrasts `A,B`, and example folders built on the fly.
    public var concepts: [String] = []
    public var contrasts: [String] = []
    public var examples: [String] = []
    /// The kind and background of `examples` concepts.
    public var kind: Target.Kind = .mean
    public var background: String?
    /// A stored head and its classes (labels, `all`, `topK`).
    public var head: String?
    public var classes: [String] = []
    /// The collection percentiles are read against (default: each concept's background).
    public var collection: String?
    public var maps: [MapKind] = [.cdam]
    public var faithfulness = false
    /// Per-patch significance against `randomConcepts` random concepts at false-discovery rate `fdr`.
    public var significance = false
    public var randomConcepts = 200
    public var fdr = 0.05
    public var out: URL?
    public var render = RenderOptions()
    public var averaged = AveragedMapSettings.workbench
    public var input = InputSettings()
    /// A JSON or CSV file of labelled boxes: localisation figures for the targets named as its labels.
    public var boxes: String?

    public init(images: [String]) { self.images = images }
}

/// `query`'s document, and whether some named concepts could not be used.
public struct QueryOutcome: Sendable {
    public var report: QueryReport
    /// Image arguments (files and folders found) and named concepts that failed.
    public var inputs: Int
    public var failedConcepts: Int

    /// INTERFACE.md: 0 all done, 1 nothing done, 3 partial.
    public var exitCode: Int32 {
        if !report.errors.isEmpty { return report.errors.count >= inputs ? 1 : 3 }
        return failedConcepts > 0 ? 3 : 0
    }
}

extension WorkbenchSession {
    /// `query`: per image and target, the score, its percentile and the maps asked for; pictures with `out`.
    /// Concepts (stored or built from examples) are defined at 224 whatever size the maps are drawn at.
    public func query(_ options: QueryOptions, progress: ((LibraryProgress) -> Void)? = nil) throws -> QueryOutcome {
        guard options.fdr > 0, options.fdr < 1 else {
            throw WorkbenchError.usage("--fdr \(options.fdr): give a false-discovery rate between 0 and 1 (0.05 is usual)")
        }
        // A bad boxes file is refused before any work.
        let boxFile = try options.boxes.map { try BoxFile.load($0) }
        guard options.classes.isEmpty || options.head != nil else {
            throw WorkbenchError.usage("--class needs --head NAME: the head whose classes to explain (see `cdam head list`)")
        }
        guard !options.examples.isEmpty || !options.concepts.isEmpty || !options.contrasts.isEmpty || options.head != nil else {
            throw WorkbenchError.usage("say what to look for: --concept NAME (stored), --contrast A,B, --examples DIR, or --head NAME --class LABEL")
        }
        let embedder = try embedder(options.input)
        let (files, missing) = try ImageInput.expandKeepingGoing(options.images)
        let random = options.significance ? options.randomConcepts : 0
        var targets: [Target] = [], references: [ScoreReference?] = [], randomTargets: [[Target]] = []
        var failedConcepts = 0
        // The database serves stored concepts, collections, and embeddings reused by content hash.
        let store = try store()
        if !options.concepts.isEmpty || !options.contrasts.isEmpty {
            let stored = try storedTargets(names: options.concepts, contrasts: options.contrasts, modelName: embedder.modelName,
                                           collection: options.collection, randomConcepts: random, store: store)
            for problem in stored.errors { warn("error: \(problem)") }
            failedConcepts = stored.errors.count
            targets += stored.targets; references += stored.references; randomTargets += stored.randomTargets
        }
        if !options.examples.isEmpty {
            let built = try ExampleConcepts.build(folders: options.examples, kind: options.kind, background: options.background,
                                                  embedder: try self.embedder(options.input.conceptSettings), store: store,
                                                  randomConcepts: random, warn: warn)
            if let described = built.background { warn("background: \(described)") }
            targets += built.targets; references += built.references; randomTargets += built.randomTargets
        }
        let heads = try options.head.map {
            [try classTargets(head: $0, classes: options.classes, modelName: embedder.modelName, store: store)]
        } ?? []
        guard !targets.isEmpty || !heads.isEmpty else { throw WorkbenchError.failed("none of the named concepts can be used") }
        var request = QueryRequest(targets: targets, maps: options.maps, faithfulness: options.faithfulness,
                                   outDirectory: options.out, render: options.render, references: references,
                                   randomTargets: randomTargets, significanceQ: options.fdr)
        request.heads = heads
        request.averaged = options.averaged
        request.boxes = boxFile
        request.singleMapPrecision = try PrecisionSetting.resolve(options.input.precision, multiPass: false)
        if let note = MapSettings.costNote(maps: options.maps, settings: options.averaged, images: files.count) { warn(note) }
        if options.significance, randomTargets.allSatisfy(\.isEmpty) {
            warn("warning: --significance needs concepts with a background (stored concepts, or --examples with --background): no patch is tested")
        }
        if options.maps.contains(.tam) || options.faithfulness {
            let p = embedder.preprocessing
            let grid = (p.height / embedder.patchSize) * (p.width / embedder.patchSize)
            warn("note: token ablation runs \(grid) forward passes per image (\(grid * files.count) in all); expect about \(max(1, grid * files.count / 20)) s")
        }
        var report = runQuery(files, request: request, embedder: embedder, progress: progress)
        report.errors = missing + report.errors
        if let boxFile, !report.results.isEmpty, !report.results.contains(where: { $0.targets.contains { $0.localisation != nil } }) {
            let named = report.results.filter { boxFile.names(URL(fileURLWithPath: $0.image)) }.count
            warn("warning: --boxes: no box matched an image and a target (\(named) of \(report.results.count) images named in \(boxFile.path); its labels: \(boxFile.labels.joined(separator: ", ")); a label must be a target's name)")
        }
        return QueryOutcome(report: report, inputs: files.count + missing.count, failedConcepts: failedConcepts)
    }
}

/// What `report` covers.
public struct ReportOptions: Sendable {
    public var concepts: [String]
    public var head: String?
    public var classes: [String] = []
    public var collection: String?
    public var top = 8
    public var compare = 2
    public var includeExamples = false
    public var maps = MapKind.comparison
    public var averaged = AveragedMapSettings.workbench
    public var render = RenderOptions()
    public var out: URL
    /// The model (reports rank and draw at the concepts' size, 224, as `search` does).
    public var model: String?
    /// Per-patch significance of the top images' maps against this many random concepts (0: none), at
    /// false-discovery rate `significanceQ`; the significant patches are outlined.
    public var significanceRandomConcepts = 0
    public var significanceQ = 0.05
    /// The linear layers' precision: as `InputSettings.precision` (TAM and the faithfulness curves are multi-pass).
    public var precision: PrecisionChoice = .auto

    public init(concepts: [String], out: URL) { self.concepts = concepts; self.out = out }
}

extension WorkbenchSession {
    /// `report`: a page (index.html) and data (report.json, scores.csv) per concept: its figures, its best matches
    /// with maps, examples marked. Ranked with the concepts' own preprocessing (224), as `search` ranks.
    public func report(_ options: ReportOptions, progress: @escaping (String) -> Void = { _ in }) throws -> ReportDocument {
        let store = try readStore()
        let embedder = try embedder(InputSettings(model: options.model, precision: options.precision))
        var request = ReportRequest(concepts: options.concepts, collection: options.collection, top: options.top,
                                    comparisonImages: options.compare, outDirectory: options.out, render: options.render,
                                    includeExamples: options.includeExamples)
        if let head = options.head {
            request.heads = [try classTargets(head: head, classes: options.classes.isEmpty ? ["all"] : options.classes,
                                              modelName: embedder.modelName, store: store)]
        }
        request.comparisonMaps = options.maps
        request.averaged = options.averaged
        request.significanceRandomConcepts = options.significanceRandomConcepts
        request.significanceQ = options.significanceQ
        request.singleMapPrecision = try PrecisionSetting.resolve(options.precision, multiPass: false)
        if options.compare > 0 {
            // Token ablation dominates a report: say what it costs before it runs.
            let passes = options.compare * (224 / embedder.patchSize) * (224 / embedder.patchSize)
            if let note = MapSettings.costNote(maps: options.maps, settings: options.averaged, images: options.compare) { warn(note) }
            warn("note: the comparison maps of \(options.compare) image\(options.compare == 1 ? "" : "s") run \(passes) token-ablation passes, about \(durationText(Double(passes) / 20)) (--compare 0 skips them)")
        }
        let document = try buildReport(request, embedder: embedder, store: store, progress: progress)
        for note in document.notes { warn("warning: \(note)") }
        return document
    }
}

/// "12 s", "3 min", "1.5 h": how long something will take, roughly.
public func durationText(_ seconds: Double) -> String {
    if seconds < 90 { return "\(max(1, Int(seconds.rounded()))) s" }
    if seconds < 5400 { return "\(Int((seconds / 60).rounded())) min" }
    return String(format: "%.1f h", seconds / 3600)
}

// MARK: - Heads

extension WorkbenchSession {
    public func trainHead(_ request: HeadTrainingRequest, input: InputSettings, replace: Bool = false,
                          progress: ((LibraryProgress) -> Void)? = nil) throws -> HeadSummary {
        try Workbench.trainHead(request, embedder: try embedder(input), store: try store(), replace: replace, progress: progress)
    }
    /// `head eval`: cross-validation on the training images, or the head on a held-out labelled folder (embedded with `input`).
    public func evaluateHead(_ name: String, folds: Int = 5, labels: URL? = nil, input: InputSettings,
                             progress: ((LibraryProgress) -> Void)? = nil) throws -> HeadEvaluation {
        let heldOut = try labels.map { _ in try self.embedder(input) }
        return try Workbench.evaluateHead(name, modelName: input.model ?? heldOut?.modelName, folds: folds, labelsFolder: labels,
                                          embedder: heldOut, store: try store(), progress: progress)
    }
    public func heads(model: String? = nil) throws -> [HeadSummary] { try listHeads(modelName: model, store: try readStore()) }
    public func head(_ name: String, model: String? = nil) throws -> HeadDetails { try showHead(name, modelName: model, store: try readStore()) }
    public func removeHead(_ name: String, model: String? = nil) throws -> HeadSummary {
        try Workbench.removeHead(name, modelName: model, store: try store())
    }
    public func exportHead(_ name: String, model: String? = nil, to file: URL, format: HeadFileFormat? = nil) throws {
        try Workbench.exportHead(name, modelName: model, to: file, format: format, store: try readStore())
    }
    public func importHead(_ file: URL, input: InputSettings, options: HeadImportOptions = HeadImportOptions()) throws -> HeadSummary {
        try Workbench.importHead(from: file, model: try modelInfo(input), options: options, store: try store())
    }
}
