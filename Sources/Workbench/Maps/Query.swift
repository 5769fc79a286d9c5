import Attribution
import Concepts
import Foundation
import Imaging
import TensorMath
import ViT

/// The maps `query` can compute (CDAM.md).
public enum MapKind: String, Codable, CaseIterable, Sendable {
    case cdam, am, rollout, rp, tam
    /// Smooth CDAM and Integrated CDAM (SmoothCDAM.swift): about 16 passes each, computed only when asked for.
    case scdam, icdam

    /// The single-pass maps and TAM: what a report compares unless told otherwise.
    public static let comparison: [MapKind] = [.cdam, .am, .rollout, .rp, .tam]

    /// Parses "cdam,am,rp".
    /// - Throws: `WorkbenchError.usage` naming an unknown map.
    public static func parseList(_ text: String) throws -> [MapKind] {
        try text.split(separator: ",").map { part in
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            guard let kind = MapKind(rawValue: name) else {
                throw WorkbenchError.usage("--maps: unknown map '\(name)'; choose from \(MapKind.allCases.map(\.rawValue).joined(separator: ","))")
            }
            return kind
        }
    }
}

/// The faithfulness figures of one map (CDAM.md, "Figures to know").
public struct MapFigures: Codable, Sendable {
    /// Fraction of |s| < 0.05 max|s|.
    public var sparsity: Float
    /// Pearson correlation with TAM over the patches (nil for TAM itself).
    public var tamCorrelation: Float?
    /// Score as tokens are removed (deletion) or revealed (insertion) in the map's order.
    public var curves: FaithfulnessCurves
    public var deletionArea: Float
    public var insertionArea: Float
    /// CDAM only: Spearman correlation between the map and the map of the model whose last block was
    /// re-initialised (Adebayo et al.'s sanity check): far below 1 means the map depends on what the model learned.
    public var randomizationRankCorrelation: Float?
}

/// One target's result on one image: the `targets` entries of INTERFACE.md's `query` document.
public struct QueryTarget: Codable, Sendable {
    public var name: String
    public var kind: String
    public var score: Float
    /// The score's percentile (0-100) among a reference set of images (the concept's background or a
    /// collection); nil when no reference is available.
    public var percentile: Double?
    /// What the percentile is read against ("the concept's background (512 images)").
    public var percentileOf: String?
    /// Only the maps asked for; gh*gw numbers each, row-major.
    public var maps: [String: [Float]]
    /// With `faithfulness`: per map, its figures.
    public var figures: [String: MapFigures]?
    /// Paths of the rendered overlays, by map.
    public var overlays: [String: String]?
    /// With `--significance`: which patches' evidence exceeds R random concepts' (FDR-corrected).
    public var significance: PatchSignificance?
    /// With `--boxes`: the boxes whose label is this target's name (original image pixels), and per map
    /// asked for, its positive mass inside them and the pointing game.
    public var boxes: [PixelBox]? = nil
    public var localisation: [String: BoxLocalisation]? = nil
    /// The block whose CLS embedding the target scores, when it is not the last (its map is taken there).
    public var block: Int? = nil
    /// A class target (kind `class`): its head, the head's softmax probability of the class and its rank (1: predicted).
    public var head: String? = nil
    public var probability: Double? = nil
    public var rank: Int? = nil
}

/// One image's results.
public struct QueryImage: Codable, Sendable {
    public var image: String
    public var sha256: String
    /// The decoded image's [height, width].
    public var size: [Int]
    /// The patch grid [gh, gw].
    public var grid: [Int]
    public var targets: [QueryTarget]
    /// The side-by-side panel (image, then the CDAM map of each target), when rendered.
    public var panel: String?
    public var warnings: [String]?
    /// Pairs of targets whose CDAM maps on this image correlate above `SimilarMaps.threshold`: they point at
    /// the same evidence, so the maps cannot tell the targets apart.
    public var similarMaps: [SimilarMaps]?
    /// With `faithfulness` and two or more targets: correlation and evidence overlap of every pair's CDAM maps.
    public var contrasts: [MapContrast]?
}

/// Two targets whose CDAM maps on one image are nearly the same.
public struct SimilarMaps: Codable, Sendable, Equatable {
    public var a: String
    public var b: String
    /// Pearson correlation of the two maps over the patches.
    public var correlation: Float
    /// Above this, two maps are called the same evidence.
    public static let threshold: Float = 0.95

