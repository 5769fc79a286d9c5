import Attribution
import Concepts
import Foundation
import Imaging
import Store
import TensorMath
import ViT

/// One benchmark figure.
public struct BenchmarkFigure: Codable, Sendable {
    public var name: String
    /// Median milliseconds per unit (per image, per map set, ...).
    public var milliseconds: Double
    public var unit: String
    /// Effective GFLOP/s where a FLOP count is meaningful.
    public var gflops: Double?
    public var detail: String?
    /// The fastest repetition, in the same unit as `milliseconds`.
    public var best: Double?
    /// For figures that compare two measures: their ratio (the efficiency suite: forward rate / sgemm rate).
    public var ratio: Double?

    public init(name: String, milliseconds: Double, unit: String, gflops: Double?, detail: String?, best: Double? = nil,
                ratio: Double? = nil) {
        self.name = name; self.milliseconds = milliseconds; self.unit = unit; self.gflops = gflops; self.detail = detail
        self.best = best; self.ratio = ratio
    }
}

/// Benchmarks of the numeric core on the installed model, timed in-process (median of repeats).
public enum Benchmarks {
    /// The process's peak resident set size in megabytes.
    public static var peakRSSMegabytes: Double {
        var usage = rusage()
        getrusage(__rusage_who_t(0), &usage)  // RUSAGE_SELF
        return Double(usage.ru_maxrss) / 1024
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// The best of the last run's timings, for the figure's detail: shared cloud cores are noisy.
    nonisolated(unsafe) static var lastBest: Double = 0

    /// Milliseconds that one run of `body` takes.
    static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    static func time(_ repeats: Int, warmup: Int = 1, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        for _ in 0..<repeats { times.append(try milliseconds(body)) }
        lastBest = times.min() ?? 0
        return median(times)
    }

    /// FLOPs of one full forward pass (every token through every block) at a gh x gw grid.
    public static func forwardFLOPs(_ c: ViTConfiguration, gridHeight gh: Int, gridWidth gw: Int) -> Double {
        let n = Double(1 + gh * gw), d = Double(c.hiddenSize), m = Double(c.mlpSize)
        let patches = 2 * Double(gh * gw) * Double(c.channels * c.patchSize * c.patchSize) * d
        let block = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * m
        return patches + Double(c.layers) * block
    }

    /// GFLOP/s of a single-precision product with the BLAS in use, at the batch-8 MLP shape and at 2048^3.
    public static func sgemm(repeats: Int = 5) -> [BenchmarkFigure] {
        [(2056, 1536, 384, "sgemm 2056x1536x384 (batch-8 fc1 shape)"), (2048, 2048, 2048, "sgemm 2048^3")].map { m, n, k, name in
            let a = FloatBuffer((0..<(m * k)).map { Float($0 % 7) * 0.1 }), b = FloatBuffer((0..<(n * k)).map { Float($0 % 5) * 0.1 })
            let c = FloatBuffer(count: m * n)
            let ms = time(repeats) { BLAS.parallelGemm(transB: true, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: k, c: c.ptr, ldc: n) }
            if ProcessInfo.processInfo.environment["CDAM_BENCH_OPENBLAS_THREADS"] != nil {
                BLAS.setThreads(Parallel.cores)
                let ms2 = time(repeats) { BLAS.gemm(transB: true, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: k, c: c.ptr, ldc: n) }
                BLAS.setThreads(1)
                print("  openblas-threaded \(name): \(2 * Double(m * n * k) / ms2 / 1e6) GFLOP/s vs split \(2 * Double(m * n * k) / ms / 1e6)")
            }
            return BenchmarkFigure(name: name, milliseconds: ms, unit: "product", gflops: 2 * Double(m * n * k) / ms / 1e6,
                                   detail: "\(Parallel.cores) cores, OpenBLAS \(BLAS.core) kernels", best: lastBest)
        }
    }

    /// GFLOP/s of the linear layers' product as the forward pass runs it (TensorMath's LinearWeight: the packed
    /// AVX-512 kernel where the CPU has it, else OpenBLAS), at the batch-8 fc1 shape, rows split between the cores.
    public static func linear(repeats: Int = 5) -> BenchmarkFigure {
        let m = 2056, n = 1536, k = 384
        let w = LinearWeight(FloatBuffer((0..<(n * k)).map { Float($0 % 5) * 0.1 }), outputs: n, inputs: k)
        let x = FloatBuffer((0..<(m * k)).map { Float($0 % 7) * 0.1 }), bias = FloatBuffer(count: n)
        let y = FloatBuffer(count: m * n)
        let ms = time(repeats) {
            parallelRanges(m) { r in
                w.apply(rows: r.count, x: x.ptr + r.lowerBound * k, ldx: k, bias: bias.ptr, out: y.ptr + r.lowerBound * n, ldOut: n)
            }
        }
        let route = LinearWeight.kernelAvailable ? "packed AVX-512 kernel" : "OpenBLAS"
        return BenchmarkFigure(name: "linear \(m)x\(n)x\(k) (fc1 shape, as the forward pass runs it)", milliseconds: ms,
                               unit: "product", gflops: 2 * Double(m * n * k) / ms / 1e6,
                               detail: "\(Parallel.cores) cores, \(route), bias included", best: lastBest)
    }

    static func randomPixels(_ count: Int) -> [Float] {
        var state: UInt32 = 12345
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int(state >> 8) % 2001 - 1000) / 500
        }
    }

    /// Forward pass throughput at one size and batch (CLS embeddings only, as `cdam embed` runs it).
    public static func forward(_ model: VisionTransformer, size: Int, batch: Int, repeats: Int) throws -> BenchmarkFigure {
        let pixels = randomPixels(batch * 3 * size * size)
        let ms = try time(repeats) { _ = try model.forward(pixels: pixels, batch: batch, height: size, width: size) }
        let p = model.config.patchSize
        let flops = forwardFLOPs(model.config, gridHeight: size / p, gridWidth: size / p)
        return BenchmarkFigure(name: "forward \(size)x\(size) batch \(batch)", milliseconds: ms / Double(batch), unit: "image",
                               gflops: flops * Double(batch) / ms / 1e6, detail: "\(String(format: "%.2f", flops / 1e9)) GFLOP per image",
                               best: lastBest / Double(batch))
    }

    /// The forward pass's effective rate as a share of OpenBLAS's at 2048^3, both timed in alternation: one
    /// forward pass of `batch` images, then one product, `repeats` times. The host's speed drifts by up to
    /// a third from one minute to the next, so a ratio of figures taken minutes apart measures the drift as
    /// much as the code; each pair here sees the same host. The figure's `ratio` is the median of the pairs'.
    public static func efficiency(_ model: VisionTransformer, size: Int, batch: Int, repeats: Int) throws -> BenchmarkFigure {
        let pixels = randomPixels(batch * 3 * size * size)
        let n = 2048
        let a = FloatBuffer((0..<(n * n)).map { Float($0 % 7) * 0.1 }), b = FloatBuffer((0..<(n * n)).map { Float($0 % 5) * 0.1 })
        let c = FloatBuffer(count: n * n)
        let p = model.config.patchSize
        let flops = forwardFLOPs(model.config, gridHeight: size / p, gridWidth: size / p) * Double(batch)
        var forwardRates: [Double] = [], sgemmRates: [Double] = [], ratios: [Double] = []
        for i in 0...repeats {   // the first pair warms up
            let f = try milliseconds { _ = try model.forward(pixels: pixels, batch: batch, height: size, width: size) }
            let g = milliseconds { BLAS.parallelGemm(transB: true, m: n, n: n, k: n, a: a.ptr, lda: n, b: b.ptr, ldb: n, c: c.ptr, ldc: n) }
            guard i > 0 else { continue }
            forwardRates.append(flops / f / 1e6)
            sgemmRates.append(2 * Double(n * n * n) / g / 1e6)
            ratios.append(forwardRates.last! / sgemmRates.last!)
        }
        let rate = median(forwardRates)
        return BenchmarkFigure(name: "forward \(size)x\(size) batch \(batch) vs sgemm 2048^3, in alternation",
                               milliseconds: flops / Double(batch) / rate / 1e6, unit: "image", gflops: rate,
                               detail: String(format: "%.0f%% of OpenBLAS's rate, median of %d pairs (sgemm median %.1f GFLOP/s)",
                                              median(ratios) * 100, ratios.count, median(sgemmRates)),
                               best: flops / Double(batch) / forwardRates.max()! / 1e6, ratio: median(ratios))
    }

    /// CDAM for K targets: one forward pass keeping the last block, one batched backward. With K = 0, the
    /// forward pass alone (keeping the last block). With K > 0 also the maps alone: the backward timed
    /// inside the same repetitions (what the maps add to the forward pass; a difference of two medians taken
    /// seconds apart is within the host's drift).
    public static func cdamMaps(_ model: VisionTransformer, size: Int, targets k: Int, repeats: Int) throws -> [BenchmarkFigure] {
        let pixels = randomPixels(3 * size * size)
        let d = model.config.hiddenSize
        let targets = (0..<k).map { i in Target(name: "t\(i)", kind: .probe, direction: randomPixels(d + i).suffix(d).map { $0 }, bias: 0) }
        var backward: [Double] = []
        let ms = try time(repeats) {
            let r = try model.forward(pixels: pixels, batch: 1, height: size, width: size, options: ForwardOptions(keep: .lastBlock))
            if k > 0 { backward.append(milliseconds { _ = cdam(model, r, image: 0, targets: targets) }) }
        }
        if k == 0 {
            return [BenchmarkFigure(name: "cdam \(size)x\(size), forward only", milliseconds: ms, unit: "image", gflops: nil,
                                    detail: "the forward pass keeping the last block, no maps", best: lastBest)]
        }
        let best = lastBest
        let maps = Array(backward.suffix(repeats))   // without the warm-up
        return [
            BenchmarkFigure(name: "cdam \(size)x\(size), \(k) target\(k == 1 ? "" : "s")", milliseconds: ms, unit: "image", gflops: nil,
                            detail: "forward + backward, all \(k) maps", best: best),
            BenchmarkFigure(name: "cdam \(size)x\(size), \(k) target\(k == 1 ? "" : "s"), the maps alone", milliseconds: median(maps),
                            unit: "image", gflops: nil, detail: "the backward for all \(k) maps, timed within the passes above",
                            best: maps.min()),
        ]
    }

    /// RP for one target: forward keeping every block, backward through all blocks.
    public static func relevance(_ model: VisionTransformer, size: Int, repeats: Int) throws -> BenchmarkFigure {
        let pixels = randomPixels(3 * size * size)
        let d = model.config.hiddenSize
        let target = Target(name: "t", kind: .probe, direction: Array(randomPixels(d)), bias: 0)
        let ms = try time(repeats) {
            let r = try model.forward(pixels: pixels, batch: 1, height: size, width: size, options: ForwardOptions(keep: .allBlocks))
            _ = relevancePropagation(model, r, image: 0, targets: [target])
        }
        return BenchmarkFigure(name: "rp \(size)x\(size)", milliseconds: ms, unit: "image", gflops: nil, detail: nil, best: lastBest)
    }

    /// TAM for one target: N-1 ablated sequences in batches of `batch`.
    public static func tokenAblation(_ model: VisionTransformer, size: Int, batch: Int) throws -> BenchmarkFigure {
        let pixels = randomPixels(3 * size * size)
        let d = model.config.hiddenSize
        let target = Target(name: "t", kind: .probe, direction: Array(randomPixels(d)), bias: 0)
        var scorer = TokenSubsetScorer(model: model, pixels: pixels, height: size, width: size, targets: [target])
        scorer.batchSize = batch
        let full = try model.forward(pixels: pixels, batch: 1, height: size, width: size)
        let ms = time(1, warmup: 0) { _ = scorer.tokenAblationMaps(fullScores: [target.score(full.embedding(0))]) }
        let p = model.config.patchSize
        let flops = forwardFLOPs(model.config, gridHeight: size / p, gridWidth: size / p) * Double(scorer.count - 1)
        return BenchmarkFigure(name: "tam \(size)x\(size) batch \(batch)", milliseconds: ms, unit: "image",
                               gflops: flops / ms / 1e6, detail: "\(scorer.count - 1) ablated passes")
    }
}

