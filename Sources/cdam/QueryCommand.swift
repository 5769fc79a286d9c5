import ArgumentParser
import Attribution
import Concepts
import Foundation
import Imaging
import Store
import Workbench

extension Target.Kind: ExpressibleByArgument {}
extension HeatmapStyle.Scaling: ExpressibleByArgument {}
extension HeatmapStyle.Upsampling: ExpressibleByArgument {}

/// How heatmaps look: shared by `query` and `report`.
struct RenderArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Colour scaling: symmetric (by max |s|) or asymmetric (positives by max, negatives by min, as the paper).", valueName: "symmetric|asymmetric"))
    var scaling: HeatmapStyle.Scaling = .symmetric
    @Option(help: ArgumentHelp("Clip the map at this quantile and 1 - it before scaling (the paper uses 0.001).", valueName: "q"))
    var clip: Float?
    @Option(help: ArgumentHelp("Upsampling of the patch grid: nearest (the paper's) or bilinear.", valueName: "nearest|bilinear"))
    var upsample: HeatmapStyle.Upsampling = .nearest
    @Option(help: "Opacity of the strongest patches over the photo, 0...1; weaker ones fade with the square root of |value|, neutral ones stay transparent.")
    var opacity: Float = 0.8
    @Option(name: .customLong("overlay-size"), help: ArgumentHelp("Long side of each picture in pixels, 64...4096 (the photo's aspect ratio is kept).", valueName: "px"))
    var overlaySize = 512

    func options() throws -> RenderOptions {
        guard (0...1).contains(opacity) else { throw ValidationError("--opacity: a number from 0 to 1") }
        guard RenderOptions.sizeRange.contains(overlaySize) else {
            throw ValidationError("--overlay-size: \(overlaySize) pixels is out of range; give \(RenderOptions.sizeRange.lowerBound) to \(RenderOptions.sizeRange.upperBound)")
        }
        return RenderOptions(style: HeatmapStyle(scaling: scaling, clipQuantile: clip, upsampling: upsample),
                             opacity: opacity, size: overlaySize)
    }
}

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Where in an image is the evidence for (and against) a concept?",
        discussion: """
        For each image and each target: the score f (a function of the image's CLS embedding e) and the signed CDAM map S_i = sum_j T_ij dF/dT_ij over the patch tokens (T: the tokens entering the last attention layer). Positive (warm) patches are evidence for the target, negative (cool) ones counter-evidence, uncoloured is neutral. One forward pass and one batched backward serve every target.

        The text output sums the map: "evidence" is the sum of the positive S_i, "counter-evidence" the sum of the negative ones. To first order, removing all the evidence patches' information would lower the score by about the evidence sum, and removing the counter-evidence would raise it by about its magnitude; their sum approximates how much of the score the patches carry. They are in the score's units, so compare them within a target, not across targets.

        Scores of different kinds are not comparable (a mean concept scores in the hundreds, a probe near 0). Each score's percentile says where it stands among reference images: the concept's stored background, the --background images, or --collection C. When two targets' maps on an image correlate above 0.95 a warning says so: they show the same evidence, and --contrast A,B or a discriminative kind tells them apart.

        Targets come from example folders built on the fly (--examples, no database needed) or from stored concepts (--concept NAME, --concept all, --contrast A,B). Class CDAM (the paper's first variant): --head NAME explains class logits f_k = w_k.e + b_k of a linear head trained with `cdam head train`; each class target reports the head's softmax probability and rank. Kinds: mean (the paper's: f = e.c, c the examples' mean embedding), cosine, contrast (two folders: "A and not B"), centred (e.(c - mu), mu a background's mean), probe (logistic regression against a background), whitened (shrinkage LDA against a background).

        Comparison maps (--maps): am (last-block CLS attention), rollout, rp (Chefer et al.'s gradient-weighted attention rule), tam (token ablation: f(all) - f(without patch i); 1 forward pass per patch), scdam (Smooth CDAM: the mean CDAM map of --smooth-samples noisy copies), icdam (Integrated CDAM: dF/dT integrated along a path from a --baseline image to the input, times T). scdam and icdam cost about 16 passes each; --perturb tokens perturbs only the tokens entering the last attention and runs only the last block per copy. The JSON's mapSettings says which settings produced them.

        Localisation (--boxes FILE): boxes of labelled objects, in the original image's pixels, as JSON ([{"image": "catdog.png", "label": "dog", "box": [x0, y0, x1, y1]}]) or CSV (image,label,x0,y0,x1,y1). An entry's image is a path or the end of one (the file name). For each map of a target whose name is a box's label (a concept's name, or a class label of --head), the share of the map's positive mass inside the label's boxes (their union; chance is the boxes' share of the image, also printed) and the pointing game (a hit when the centre of the patch of largest value lies in a box). In the JSON: "boxes" and "localisation" per target.

        Pictures (--out DIR): each map is drawn on the photo at its own aspect ratio (long side --overlay-size, default 512); warm colours are evidence, cool ones counter-evidence, and a patch's colour grows more opaque with the square root of |value|, so neutral patches leave the photo as it is. Each picture is labelled (target, kind, map, score, percentile, and the scale: the largest |value|, which the colour bar's ends stand for) and has its colour bar; AM and rollout, the same for every target, are written once per image. The panel puts the photo and every map in a grid at most 6 wide. With --crop, the part the model saw is outlined.

        Examples:
          cdam query scene.jpg --examples dogs/ --examples cats/ --out maps/
          cdam query scene.jpg --concept all --maps cdam,am --out maps/ --overlay-size 768
          cdam query scene.jpg --concept dog --maps cdam,am,rp --json
          cdam query scene.jpg --examples dogs/ --kind probe --background other/
          cdam query catdog.jpg --head pets --class dog --class cat --out maps/
          cdam query scene.jpg --head imagenet --class top5 --json
          cdam query scene.jpg --concept dog --maps cdam,scdam,icdam --baseline blurred --json
          cdam query catdog.png --concept dog --concept cat --maps cdam,am,rp --boxes boxes.csv
        """)

    @Argument(help: "Image files or folders.")
    var images: [String]

    @Option(name: .customLong("examples"), help: ArgumentHelp("A folder of example images: one concept per folder.", valueName: "dir"))
    var examples: [String] = []

    @Option(name: .customLong("concept"), help: ArgumentHelp("A stored concept (repeatable); `all` for every concept of the model: a concept atlas.", valueName: "name"))
    var conceptNames: [String] = []

    @Option(help: ArgumentHelp("Two stored concepts A,B: the target \"A and not B\" (f_A - f_B; repeatable).", valueName: "A,B"))
    var contrast: [String] = []

    @Option(help: ArgumentHelp("A stored linear head (`cdam head train`): class CDAM of its classes chosen with --class.", valueName: "name"))
    var head: String?

    @Option(name: .customLong("class"), help: ArgumentHelp("A class of --head (repeatable): a label, `all`, or topK such as top5 (the K classes the head predicts for the image; default top1).", valueName: "label"))
    var classNames: [String] = []

    @Option(help: "Concept kind for --examples: mean, cosine, contrast, centred, probe, whitened.")
    var kind: Target.Kind = .mean

    @Option(help: ArgumentHelp("Background for centred, probe and whitened --examples concepts: a folder, or a stored collection's name.", valueName: "dir|collection"))
    var background: String?

    @Option(help: ArgumentHelp("Read each score's percentile against this collection (default: each concept's background).", valueName: "name"))
    var collection: String?

    @Option(help: ArgumentHelp("Maps to compute, comma-separated: cdam, am, rollout, rp, tam, scdam, icdam.", valueName: "list"))
    var maps: String = "cdam"

    @Flag(help: "Also report each map's sparsity, deletion/insertion curves and correlation with TAM (slow: adds TAM), the model randomisation check, and the contrast between targets.")
    var faithfulness = false

    @Flag(help: "Mark the patches whose evidence for a concept exceeds R random concepts' of its kind (FDR-corrected); needs the concept's background.")
    var significance = false

    @Option(name: .customLong("random-concepts"), help: ArgumentHelp("R of --significance: the smallest p is 1/(R+1), and with 256 patches at FDR 0.05 a map needs about 13000/R patches at that floor, so keep R in the hundreds (their maps cost one batched backward).", valueName: "r"))
    var randomConcepts = 200

    @Option(help: ArgumentHelp("False-discovery rate of --significance.", valueName: "q"))
    var fdr = 0.05

    @Option(help: ArgumentHelp("A JSON or CSV file of labelled boxes (image, label, x0,y0,x1,y1 in the original image's pixels): each map of a target named as a box's label on that image gets its positive mass inside the box(es) and the pointing game (is its largest value's patch inside).", valueName: "file"))
    var boxes: String?

    @Option(help: ArgumentHelp("Write a PNG per target and map (on the photo at its aspect ratio, labelled, with its colour bar) and a panel per image (every map in a grid) here; names: IMAGE-HASH-TARGET-HASH-MAP.png, IMAGE-HASH-panel.png.", valueName: "dir"))
    var out: String?

    @OptionGroup(title: "Smooth and Integrated CDAM (--maps scdam,icdam)") var averaged: AveragedMapArguments
    @OptionGroup var render: RenderArguments
    @OptionGroup var preprocess: PreprocessOptions
    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            var options = QueryOptions(images: images)
            options.concepts = conceptNames
            options.contrasts = contrast
            options.examples = examples
            options.kind = kind
            options.background = background
            options.head = head
            options.classes = classNames
            options.collection = collection
            options.maps = try MapKind.parseList(maps)
            options.faithfulness = faithfulness
            options.significance = significance
            options.randomConcepts = randomConcepts
            options.fdr = fdr
            options.out = out.map { URL(fileURLWithPath: $0) }
            options.render = try render.options()
            options.averaged = averaged.settings
            options.boxes = boxes
            options.input = try preprocess.settings(modelOptions)
            let session = homeOptions.session()
            if output.json { session.warn = { if !$0.hasPrefix("background: ") { printError($0) } } }
            let progress = ProgressLine()
            let outcome = try session.query(options, progress: progress.update)
            for e in outcome.report.errors { printError(e.error) }
            if output.json {
                try printJSON(outcome.report)
            } else {
                printQuery(outcome.report)
            }
            if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
        }
    }
}

