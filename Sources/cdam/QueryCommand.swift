import ArgumentParser
import Concepts
import Foundation
import Imaging
import Store
import Workbench

extension Target.Kind: ExpressibleByArgument {}

/// How heatmaps look: shared by `query` and `report`.
struct RenderArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Colour scaling: symmetric (by max |s|) or asymmetric (positives by max, negatives by min, as the paper).", valueName: "symmetric|asymmetric"))
    var scaling: String = "symmetric"
    @Option(help: ArgumentHelp("Clip the map at this quantile and 1 - it before scaling (the paper uses 0.001).", valueName: "q"))
    var clip: Float?
    @Option(help: ArgumentHelp("Upsampling of the patch grid: nearest (the paper's) or bilinear.", valueName: "nearest|bilinear"))
    var upsample: String = "nearest"
    @Option(help: "Heatmap opacity over the image, 0...1.")
    var opacity: Float = 0.6

    func options() throws -> RenderOptions {
        guard ["symmetric", "asymmetric"].contains(scaling) else { throw ValidationError("--scaling: symmetric or asymmetric") }
        guard ["nearest", "bilinear"].contains(upsample) else { throw ValidationError("--upsample: nearest or bilinear") }
        guard (0...1).contains(opacity) else { throw ValidationError("--opacity: a number from 0 to 1") }
        return RenderOptions(style: HeatmapStyle(scaling: scaling == "symmetric" ? .symmetric : .asymmetric, clipQuantile: clip,
                                                 upsampling: upsample == "nearest" ? .nearest : .bilinear), opacity: opacity)
    }
}

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Where in an image is the evidence for (and against) a concept?",
        discussion: """
        For each image and each target: the score f (a function of the image's CLS embedding e) and the signed CDAM map S_i = sum_j T_ij dF/dT_ij over the patch tokens (T: the tokens entering the last attention layer). Positive (warm) patches are evidence for the target, negative (cool) ones counter-evidence, black is neutral. One forward pass and one batched backward serve every target.

        Targets come from example folders built on the fly (--examples, no database needed) or from stored concepts (--concept NAME, --concept all, --contrast A,B). Kinds: mean (the paper's: f = e.c, c the examples' mean embedding), cosine, contrast (two folders: "A and not B"), centred (e.(c - mu), mu a background's mean), probe (logistic regression against a background), whitened (shrinkage LDA against a background).

        Comparison maps (--maps): am (last-block CLS attention), rollout, rp (Chefer et al.'s gradient-weighted attention rule), tam (token ablation: f(all) - f(without patch i); 1 forward pass per patch).

        Examples:
          cdam query scene.jpg --examples dogs/ --examples cats/ --out maps/
          cdam query scene.jpg --concept dog --maps cdam,am,rp --json
          cdam query scene.jpg --examples dogs/ --kind probe --background other/
        """)

    @Argument(help: "Image files or folders.")
    var images: [String]

    @Option(name: .customLong("examples"), help: ArgumentHelp("A folder of example images: one concept per folder.", valueName: "dir"))
    var examples: [String] = []

    @Option(name: .customLong("concept"), help: ArgumentHelp("A stored concept (repeatable); `all` for every concept of the model: a concept atlas.", valueName: "name"))
    var conceptNames: [String] = []

    @Option(help: ArgumentHelp("Two stored concepts A,B: the target \"A and not B\" (f_A - f_B; repeatable).", valueName: "A,B"))
    var contrast: [String] = []

    @Option(help: "Concept kind for --examples: mean, cosine, contrast, centred, probe, whitened.")
    var kind: Target.Kind = .mean

    @Option(help: ArgumentHelp("Background images for centred, probe and whitened concepts.", valueName: "dir"))
    var background: String?

    @Option(help: ArgumentHelp("Maps to compute, comma-separated: cdam, am, rollout, rp, tam.", valueName: "list"))
    var maps: String = "cdam"

    @Flag(help: "Also report each map's sparsity, deletion/insertion curves and correlation with TAM (slow: adds TAM).")
    var faithfulness = false

    @Option(help: ArgumentHelp("Write heatmap overlays and a side-by-side panel per image as PNG here.", valueName: "dir"))
    var out: String?

    @OptionGroup var render: RenderArguments
    @OptionGroup var preprocess: PreprocessOptions
    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let mapKinds = try MapKind.parseList(maps)
            let renderOptions = try render.options()
            let embedder = try commandEmbedder(homeOptions, modelOptions, preprocess)
            let files = try imageArguments(images)
            // Concepts are built at the default size (224), as stored concepts are; they may be queried at any size.
            let p = embedder.preprocessing
            let conceptEmbedder = (p.height == 224 && p.width == 224) ? embedder
                : ModelEmbedder(model: embedder.model, preprocessing: Preprocessing(size: 224, crop: preprocess.crop), decodeOptions: embedder.decodeOptions)
            guard !examples.isEmpty || !conceptNames.isEmpty || !contrast.isEmpty else {
                throw WorkbenchError.usage("say what to look for: --concept NAME (stored), --contrast A,B, or --examples DIR")
            }
            var targets: [Target] = []
            var failedConcepts = 0
            if !conceptNames.isEmpty || !contrast.isEmpty {
                let store = try Store.open(at: homeOptions.databaseURL)
                let stored = try storedTargets(names: conceptNames, contrasts: contrast, modelName: embedder.modelName, store: store)
                for problem in stored.errors { printError("error: \(problem)") }
                failedConcepts = stored.errors.count
                targets += stored.targets
            }
            if !examples.isEmpty {
                targets += try ExampleConcepts.build(folders: examples, kind: kind, background: background, embedder: conceptEmbedder,
                                                     warn: { printError($0) })
            }
            guard !targets.isEmpty else { throw ExitCode(1) }
            let request = QueryRequest(targets: targets, maps: mapKinds, faithfulness: faithfulness,
                                       outDirectory: out.map { URL(fileURLWithPath: $0) }, render: renderOptions)
            let progress = ProgressLine("explaining")
            let report = runQuery(files, request: request, embedder: embedder, progress: progress.update)
            for e in report.errors { printError(e.error) }
            if output.json {
                try printJSON(report)
            } else {
                printQuery(report)
            }
            try exitForPartialFailure(failed: report.errors.count, total: files.count)
            if failedConcepts > 0 { throw ExitCode(3) }
        }
    }
}

/// Human-readable query results: per image and target, the score and where the evidence is.
func printQuery(_ report: QueryReport) {
    for r in report.results {
        print("\(r.image)  (\(r.size[1])x\(r.size[0]), grid \(r.grid[0])x\(r.grid[1]))")
        for t in r.targets {
            let map = t.maps["cdam"] ?? []
            let pos = map.filter { $0 > 0 }.reduce(0, +), neg = map.filter { $0 < 0 }.reduce(0, +)
            var line = "  " + t.name.padding(toLength: max(24, t.name.count), withPad: " ", startingAt: 0) + " "
                + t.kind.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: " score %10.4f   evidence %+.4g   counter-evidence %+.4g", t.score, pos, neg)
            if let cdam = t.figures?["cdam"] {
                line += String(format: "   sparsity %.2f  r(TAM) %.2f", cdam.sparsity, cdam.tamCorrelation ?? .nan)
            }
            print(line)
            if let path = t.overlays?["cdam"] { print("    \(path)") }
        }
        if let panel = r.panel { print("  panel: \(panel)") }
    }
}
