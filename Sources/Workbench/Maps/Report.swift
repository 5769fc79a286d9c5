import Attribution
import Concepts
import Foundation
import Imaging
import Store

/// What `report` should cover.
public struct ReportRequest: Sendable {
    public var concepts: [String]
    /// The collection to rank (nil: every image stored for the model).
    public var collection: String?
    /// Images shown per concept.
    public var top: Int
    /// Images (the best of the first concept) that also get AM, rollout, RP, TAM and the faithfulness figures.
    public var comparisonImages: Int
    public var outDirectory: URL
    public var render: RenderOptions
    /// Rank the concepts' own examples among the best matches too (marked); by default they are left out.
    public var includeExamples: Bool
    /// The precision of the CDAM maps' passes (nil: the model's); TAM and the faithfulness curves run at the
    /// model's `precision`.
    public var singleMapPrecision: Precision? = nil
    /// Classes of linear heads (class CDAM), reported after the concepts like concepts (their training images
    /// take the examples' place).
    public var heads: [ClassTargets] = []
    /// The maps of the comparison images (Smooth and Integrated CDAM only when listed: ~16 passes each).
    public var comparisonMaps = MapKind.comparison
    public var averaged = AveragedMapSettings.workbench
    /// Per-patch significance of each concept's top images' CDAM maps against this many random concepts
    /// of its kind (0: none); the significant patches are outlined on the overlays.
    public var significanceRandomConcepts = 0
    /// False-discovery rate of the per-patch significance.
    public var significanceQ = 0.05

    public init(concepts: [String], collection: String? = nil, top: Int = 8, comparisonImages: Int = 2,
                outDirectory: URL, render: RenderOptions = RenderOptions(), includeExamples: Bool = false) {
        self.concepts = concepts; self.collection = collection; self.top = top
        self.comparisonImages = comparisonImages; self.outDirectory = outDirectory; self.render = render
        self.includeExamples = includeExamples
    }
}

/// The numbers of a report: `report.json`.
public struct ReportDocument: Codable, Sendable {
    public struct Distribution: Codable, Sendable {
        public var count: Int
        public var mean: Float, std: Float, min: Float, max: Float
        /// Histogram over [min, max] in equal bins.
        public var bins: [Int]
    }
    public struct RankedImage: Codable, Sendable {
        public var rank: Int
        public var image: String
        public var sha256: String
        public var score: Float
        /// Overlay of the CDAM map, relative to the report folder (nil when the file is gone).
        public var overlay: String?
        /// Sum of positive and of negative CDAM scores.
        public var evidence: Float?
        public var counterEvidence: Float?
        /// The score's percentile among the ranked images.
        public var percentile: Double?
        /// One of the concept's examples (shown only with `includeExamples`).
        public var example: Bool = false
        /// With significance: the patches whose evidence exceeds the random concepts' (FDR-corrected), row-major.
        public var significantPatches: [Int]? = nil
    }
    public struct ConceptSection: Codable, Sendable {
        public var concept: ConceptSummary
        /// Example thumbnails, relative paths.
        public var examples: [String]
        public var distribution: Distribution
        public var top: [RankedImage]
        /// The concept's examples among the ranked images, left out of `top`.
        public var excludedExamples: Int = 0
        public var warnings: [String]?
    }
    public struct Comparison: Codable, Sendable {
        public var image: String
        public var concept: String
        public var score: Float
        /// Overlay per map, relative paths.
        public var overlays: [String: String]
        public var figures: [String: MapFigures]
    }
    public struct Grid: Codable, Sendable {
        public var concepts: [String]
        public var images: [String]
        /// scores[image][concept]
        public var scores: [[Float]]
        /// overlays[image][concept], relative paths.
        public var overlays: [[String]]
    }

    public var model: String
    public var modelSHA256: String
    public var collection: String?
    public var createdAt: String
    public var concepts: [ConceptSection]
    public var comparisons: [Comparison]
    public var grid: Grid?
    public var notes: [String]
    /// The settings that produced the comparisons' `scdam` and `icdam` maps, when there are any.
    public var mapSettings: MapSettings? = nil
}