/// Human-readable query results: per image and target, the score, its percentile and where the evidence is.
func printQuery(_ report: QueryReport) {
    for r in report.results {
        print("\(r.image)  (\(r.size[1])x\(r.size[0]), grid \(r.grid[0])x\(r.grid[1]))")
        for t in r.targets {
            let map = t.maps["cdam"] ?? []
            let pos = map.filter { $0 > 0 }.reduce(0, +), neg = map.filter { $0 < 0 }.reduce(0, +)
            let percentile = t.percentile.map { String(format: " (%5.1f%%ile)", $0) } ?? "            "
            var line = "  " + t.name.padding(toLength: max(24, t.name.count), withPad: " ", startingAt: 0) + " "
                + t.kind.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: " score %10.4f", t.score) + percentile
                + String(format: "   evidence %+.4g   counter-evidence %+.4g", pos, neg)
            if let p = t.probability, let rank = t.rank { line += String(format: "   p %.3f, rank %d of head '%@'", p, rank, t.head ?? "") }
            if let cdam = t.figures?["cdam"] {
                line += String(format: "   sparsity %.2f  r(TAM) %.2f", cdam.sparsity, cdam.tamCorrelation ?? .nan)
                if let r = cdam.randomizationRankCorrelation { line += String(format: "  rank r(randomised model) %.2f", r) }
            }
            if let s = t.significance {
                line += "   \(s.significant.count) of \(s.pValues.count) patches significant (\(s.randomConcepts) random concepts, FDR \(s.q))"
            }
            print(line)
            if let path = t.overlays?["cdam"] { print("    \(path)") }
            if let loc = t.localisation, let share = loc.values.first?.boxShare {
                let order = MapKind.allCases.map(\.rawValue).filter { loc[$0] != nil }
                let figures = order.map { name in
                    String(format: "%@ %.2f %@", name, loc[name]!.massInBox, loc[name]!.pointingHit ? "hit" : "miss")
                }
                let count = t.boxes?.count ?? 0
                print(String(format: "    %d box%@ of '%@' (%.0f%% of the image): share of the positive mass inside, pointing game: ", count, count == 1 ? "" : "es", t.name, 100 * share)
                      + figures.joined(separator: ", "))
            }
        }
        for c in r.contrasts ?? [] {
            print(String(format: "  contrast %@ / %@: map correlation %.2f, evidence overlap %.2f", c.a, c.b, c.correlation, c.evidenceOverlap))
        }
        if let panel = r.panel { print("  panel: \(panel)") }
        for warning in r.warnings ?? [] { print("  warning: \(warning)") }
    }
    let references = Set(report.results.flatMap { $0.targets.compactMap(\.percentileOf) })
    if !references.isEmpty {
        print("percentiles: where each score stands among \(references.sorted().joined(separator: "; ")) (100: above all)")
    }
}
