// The bf16 suite of `cdam bench`: the instructions' peaks, then the linear product, the forward pass and TAM
// at fp32 and bf16, the two precisions taking turns in the same run (shared cores drift by up to a third from
// one minute to the next; a pair of runs side by side sees the same host).

import Attribution
import Concepts
import Foundation
import TensorMath
import ViT

extension Benchmarks {
    /// VDPBF16PS and fp32 FMA peaks on one core and on all cores (each core running the same loop).
    public static func instructionPeaks() -> [BenchmarkFigure] {
        let one = InstructionPeaks.measure(milliseconds: 20)
        var all = InstructionPeaks(bf16: 0, fp32: 0)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: Parallel.cores) { _ in
            let p = InstructionPeaks.measure(milliseconds: 20)
            lock.lock(); all.bf16 += p.bf16; all.fp32 += p.fp32; lock.unlock()
        }
        func figure(_ name: String, _ gflops: Double, _ cores: Int, _ detail: String) -> BenchmarkFigure {
            BenchmarkFigure(name: name + ", \(cores) core\(cores == 1 ? "" : "s")", milliseconds: 0, unit: "peak", gflops: gflops,
                            detail: detail + "; 24 independent chains on registers")
        }
        let pairs = "bf16 pairs, fp32 sums", floats = "16 floats"
        return [figure("peak VDPBF16PS", one.bf16, 1, pairs), figure("peak VDPBF16PS", all.bf16, Parallel.cores, pairs),
                figure("peak fp32 FMA", one.fp32, 1, floats), figure("peak fp32 FMA", all.fp32, Parallel.cores, floats)]
    }

    /// Medians of `a` and `b` run in turns, `repeats` times each after one warm-up pair: milliseconds.
    static func alternating(_ repeats: Int, _ a: () throws -> Void, _ b: () throws -> Void) rethrows
        -> (a: Double, b: Double, bestA: Double, bestB: Double, ratios: [Double]) {
        var ta: [Double] = [], tb: [Double] = []
        for i in 0...repeats {
            let x = try milliseconds(a), y = try milliseconds(b)
            if i > 0 { ta.append(x); tb.append(y) }
        }
        return (median(ta), median(tb), ta.min()!, tb.min()!, zip(ta, tb).map { $0 / $1 })
    }

    /// The precision suite: peaks, the fc1-shaped linear product, the forward pass at `batch` and TAM at
    /// `size`, each at fp32 and bf16 in turns. The bf16 figures' `ratio` is fp32 time / bf16 time (the
    /// speed-up; the median of the pairs'), and the forward's detail gives its rate against the bf16 peak.
    /// - Throws: `WorkbenchError.failed` when this CPU lacks AVX512-BF16.
    public static func precision(_ model: VisionTransformer, size: Int, batch: Int, repeats: Int,
                                 tam: Bool = true) throws -> [BenchmarkFigure] {
        guard Precision.bf16Available else {
            throw WorkbenchError.failed("the bf16 suite needs a CPU with AVX512-BF16, which this one lacks")
        }
        var figures = instructionPeaks()
        let peakBF16 = figures[1].gflops ?? 0, peakFP32 = figures[3].gflops ?? 0
        func pair(_ name: String, unit: String, per: Double, flops: Double, _ t: (a: Double, b: Double, bestA: Double, bestB: Double, ratios: [Double]),
                  detail: String) -> [BenchmarkFigure] {
            let speedup = median(t.ratios)
            return [BenchmarkFigure(name: name + " fp32", milliseconds: t.a / per, unit: unit, gflops: flops / t.a / 1e6,
                                    detail: detail + String(format: ", %.0f%% of the fp32 FMA peak", 100 * flops / t.a / 1e6 / peakFP32),
                                    best: t.bestA / per),
                    BenchmarkFigure(name: name + " bf16", milliseconds: t.b / per, unit: unit, gflops: flops / t.b / 1e6,
                                    detail: detail + String(format: ", %.0f%% of the VDPBF16PS peak; %.2fx fp32", 100 * flops / t.b / 1e6 / peakBF16, speedup),
                                    best: t.bestB / per, ratio: speedup)]
        }

        // The linear product at the batch-8 fc1 shape, rows split between the cores as the forward pass runs it.
        let m = 2056, n = 1536, k = 384
        let w = LinearWeight(FloatBuffer((0..<(n * k)).map { Float($0 % 5) * 0.1 }), outputs: n, inputs: k)
        let x = FloatBuffer((0..<(m * k)).map { Float($0 % 7) * 0.1 }), bias = FloatBuffer(count: n)
        let y = FloatBuffer(count: m * n)
        func product(_ p: Precision) {
            parallelRanges(m) { r in
                w.apply(rows: r.count, x: x.ptr + r.lowerBound * k, ldx: k, bias: bias.ptr, out: y.ptr + r.lowerBound * n,
                        ldOut: n, precision: p)
            }
        }
        figures += pair("linear \(m)x\(n)x\(k) (fc1 shape)", unit: "product", per: 1, flops: 2 * Double(m * n * k),
                        alternating(repeats, { product(.fp32) }, { product(.bf16) }), detail: "\(Parallel.cores) cores")

        // The forward pass (CLS only, as embedding runs it).
        let pixels = randomPixels(batch * 3 * size * size)
        let p = model.config.patchSize
        let flops = forwardFLOPs(model.config, gridHeight: size / p, gridWidth: size / p) * Double(batch)
        func forward(_ precision: Precision) throws {
            _ = try model.forward(pixels: pixels, batch: batch, height: size, width: size,
                                  options: ForwardOptions(precision: precision))
        }
        figures += pair("forward \(size)x\(size) batch \(batch)", unit: "image", per: Double(batch), flops: flops,
                        try alternating(repeats, { try forward(.fp32) }, { try forward(.bf16) }),
                        detail: "\(Parallel.cores) cores, linear layers only in bf16")

        // TAM: one pass per patch, batched.
        if tam {
            let one = randomPixels(3 * size * size)
            let target = Target(name: "t", kind: .probe, direction: Array(randomPixels(model.config.hiddenSize)), bias: 0)
            let full = try model.forward(pixels: one, batch: 1, height: size, width: size)
            func ablate(_ precision: Precision) {
                let saved = model.precision
                model.precision = precision
                defer { model.precision = saved }
                var scorer = TokenSubsetScorer(model: model, pixels: one, height: size, width: size, targets: [target])
                scorer.batchSize = batch
                _ = scorer.tokenAblationMaps(fullScores: [target.score(full.embedding(0))])
            }
            let passes = Double((size / p) * (size / p))
            figures += pair("tam \(size)x\(size) batch \(batch)", unit: "image", per: 1,
                            flops: forwardFLOPs(model.config, gridHeight: size / p, gridWidth: size / p) * passes,
                            alternating(max(1, repeats / 3), { ablate(.fp32) }, { ablate(.bf16) }),
                            detail: "\(Int(passes)) ablated passes")
        }
        return figures
    }
}