extension Benchmarks {
    /// Decode + preprocess throughput (one thread), the same code path as `embed`.
    public static func imaging(_ files: [URL], size: Int) -> BenchmarkFigure {
        let (seconds, failures) = benchmarkDecodePreprocess(paths: files, size: size)
        return BenchmarkFigure(name: "decode + preprocess \(size)x\(size), 1 thread", milliseconds: seconds * 1000 / Double(max(files.count, 1)),
                               unit: "image", gflops: nil,
                               detail: String(format: "%.1f images/s over %d files, %d failed", Double(files.count) / seconds, files.count, failures))
    }

    /// Indexing (decode, preprocess, embed, store) against embedding alone on the same files: the store's overhead.
    public static func indexing(_ files: [URL], embedder: ModelEmbedder, database: URL) throws -> [BenchmarkFigure] {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = embedder.embed(files)
        let embedOnly = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        try? FileManager.default.removeItem(at: database)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-bench-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Hard links (copies across file systems): the indexer, like `find`, does not follow symbolic links.
        for (i, f) in files.enumerated() {
            let link = folder.appendingPathComponent("\(i)-" + f.lastPathComponent)
            do { try FileManager.default.linkItem(at: f, to: link) } catch { try FileManager.default.copyItem(at: f, to: link) }
        }
        let store = try Store.open(at: database)
        let start2 = DispatchTime.now().uptimeNanoseconds
        _ = try indexImages(directory: folder, collection: "bench", embedder: embedder, store: store)
        let indexing = Double(DispatchTime.now().uptimeNanoseconds - start2) / 1e6
        let n = Double(files.count)
        return [
            BenchmarkFigure(name: "embed only (decode, preprocess, forward)", milliseconds: embedOnly / n, unit: "image", gflops: nil,
                            detail: String(format: "%.1f images/s", n / embedOnly * 1000)),
            BenchmarkFigure(name: "index (embed + SQLite)", milliseconds: indexing / n, unit: "image", gflops: nil,
                            detail: String(format: "%.1f images/s, storage overhead %+.1f%%", n / indexing * 1000, (indexing / embedOnly - 1) * 100)),
        ]
    }