/// Builds a concept report: `index.html` (self-contained), `report.json`, `scores.csv`, and the images.
///
/// - Throws: `WorkbenchError` for unknown concepts, a concept of another model, an empty collection or
///   an output folder that cannot be written; `StoreError` on database failures.
public func buildReport(_ request: ReportRequest, embedder: ModelEmbedder, store: Store,
                        progress: (String) -> Void = { _ in }) throws -> ReportDocument {
    guard !request.concepts.isEmpty || !request.heads.isEmpty else { throw WorkbenchError.usage("name at least one concept (see `cdam concept list`) or --head NAME") }
    let fm = FileManager.default
    // The report is written into a staging folder beside --out and swapped in whole at the end: a failed run
    // leaves the previous report as it was (never a mix of old and new files).
    let final = request.outDirectory
    try SafeWrite.checkReportFolder(final)
    let out = try SafeWrite.stagingFolder(for: final)
    var swapped = false
    defer { if !swapped { try? fm.removeItem(at: out) } }
    let imagesDir = out.appendingPathComponent("images", isDirectory: true)
    do { try fm.createDirectory(at: imagesDir, withIntermediateDirectories: true) } catch {
        throw WorkbenchError.failed("\(final.path): cannot create the report folder (\(SafeWrite.reason(error)))")
    }
    let model = embedder.model.transformer
    func singleMap(_ query: QueryRequest) -> QueryRequest {
        var q = query
        q.singleMapPrecision = request.singleMapPrecision
        return q
    }
    let resolved = try request.concepts.map { try resolveConcept($0, modelName: embedder.modelName, store: store) }
    let classTargets = try request.heads.flatMap { head in try head.fixedTargets().map { (head, $0.target, $0.classIndex) } }
    let targets = try resolved.map { try target(of: $0.concept, width: model.config.hiddenSize) } + classTargets.map(\.1)
    guard let modelRecord = try resolved.first?.model ?? store.model(named: embedder.modelName) else {
        throw WorkbenchError.failed("no concept or head is stored for model \(embedder.modelName)")
    }
    if let collection = request.collection { _ = try requireCollection(collection, store: store) }
    let index = try SearchIndex(store: store, modelID: modelRecord.id, preprocessingID: embedder.preprocessingID,
                                collection: request.collection)
    guard index.matrix.count > 0 else {
        let which = request.collection.map { "collection '\($0)'" } ?? "the database"
        throw WorkbenchError.failed("\(which) has no images embedded with \(embedder.modelName) at \(embedder.preprocessingID); run `cdam index DIR\(request.collection.map { " --collection \($0)" } ?? "")`")
    }
    var notes: [String] = []
    var prepared: [String: PreparedImage] = [:]   // by path: decode each image once
    func load(_ path: String) -> PreparedImage? {
        if let p = prepared[path] { return p }
        guard let p = try? ImageInput.prepare(URL(fileURLWithPath: path), preprocessing: embedder.preprocessing,
                                              options: embedder.decodeOptions) else {
            notes.append("\(path): could not be read for its map (moved or deleted? `cdam collection prune` forgets such files)")
            return nil
        }
        prepared[path] = p
        return p
    }
    func save(_ image: RGBImage, _ name: String) throws -> String {
        try writePNG(image, to: imagesDir.appendingPathComponent(name))
        return "images/\(name)"
    }
    // Photos and maps over them: JPEG (a tenth of the PNG's bytes in the page, and no visible loss at q90).
    func saveJPEG(_ image: RGBImage, _ name: String) throws -> String {
        try writeJPEG(image, to: imagesDir.appendingPathComponent(name), quality: 90)
        return "images/\(name)"
    }

    // Per concept: the score distribution, the top images with their CDAM overlays, example thumbnails.
    var sections: [ReportDocument.ConceptSection] = []
    var csv = "concept,rank,score,percentile,example,sha256,image\n"
    var exampleIDs: [Set<Int64>] = []
    for (c, (record, _)) in resolved.enumerated() {
        let t = targets[c]
        progress("ranking \(index.matrix.count) images for '\(t.name)'")
        let scores = try index.scores(t)
        let examples = try exampleImageIDs(of: record, store: store)
        exampleIDs.append(request.includeExamples ? [] : examples)
        let hits = try index.search(t, top: max(request.top, request.comparisonImages),
                                    excluding: request.includeExamples ? [] : examples, marking: examples)
        // Every image, examples included and marked: the CSV is the whole ranking.
        for hit in try index.search(t, top: index.matrix.count, marking: examples) {
            csv += "\(csvField(t.name)),\(hit.rank),\(hit.score),\(hit.percentile.map { String(format: "%.2f", $0) } ?? ""),\(hit.example ? 1 : 0),\(hit.sha256),\(csvField(hit.image))\n"
        }
        // Random concepts of its kind for per-patch significance, built from its stored background.
        let randoms = request.significanceRandomConcepts > 0
            ? try storedTargets(names: [record.name], contrasts: [], modelName: embedder.modelName,
                                randomConcepts: request.significanceRandomConcepts, store: store).randomTargets.first ?? []
            : []
        if request.significanceRandomConcepts > 0, randoms.isEmpty {
            notes.append("'\(t.name)' has no stored background to draw random concepts from: its maps are not tested for significance")
        }
        var top: [ReportDocument.RankedImage] = []
        for hit in hits.prefix(request.top) {
            var entry = ReportDocument.RankedImage(rank: hit.rank, image: hit.image, sha256: hit.sha256, score: hit.score,
                                                   percentile: hit.percentile, example: hit.example)
            if let p = load(hit.image) {
                progress("explaining \(hit.image)")
                let q = try explain(p, request: singleMap(QueryRequest(targets: [t], randomTargets: randoms.isEmpty ? [] : [randoms],
                                                                       significanceQ: request.significanceQ)), model: model)
                let map = q.targets[0].maps["cdam"]!
                entry.evidence = map.filter { $0 > 0 }.reduce(0, +)
                entry.counterEvidence = map.filter { $0 < 0 }.reduce(0, +)
                let significant = q.targets[0].significance?.significant
                entry.significantPatches = significant
                let renderer = OverlayRenderer(p, options: request.render)
                let note = "#\(hit.rank)" + (hit.example ? " EXAMPLE" : "") + (significant.map { "  " + significanceNote($0) } ?? "")
                let lines = renderer.lines(target: t.name, kind: t.kind.rawValue, map: .cdam, values: map, score: hit.score,
                                           percentile: hit.percentile, note: note, block: q.targets[0].block)
                entry.overlay = try saveJPEG(renderer.tile(map, grid: q.grid, lines: lines, outlined: significant),
                                             "\(fileKey(t.name))-top\(hit.rank)-cdam.jpg")
            }
            top.append(entry)
        }
        let details = try showConcept(record.name, modelName: embedder.modelName, store: store)
        var thumbs: [String] = []
        for (i, ex) in details.examples.filter({ $0.role == "positive" }).prefix(12).enumerated() {
            guard let path = ex.path, let decoded = try? decodeImage(contentsOf: URL(fileURLWithPath: path)) else { continue }
            let img = decoded.image
            let h = 112, w = max(1, Int(Double(img.width) * Double(h) / Double(img.height)))
            thumbs.append(try saveJPEG(resizeBicubic(img, width: min(w, 224), height: h), "\(fileKey(t.name))-example\(i + 1).jpg"))
        }
        sections.append(.init(concept: details.summary, examples: thumbs, distribution: distribution(scores), top: top,
                              excludedExamples: request.includeExamples ? 0 : index.count(of: examples),
                              warnings: backgroundWarnings(record, searched: request.collection)))
    }

    // Classes of heads: ranked like concepts, their training images of the class marked as examples.
    for (i, (head, t, classIndex)) in classTargets.enumerated() {
        progress("ranking \(index.matrix.count) images for class '\(t.name)'")
        let record = try resolveHead(head.head, modelName: embedder.modelName, store: store)
        let shas = try store.headImages(headID: record.head.id).filter { $0.classIndex == classIndex }.map(\.sha256)
        let examples = Set(try store.imageIDs(sha256s: shas).values)
        exampleIDs.append(request.includeExamples ? [] : examples)
        let scores = try index.scores(t)
        for hit in try index.search(t, top: index.matrix.count, marking: examples) {
            csv += "\(csvField(t.name)),\(hit.rank),\(hit.score),\(hit.percentile.map { String(format: "%.2f", $0) } ?? ""),\(hit.example ? 1 : 0),\(hit.sha256),\(csvField(hit.image))\n"
        }
        var top: [ReportDocument.RankedImage] = []
        for hit in try index.search(t, top: request.top, excluding: request.includeExamples ? [] : examples, marking: examples) {
            var entry = ReportDocument.RankedImage(rank: hit.rank, image: hit.image, sha256: hit.sha256, score: hit.score,
                                                   percentile: hit.percentile, example: hit.example)
            if let p = load(hit.image) {
                let q = try explain(p, request: singleMap(QueryRequest(targets: [t])), model: model)
                let map = q.targets[0].maps["cdam"]!
                entry.evidence = map.filter { $0 > 0 }.reduce(0, +)
                entry.counterEvidence = map.filter { $0 < 0 }.reduce(0, +)
                let renderer = OverlayRenderer(p, options: request.render)
                let lines = renderer.lines(target: t.name, kind: "class", map: .cdam, values: map, score: hit.score,
                                           percentile: hit.percentile, note: "#\(hit.rank)" + (hit.example ? " TRAINING" : ""))
                entry.overlay = try saveJPEG(renderer.tile(map, grid: q.grid, lines: lines), "class\(i)-top\(hit.rank)-cdam.jpg")
            }
            top.append(entry)
        }
        let summary = ConceptSummary(name: t.name, model: modelRecord.name, modelSHA256: modelRecord.weightsSHA256, kind: "class",
                                     description: "class '\(head.labels[classIndex])' of head '\(head.head)'", preprocessing: record.head.preprocessingID,
                                     background: "none", examples: shas.count, negatives: 0, backgroundImages: 0, quality: nil,
                                     createdAt: record.head.createdAt, updatedAt: record.head.updatedAt)
        sections.append(.init(concept: summary, examples: [], distribution: distribution(scores), top: top,
                              excludedExamples: request.includeExamples ? 0 : index.count(of: examples), warnings: nil))
    }

    // The paper's comparison for a few images of the first concept: every map, with its faithfulness figures.
    var comparisons: [ReportDocument.Comparison] = []
    if let first = targets.first, request.comparisonImages > 0 {
        for hit in try index.search(first, top: request.comparisonImages, excluding: exampleIDs.first ?? []) {
            guard let p = load(hit.image) else { continue }
            progress("comparison maps for \(hit.image) (TAM: one forward pass per patch)")
            var query = QueryRequest(targets: [first], maps: request.comparisonMaps, faithfulness: true)
            query.averaged = request.averaged
            query.singleMapPrecision = request.singleMapPrecision
            let q = try explain(p, request: query, model: model)
            var overlays: [String: String] = [:]
            let renderer = OverlayRenderer(p, options: request.render)
            let r = q.targets[0]
            for (name, map) in r.maps.sorted(by: { $0.key < $1.key }) {
                guard let kind = MapKind(rawValue: name) else { continue }
                let lines = kind == .am || kind == .rollout ? renderer.lines(targetFree: kind, values: map)
                    : renderer.lines(target: r.name, kind: r.kind, map: kind, values: map, score: r.score, percentile: hit.percentile,
                                     block: r.block)
                overlays[name] = try saveJPEG(renderer.tile(map, grid: q.grid, lines: lines), "compare-\(hit.rank)-\(name).jpg")
            }
            comparisons.append(.init(image: hit.image, concept: first.name, score: hit.score, overlays: overlays,
                                     figures: q.targets[0].figures ?? [:]))
        }
    }

    // Several concepts: every concept's map on the best images of each (one forward pass per image).
    var grid: ReportDocument.Grid? = nil
    if targets.count > 1 {
        var paths: [String] = []
        for section in sections { for hit in section.top.prefix(3) where !paths.contains(hit.image) { paths.append(hit.image) } }
        var g = ReportDocument.Grid(concepts: targets.map(\.name), images: [], scores: [], overlays: [])
        for (i, path) in paths.enumerated() {
            guard let p = load(path) else { continue }
            progress("concept grid: \(path)")
            let q = try explain(p, request: singleMap(QueryRequest(targets: targets)), model: model)
            var row: [String] = []
            let renderer = OverlayRenderer(p, options: request.render)
            for (k, t) in q.targets.enumerated() {
                let map = t.maps["cdam"]!
                let lines = renderer.lines(target: t.name, kind: t.kind, map: .cdam, values: map, score: t.score, percentile: nil,
                                           block: t.block)
                row.append(try saveJPEG(renderer.tile(map, grid: q.grid, lines: lines), "grid-\(i)-\(k).jpg"))
            }
            g.images.append(path)
            g.scores.append(q.targets.map(\.score))
            g.overlays.append(row)
            if let similar = q.similarMaps, let warning = SimilarMaps.warning(similar) { notes.append("\(path): \(warning)") }
        }
        grid = g
    }

    let legend = try save(colorBar(width: 420, scale: 1, opacity: request.render.opacity,
                                   left: "counter-evidence", centre: "0", right: "evidence"), "legend.png")
    let formatter = ISO8601DateFormatter()
    var document = ReportDocument(model: embedder.modelName, modelSHA256: embedder.modelSHA256, collection: request.collection,
                                  createdAt: formatter.string(from: Date()), concepts: sections, comparisons: comparisons,
                                  grid: grid, notes: notes)
    if !comparisons.isEmpty { document.mapSettings = MapSettings(maps: request.comparisonMaps, settings: request.averaged) }
    let json: Data
    do {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        json = try encoder.encode(document)
    } catch {
        throw WorkbenchError.failed("\(final.path): cannot encode the report (\(error))")
    }
    try SafeWrite.write(json, to: out.appendingPathComponent("report.json"), what: "report")
    try SafeWrite.write(Data(csv.utf8), to: out.appendingPathComponent("scores.csv"), what: "report")
    try SafeWrite.write(Data(ReportHTML.render(document, legend: legend, base: out).utf8),
                        to: out.appendingPathComponent("index.html"), what: "report")
    try SafeWrite.swapFolder(out, into: final, marker: "report.json")
    swapped = true
    return document
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. A text field that a spreadsheet
/// would read as a formula (starting with =, +, -, @, tab or CR) gets a leading apostrophe (OWASP's advice
/// against CSV injection); numbers are written by the caller and never pass through here.
func csvField(_ s: String) -> String {
    var s = s
    if let first = s.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { s = "'" + s }
    return s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// The histogram of the finite scores, in Double (a range of 6e38 overflows Float, and converting an
/// infinite bin position to Int traps). NaN and infinite scores are left out.
func distribution(_ scores: [Float], bins: Int = 24) -> ReportDocument.Distribution {
    let finite = scores.filter(\.isFinite).map(Double.init)
    guard let lo = finite.min(), let hi = finite.max() else {
        return .init(count: 0, mean: 0, std: 0, min: 0, max: 0, bins: [])
    }
    let n = Double(finite.count)
    let mean = finite.reduce(0, +) / n
    let std = (finite.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n).squareRoot()
    var counts = [Int](repeating: 0, count: bins)
    let width = hi - lo
    for s in finite {
        let position = width > 0 ? (s - lo) / width * Double(bins) : 0
        counts[Swift.max(0, Swift.min(bins - 1, Int(position.isFinite ? position : 0)))] += 1
    }
    return .init(count: finite.count, mean: Float(mean), std: Float(std.isFinite ? std : .greatestFiniteMagnitude),
                 min: Float(lo), max: Float(hi), bins: counts)
}