    /// Every pair of `maps` (by target) correlating above the threshold, most similar first.
    public static func find(names: [String], maps: [[Float]]) -> [SimilarMaps] {
        var out: [SimilarMaps] = []
        for i in maps.indices { for j in maps.indices where j > i {
            let r = pearson(maps[i], maps[j])
            if r > threshold { out.append(SimilarMaps(a: names[i], b: names[j], correlation: r)) }
        } }
        return out.sorted { $0.correlation > $1.correlation }
    }

    /// One warning line for a set of similar pairs (nil when there are none).
    public static func warning(_ pairs: [SimilarMaps]) -> String? {
        guard let top = pairs.first else { return nil }
        let example = String(format: "'%@' and '%@' correlate at %.3f", top.a, top.b, top.correlation)
        let more = pairs.count > 1 ? " (and \(pairs.count - 1) more pair\(pairs.count == 2 ? "" : "s") above \(threshold))" : ""
        return "the CDAM maps of \(example)\(more): they show the same evidence, so the maps cannot tell these concepts apart; try --contrast \(top.a),\(top.b) or a discriminative kind (centred, probe, whitened)"
    }
}

/// The `query` document of INTERFACE.md.
public struct QueryReport: Codable, Sendable {
    public var model: String
    public var results: [QueryImage]
    public var errors: [FileFailure]
    /// The settings that produced the `scdam` and `icdam` maps, when there are any.
    public var mapSettings: MapSettings? = nil
}

/// What to compute for each image.
public struct QueryRequest: Sendable {
    public var targets: [Target]
    public var maps: [MapKind]
    /// Also compute sparsity, deletion/insertion curves and the correlation with TAM (costs N + 2*17 extra passes per map).
    public var faithfulness: Bool
    /// Folder for the PNG overlays and the panel (nil: no images).
    public var outDirectory: URL?
    public var render: RenderOptions
    /// Per target (or empty): the reference its score's percentile is read against.
    public var references: [ScoreReference?]
    /// Per target (or empty): random concepts of its kind for per-patch significance (none: no test).
    public var randomTargets: [[Target]]
    /// False-discovery rate of the per-patch significance.
    public var significanceQ: Double
    /// Classes of linear heads, explained after `targets` (class CDAM); chosen per image.
    public var heads: [ClassTargets] = []
    /// Settings of the `scdam` and `icdam` maps.
    public var averaged = AveragedMapSettings.workbench
    /// Boxes of labelled objects: every map of a target named as a box's label gets localisation figures.
    public var boxes: BoxFile? = nil
    /// The precision of the one pass that CDAM, AM, rollout and RP read (nil: the model's). The multi-pass
    /// maps (TAM, Smooth/Integrated CDAM, faithfulness curves) run at the model's `precision`.
    public var singleMapPrecision: Precision? = nil

    public init(targets: [Target], maps: [MapKind] = [.cdam], faithfulness: Bool = false, outDirectory: URL? = nil,
                render: RenderOptions = RenderOptions(), references: [ScoreReference?] = [],
                randomTargets: [[Target]] = [], significanceQ: Double = 0.05) {
        self.targets = targets
        self.references = references
        self.randomTargets = randomTargets
        self.significanceQ = significanceQ
        self.maps = maps
        self.faithfulness = faithfulness
        self.outDirectory = outDirectory
        self.render = render
    }
}

/// Explains images against targets: one forward pass per image serves every target's CDAM map
/// (one batched backward); the comparison maps are computed on request.
public func runQuery(_ files: [URL], request: QueryRequest, embedder: ModelEmbedder,
                     progress: ((LibraryProgress) -> Void)? = nil) -> QueryReport {
    var report = QueryReport(model: embedder.modelName, results: [], errors: [])
    report.mapSettings = MapSettings(maps: request.maps, settings: request.averaged)
    if let out = request.outDirectory {
        do { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true) } catch {
            report.errors = files.map { FileFailure(image: $0.path, error: WorkbenchError.failed("\(out.path): cannot create the output folder (\(error.localizedDescription))")) }
            return report
        }
    }
    for (i, file) in files.enumerated() {
        do {
            let prepared = try ImageInput.prepare(file, preprocessing: embedder.preprocessing, options: embedder.decodeOptions)
            report.results.append(try explain(prepared, request: request, model: embedder.model.transformer))
        } catch {
            report.errors.append(FileFailure(image: file.path, error: error))
        }
        progress?(LibraryProgress(phase: "explaining", done: i + 1, total: files.count))
    }
    return report
}