    /// Search over `count` synthetic stored embeddings: loading the matrix (a cold process's cost) and warm searches.
    public static func search(database: URL, count: Int) throws -> [BenchmarkFigure] {
        let r = try benchmarkSearch(databaseURL: database, count: count)
        return [
            BenchmarkFigure(name: "search: open + load \(count) embeddings", milliseconds: r.loadSeconds * 1000, unit: "run", gflops: nil,
                            detail: "what a fresh process pays before its first search"),
            BenchmarkFigure(name: "search: first search in a fresh store", milliseconds: r.firstSearchSeconds * 1000, unit: "run", gflops: nil, detail: nil),
            BenchmarkFigure(name: "search: warm, top \(r.top) of \(count)", milliseconds: r.warmMedianSeconds * 1000, unit: "search", gflops: nil,
                            detail: String(format: "median of %d, best %.1f ms", r.repeats, r.warmBestSeconds * 1000)),
        ]
    }
}

extension Benchmarks {
    /// The pictures of `query --out`: rendering a 512-px labelled tile, and encoding it and a panel of 42
    /// tiles (41 concepts and the photo) with libpng's defaults (the writer before) and with the fast
    /// writer on one thread and on every core. `photo`: a real image to draw on (else a synthetic one
    /// with gradients, edges and noise, which compresses like a photo).
    public static func pictures(photo: URL?, size: Int = 512, repeats: Int = 5) throws -> [BenchmarkFigure] {
        let original: RGBImage
        if let photo { original = try decodeImage(contentsOf: photo).image } else { original = photoLike(width: 640, height: 480) }
        let renderer = OverlayRenderer(original: original, preprocessing: Preprocessing(size: 224), options: RenderOptions(size: size))
        var map = [Float](repeating: 0, count: 256)
        for i in map.indices { map[i] = sin(Float(i) * 0.37) * Float(i % 16) - 3 }
        let lines = renderer.lines(target: "bench", kind: "mean", map: .cdam, values: map, score: 12.5, percentile: 97.5)
        var tile = RGBImage(width: 0, height: 0, pixels: [])
        let render = time(repeats) { tile = renderer.withBar(renderer.tile(map, grid: [16, 16], lines: lines), map: map) }
        var panel = RGBImage(width: 0, height: 0, pixels: [])
        let compose = time(max(1, repeats / 2)) {
            panel = renderer.panel([renderer.photoTile(lines: ["photo"])] + (0..<41).map { _ in renderer.tile(map, grid: [16, 16], lines: lines) })
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var figures = [
            BenchmarkFigure(name: "render a \(tile.width)x\(tile.height) labelled tile", milliseconds: render, unit: "tile", gflops: nil, detail: nil),
            BenchmarkFigure(name: "render a 42-tile panel (\(panel.width)x\(panel.height))", milliseconds: compose, unit: "panel", gflops: nil, detail: nil),
        ]
        for (what, image) in [("tile", tile), ("panel", panel)] {
            var bytes = 0
            let reps = what == "tile" ? repeats : max(1, repeats / 2)
            let before = try time(reps) { bytes = try encodePNGLibpng(image).count }
            figures.append(BenchmarkFigure(name: "PNG \(what), libpng defaults (before)", milliseconds: before, unit: what, gflops: nil,
                                           detail: "\(bytes / 1024) KB"))
            for threads in Set([1, cores]).sorted() {
                let fast = try time(reps) { bytes = try encodePNG(image, threads: threads).count }
                figures.append(BenchmarkFigure(name: "PNG \(what), fast, \(threads) thread\(threads == 1 ? "" : "s")", milliseconds: fast, unit: what,
                                               gflops: nil, detail: String(format: "%d KB, %.1fx faster", bytes / 1024, before / fast)))
            }
            let jpeg = try time(reps) { bytes = try encodeJPEG(image, quality: 90).count }
            figures.append(BenchmarkFigure(name: "JPEG q90 \(what) (the report's)", milliseconds: jpeg, unit: what, gflops: nil, detail: "\(bytes / 1024) KB"))
        }
        return figures
    }

    /// Smooth CDAM (N = 16) and Integrated CDAM (M = 16, trapezoid: 17 passes) on one image with one target,
    /// against one CDAM map (a forward pass keeping the last block and its backward): batched (the copies in
    /// forward passes of `batch`), unbatched (one pass per copy), and with `--perturb tokens`. The host drifts, so
    /// every repetition times one CDAM and then each variant in turn; a variant's `ratio` is the median of its
    /// time over that repetition's CDAM time.
    public static func averagedMaps(_ model: VisionTransformer, size: Int, batch: Int, repeats: Int) throws -> [BenchmarkFigure] {
        let pixels = randomPixels(3 * size * size)
        let d = model.config.hiddenSize
        let targets = [Target(name: "t", kind: .probe, direction: Array(randomPixels(d)), bias: 0)]
        func settings(_ perturb: AveragedMapSettings.Perturbation, batch: Int) -> AveragedMapSettings {
            var s = AveragedMapSettings()
            s.samples = 16; s.steps = 16; s.integration = .trapezoid; s.perturb = perturb; s.batchSize = batch
            return s
        }
        let variants: [(name: String, run: () throws -> Void)] = [
            ("smooth N=16, pixels, batch \(batch)", { _ = try smoothCDAM(model, pixels: pixels, height: size, width: size, targets: targets, settings: settings(.pixels, batch: batch)) }),
            ("smooth N=16, pixels, unbatched", { _ = try smoothCDAM(model, pixels: pixels, height: size, width: size, targets: targets, settings: settings(.pixels, batch: 1)) }),
            ("integrated M=16 (17 passes), pixels, batch \(batch)", { _ = try integratedCDAM(model, pixels: pixels, height: size, width: size, targets: targets, settings: settings(.pixels, batch: batch)) }),
            ("integrated M=16 (17 passes), pixels, unbatched", { _ = try integratedCDAM(model, pixels: pixels, height: size, width: size, targets: targets, settings: settings(.pixels, batch: 1)) }),
            ("smooth N=16, tokens, batch \(batch)", { _ = try smoothCDAM(model, pixels: pixels, height: size, width: size, targets: targets, settings: settings(.tokens, batch: batch)) }),
            ("integrated M=16, tokens, batch \(batch)", { _ = try integratedCDAM(model, pixels: pixels, height: size, width: size, targets: targets, settings: settings(.tokens, batch: batch)) }),
        ]
        var single: [Double] = []
        var times = [[Double]](repeating: [], count: variants.count), ratios = times
        for round in 0...repeats {   // round 0 warms up
            let one = try milliseconds {
                let r = try model.forward(pixels: pixels, batch: 1, height: size, width: size, options: ForwardOptions(keep: .lastBlock))
                _ = cdam(model, r, image: 0, targets: targets)
            }
            for (i, v) in variants.enumerated() {
                let ms = try milliseconds(v.run)
                if round > 0 { times[i].append(ms); ratios[i].append(ms / one) }
            }
            if round > 0 { single.append(one) }
        }
        var out = [BenchmarkFigure(name: "cdam \(size)x\(size), 1 target (the unit)", milliseconds: median(single), unit: "image",
                                   gflops: nil, detail: "forward keeping the last block + backward", best: single.min(), ratio: 1)]
        for (i, v) in variants.enumerated() {
            out.append(BenchmarkFigure(name: v.name, milliseconds: median(times[i]), unit: "image", gflops: nil,
                                       detail: String(format: "%.2fx one CDAM (median of %d rounds' ratios)", median(ratios[i]), repeats),
                                       best: times[i].min(), ratio: median(ratios[i])))
        }
        return out
    }
}
