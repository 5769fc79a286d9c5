import ArgumentParser
import Foundation
import Workbench

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the numeric core on the installed model (speed, peak memory).",
        discussion: """
        Suites: sgemm (the BLAS rate, and the linear layers' product kernel), forward (embedding throughput), efficiency (the forward pass at --batch and OpenBLAS sgemm 2048^3 in alternation: the forward's rate as a share of the BLAS's on the same host minute), cdam (maps for 1 and 32 targets), rp, tam, or all; smooth (not in all: Smooth CDAM N = 16 and Integrated CDAM M = 16 against one CDAM map, batched in passes of --batch, unbatched, and with --perturb tokens); and, given --images DIR, imaging (decode + preprocess) and index (embedding with and without the store); pictures (rendering a labelled 512-px overlay and a 42-tile panel, and writing them as PNG with libpng's defaults, as before, and with the fast writer; the first of --images when given, else a synthetic photo); heads (training a linear head on 500 synthetic embeddings of 10 classes, and its 5-fold cross-validation; embedding excluded; with --images DIR, one sub-folder per class, also on those photos' real embeddings); search (100,000 synthetic stored embeddings in --db, default a temporary file). Run one suite per process to read its peak memory. scripts/bench.sh runs the model suites beside the PyTorch reference (scripts/reference/bench_torch.py) in the same run.

        Examples:
          cdam bench cdam
          cdam bench efficiency --json
          cdam bench index --images photos/
          cdam bench pictures --images photo.jpg
          cdam bench heads --images labelled-photos/
          cdam bench bf16 --batch 8
          cdam bench forward --precision bf16
        """)

    enum Suite: String, CaseIterable, ExpressibleByArgument {
        case sgemm, forward, efficiency, cdam, rp, tam, all, smooth, imaging, index, search, pictures, heads, bf16
    }

    @Argument(help: "The suite (see above).")
    var suite: Suite = .all

    @Option(help: "Input side in pixels (a multiple of the patch size).")
    var size: Int = 224

    @Option(help: "Batch size for forward, tam and smooth (default 8; smooth: 16).")
    var batch: Int?

    @Option(help: "Repetitions (the median is reported).")
    var repeats: Int = 5

    @Option(help: ArgumentHelp("Photos for the imaging and index suites.", valueName: "dir"))
    var images: String?

    @Option(help: "Stored embeddings for the search suite.")
    var count: Int = 100_000

    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let batch = self.batch ?? 8
        try await runReportingErrors {
            var figures: [BenchmarkFigure] = []
            let report = { (f: BenchmarkFigure) in
                figures.append(f)
                if !output.json {
                    let rate = f.gflops.map { String(format: "  %7.1f GFLOP/s", $0) } ?? ""
                    print(f.name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: " %10.2f ms/", f.milliseconds) + f.unit + (f.best.map { String(format: " (best %.2f)", $0) } ?? "") + rate + (f.detail.map { "  (\($0))" } ?? ""))
                }
            }
            if suite == .sgemm || suite == .all {
                Benchmarks.sgemm(repeats: repeats).forEach(report)
                report(Benchmarks.linear(repeats: repeats))
            }
            if suite == .pictures {
                let photo = try images.map { try ImageInput.expand([$0]) }?.first
                try Benchmarks.pictures(photo: photo, size: size == 224 ? 512 : size, repeats: repeats).forEach(report)
            } else if suite == .imaging || suite == .index {
                guard let images else { throw WorkbenchError.usage("the \(suite.rawValue) suite needs --images DIR") }
                let files = try ImageInput.expand([images])
                if suite == .imaging {
                    report(Benchmarks.imaging(files, size: size))
                } else {
                    let embedder = try openEmbedder(home: homeOptions.resolvedHome, model: modelOptions.model, height: size, width: size,
                                                    crop: false, allowTruncated: false, precision: modelOptions.multiPassPrecision())
                    let db = URL(fileURLWithPath: homeOptions.db ?? NSTemporaryDirectory() + "/cdam-bench-index.sqlite")
                    try Benchmarks.indexing(files, embedder: embedder, database: db).forEach(report)
                }
            } else if suite == .search {
                let db = URL(fileURLWithPath: homeOptions.db ?? NSTemporaryDirectory() + "/cdam-bench-search.sqlite")
                try Benchmarks.search(database: db, count: count).forEach(report)
            } else if suite == .heads {
                Benchmarks.heads(repeats: repeats).forEach(report)
                if let images {
                    let embedder = try openEmbedder(home: homeOptions.resolvedHome, model: modelOptions.model, height: size, width: size,
                                                    crop: false, allowTruncated: false, precision: modelOptions.multiPassPrecision())
                    let db = URL(fileURLWithPath: homeOptions.db ?? NSTemporaryDirectory() + "/cdam-bench-heads.sqlite")
                    try Benchmarks.headTraining(folder: URL(fileURLWithPath: images), embedder: embedder, database: db).forEach(report)
                }
            } else if suite != .sgemm {
                let model = try ModelRegistry(home: homeOptions.resolvedHome).load(modelOptions.model).transformer
                model.precision = try modelOptions.multiPassPrecision()
                if suite == .bf16 {
                    try Benchmarks.precision(model, size: size, batch: batch, repeats: repeats).forEach(report)
                }
                if suite == .forward || suite == .all {
                    report(try Benchmarks.forward(model, size: size, batch: 1, repeats: repeats))
                    if batch != 1 { report(try Benchmarks.forward(model, size: size, batch: batch, repeats: repeats)) }
                }
                if suite == .efficiency || suite == .all {
                    report(try Benchmarks.efficiency(model, size: size, batch: batch, repeats: repeats))
                }
                if suite == .cdam || suite == .all {
                    try Benchmarks.cdamMaps(model, size: size, targets: 0, repeats: repeats).forEach(report)
                    try Benchmarks.cdamMaps(model, size: size, targets: 1, repeats: repeats).forEach(report)
                    try Benchmarks.cdamMaps(model, size: size, targets: 32, repeats: repeats).forEach(report)
                }
                if suite == .rp || suite == .all { report(try Benchmarks.relevance(model, size: size, repeats: repeats)) }
                if suite == .tam || suite == .all { report(try Benchmarks.tokenAblation(model, size: size, batch: batch)) }
                if suite == .smooth {
                    try Benchmarks.averagedMaps(model, size: size, batch: self.batch ?? 16, repeats: repeats).forEach(report)
                }
            }
            let rss = Benchmarks.peakRSSMegabytes
            if output.json {
                struct Doc: Encodable { var suite: String; var figures: [BenchmarkFigure]; var peakRSSMegabytes: Double }
                try printJSON(Doc(suite: suite.rawValue, figures: figures, peakRSSMegabytes: rss))
            } else {
                print(String(format: "peak RSS %.0f MB", rss))
            }
        }
    }
}