/// All requested maps for one prepared image.
/// - Throws: `WorkbenchError` when an output file cannot be written.
public func explain(_ image: PreparedImage, request: QueryRequest, model full: VisionTransformer) throws -> QueryImage {
    // A target of an earlier block is explained on the network truncated after it: one pass per block.
    let blocks = Set(request.targets.map(\.block))
    if blocks.count > 1 { return try explainPerBlock(image, request: request, model: full) }
    let model = try full.truncated(after: blocks.first.flatMap { $0 } ?? full.config.layers)
    let h = image.resized.height, w = image.resized.width
    // Explicit checks before the backward pass reads the directions (no precondition: -Ounchecked removes them).
    for t in request.targets + request.randomTargets.flatMap({ $0 }) {
        if let problem = t.problem(width: model.config.hiddenSize) {
            throw WorkbenchError.failed("target '\(t.name)' cannot be used with this model: \(problem)")
        }
    }
    let wants = Set(request.maps).union(request.faithfulness ? [.tam] : [])
    let options = ForwardOptions(keep: wants.contains(.rp) ? .allBlocks : .lastBlock, attentions: wants.contains(.rollout),
                                 precision: request.singleMapPrecision)
    let result = try model.forward(pixels: image.pixels, batch: 1, height: h, width: w, options: options)
    let chosen = request.heads.flatMap { $0.targets(for: result.embedding(0)) }
    let targets = request.targets + chosen.map(\.target)
    let cdamResult = cdam(model, result, image: 0, targets: targets)
    var perTarget: [[String: [Float]]] = targets.map { _ in [:] }
    for k in targets.indices { perTarget[k][MapKind.cdam.rawValue] = cdamResult.maps[k] }
    if wants.contains(.am) {
        let am = attentionMap(model, result, image: 0)
        for k in targets.indices { perTarget[k][MapKind.am.rawValue] = am }
    }
    if wants.contains(.rollout) {
        let rollout = attentionRollout(model, result, image: 0)
        for k in targets.indices { perTarget[k][MapKind.rollout.rawValue] = rollout }
    }
    if wants.contains(.rp) {
        for (k, map) in relevancePropagation(model, result, image: 0, targets: targets).enumerated() {
            perTarget[k][MapKind.rp.rawValue] = map
        }
    }
    for (kind, maps) in try averagedMaps(wants.intersection([.scdam, .icdam]), image: image, targets: targets,
                                         settings: request.averaged, model: model, forward: result) {
        for k in targets.indices { perTarget[k][kind.rawValue] = maps[k] }
    }
    var scorer: TokenSubsetScorer? = nil
    if wants.contains(.tam) {
        let s = TokenSubsetScorer(model: model, pixels: image.pixels, height: h, width: w, targets: targets)
        for (k, map) in s.tokenAblationMaps(fullScores: cdamResult.scores).enumerated() { perTarget[k][MapKind.tam.rawValue] = map }
        scorer = s
    }

    // The model randomisation check: the same targets' maps with the last block re-initialised.
    var randomizedMaps: [[Float]] = []
    if request.faithfulness {
        let random = randomizedLastBlock(model)
        let r = try random.forward(pixels: image.pixels, batch: 1, height: h, width: w, options: ForwardOptions(keep: .lastBlock))
        randomizedMaps = cdam(random, r, image: 0, targets: targets).maps
    }
    var out: [QueryTarget] = []
    var boxWarnings: [String] = []
    for (k, target) in targets.enumerated() {
        var figures: [String: MapFigures]? = nil
        if request.faithfulness, let scorer, let tam = perTarget[k][MapKind.tam.rawValue] {
            var f: [String: MapFigures] = [:]
            let named = perTarget[k].sorted { $0.key < $1.key }
            let allCurves = scorer.curves(maps: named.map(\.value), target: k, fullScore: cdamResult.scores[k])
            for ((name, map), curves) in zip(named, allCurves) {
                f[name] = MapFigures(sparsity: sparsityRatio(map), tamCorrelation: name == "tam" ? nil : pearson(map, tam),
                                     curves: curves, deletionArea: curves.deletionArea, insertionArea: curves.insertionArea)
            }
            if k < randomizedMaps.count, let cdamMap = perTarget[k][MapKind.cdam.rawValue] {
                f[MapKind.cdam.rawValue]?.randomizationRankCorrelation = spearman(cdamMap, randomizedMaps[k])
            }
            figures = f
        }
        let shown = perTarget[k].filter { request.maps.contains(MapKind(rawValue: $0.key)!) }
        let reference = k < request.references.count ? request.references[k] : nil
        var significance: PatchSignificance? = nil
        if k < request.randomTargets.count, !request.randomTargets[k].isEmpty {
            let randoms = request.randomTargets[k]
            let randomMaps = cdam(model, result, image: 0, targets: randoms).maps
            significance = PatchSignificance(map: cdamResult.maps[k], norm: directionNorm(target),
                                             randomMaps: zip(randomMaps, randoms).map { ($0, directionNorm($1)) },
                                             q: request.significanceQ)
        }
        out.append(QueryTarget(name: target.name, kind: target.kind.rawValue, score: cdamResult.scores[k],
                               percentile: reference?.percentile(of: cdamResult.scores[k]), percentileOf: reference?.label,
                               maps: shown, figures: figures, overlays: nil, significance: significance))
        if let b = target.block, b < full.config.layers { out[k].block = b }
        if let file = request.boxes {
            let boxes = file.boxes(for: image.url, label: target.name)
            if !boxes.isEmpty {
                let region = image.preprocessing.inputRegion(width: image.original.width, height: image.original.height)
                let coverage = BoxCoverage(boxes: boxes, gridHeight: result.gridHeight, gridWidth: result.gridWidth, region: region)
                out[k].boxes = boxes
                out[k].localisation = shown.mapValues { BoxLocalisation(map: $0, coverage: coverage) }
                boxWarnings += boxes.compactMap { b in
                    b.x1 > Double(image.original.width) + 1 || b.y1 > Double(image.original.height) + 1
                        ? String(format: "box of '%@' (%g,%g,%g,%g) reaches beyond the image (%dx%d): boxes are in the original image's pixels",
                                 target.name, b.x0, b.y0, b.x1, b.y1, image.original.width, image.original.height) : nil
                }
            }
        }
    }
    for (i, c) in chosen.enumerated() {
        let k = request.targets.count + i
        out[k].head = c.head; out[k].probability = c.probability; out[k].rank = c.rank
    }
    let similar = SimilarMaps.find(names: targets.map(\.name), maps: cdamResult.maps)
    let warnings = image.warnings + boxWarnings + [SimilarMaps.warning(similar)].compactMap { $0 }
    var contrasts: [MapContrast]? = nil
    if request.faithfulness, targets.count > 1 {
        contrasts = targets.indices.flatMap { a in (a + 1..<targets.count).map { b in
            MapContrast(a: targets[a].name, b: targets[b].name, mapA: cdamResult.maps[a], mapB: cdamResult.maps[b])
        } }
    }
    var entry = QueryImage(image: image.url.path, sha256: image.sha256, size: [image.original.height, image.original.width],
                           grid: [result.gridHeight, result.gridWidth], targets: out, panel: nil,
                           warnings: warnings.isEmpty ? nil : warnings, similarMaps: similar.isEmpty ? nil : similar,
                           contrasts: contrasts)
    if let dir = request.outDirectory {
        try renderQueryImages(&entry, image: image, directory: dir, render: request.render)
    }
    return entry
}

/// `explain` for targets of several blocks: each block's targets in one pass of its network, merged in
/// the order asked for; the pictures are drawn once, from the merged result.
func explainPerBlock(_ image: PreparedImage, request: QueryRequest, model: VisionTransformer) throws -> QueryImage {
    let order = Array(Set(request.targets.map(\.block))).sorted { ($0 ?? .max) > ($1 ?? .max) }
    var merged: QueryImage? = nil
    var targets = [QueryTarget?](repeating: nil, count: request.targets.count)
    for block in order {
        let picked = request.targets.indices.filter { request.targets[$0].block == block }
        var sub = request
        sub.targets = picked.map { request.targets[$0] }
        sub.references = picked.map { $0 < request.references.count ? request.references[$0] : nil }
        sub.randomTargets = picked.map { $0 < request.randomTargets.count ? request.randomTargets[$0] : [] }
        sub.outDirectory = nil
        let part = try explain(image, request: sub, model: model)
        for (k, t) in zip(picked, part.targets) { targets[k] = t }
        if merged == nil { merged = part; continue }
        merged!.warnings = ((merged!.warnings ?? []) + (part.warnings ?? [])).uniqued.nilIfEmpty
        merged!.similarMaps = ((merged!.similarMaps ?? []) + (part.similarMaps ?? [])).nilIfEmpty
        merged!.contrasts = ((merged!.contrasts ?? []) + (part.contrasts ?? [])).nilIfEmpty
    }
    var entry = merged!
    entry.targets = targets.compactMap { $0 }
    if let dir = request.outDirectory {
        try renderQueryImages(&entry, image: image, directory: dir, render: request.render)
    }
    return entry
}

private extension Array {
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}

private extension Array where Element: Hashable {
    /// The elements in order, each once.
    var uniqued: [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// |w| of a linear target (CDAM is linear in w); 1 for a cosine target, whose score ignores |w|.
func directionNorm(_ t: Target) -> Float {
    t.isCosine ? 1 : t.direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
}
