import Foundation
import TensorMath
import ViT

/// A tiny random-weight ViT and a Double-precision reference of its last block, for gradient checks.
/// Shapes: D = 8, H = 2 heads of 4, M = 16, patch 2, 2 blocks.
struct TinyModel {
    let model: VisionTransformer
    let config: ViTConfiguration

    init(family: ViTConfiguration.Family = .dinov2, seed: UInt64 = 1) {
        var rng = SplitMix(seed: seed)
        let cfg = ViTConfiguration(family: family, hiddenSize: 8, layers: 2, heads: 2, mlpSize: 16, patchSize: 2,
                                   imageSize: 6, channels: 3, layerNormEps: 1e-6)
        func r(_ n: Int, _ s: Float = 0.5) -> FloatBuffer { FloatBuffer((0..<n).map { _ in rng.normal() * s }) }
        func near1(_ n: Int) -> FloatBuffer { FloatBuffer((0..<n).map { _ in 1 + 0.3 * rng.normal() }) }
        let d = 8, m = 16
        let blocks = (0..<2).map { _ in
            BlockWeights(norm1Weight: near1(d), norm1Bias: r(d, 0.1), qkvWeight: r(3 * d * d), qkvBias: r(3 * d, 0.1),
                         projWeight: r(d * d), projBias: r(d, 0.1), layerScale1: near1(d),
                         norm2Weight: near1(d), norm2Bias: r(d, 0.1), fc1Weight: r(m * d), fc1Bias: r(m, 0.1),
                         fc2Weight: r(d * m), fc2Bias: r(d, 0.1), layerScale2: near1(d))
        }
        let w = ViTWeights(patchWeight: r(d * 12), patchBias: r(d, 0.1), clsToken: r(d), positions: r(10 * d),
                           positionGrid: 3, blocks: blocks, normWeight: near1(d), normBias: r(d, 0.1), extras: [:])
        config = cfg
        model = VisionTransformer(config: cfg, weights: w)
    }
}

/// A small deterministic generator (SplitMix64) with a Box-Muller normal.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

/// The last block and final LayerNorm in Double, from T (the norm1 output) and the block input x:
/// the function whose gradient CDAM takes. Optionally replaces the attention probabilities of the CLS row.
struct DoubleLastBlock {
    let w: BlockWeights
    let normW: [Double], normB: [Double]
    let d: Int, heads: Int, m: Int, eps: Double

    init(_ model: VisionTransformer) {
        let cfg = model.config
        w = model.weights.blocks[cfg.layers - 1]
        normW = model.weights.normWeight.array.map(Double.init)
        normB = model.weights.normBias.array.map(Double.init)
        d = cfg.hiddenSize; heads = cfg.heads; m = cfg.mlpSize; eps = Double(cfg.layerNormEps)
    }

    static func layerNorm(_ x: [Double], _ g: [Double], _ b: [Double], _ eps: Double) -> [Double] {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let v = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
        return x.indices.map { (x[$0] - mean) / (v + eps).squareRoot() * g[$0] + b[$0] }
    }

    func dbl(_ b: FloatBuffer) -> [Double] { b.array.map(Double.init) }

    /// CLS embedding from T (N x D) and x's CLS row (the residual).
    func clsEmbedding(t: [[Double]], xCLS: [Double]) -> [Double] {
        let n = t.count, hd = d / heads
        let wqkv = dbl(w.qkv.weight), bqkv = dbl(w.qkvBias)
        func proj(_ row: [Double], _ part: Int) -> [Double] {
            (0..<d).map { o in (0..<d).reduce(bqkv[part * d + o]) { $0 + wqkv[(part * d + o) * d + $1] * row[$1] } }
        }
        let q = proj(t[0], 0)
        let k = t.map { proj($0, 1) }, v = t.map { proj($0, 2) }
        var o = [Double](repeating: 0, count: d)
        for h in 0..<heads {
            var s = (0..<n).map { j in (0..<hd).reduce(0.0) { $0 + q[h * hd + $1] * k[j][h * hd + $1] } / Double(hd).squareRoot() }
            let mx = s.max()!
            s = s.map { exp($0 - mx) }
            let z = s.reduce(0, +)
            let p = s.map { $0 / z }
            for c in 0..<hd { o[h * hd + c] = (0..<n).reduce(0.0) { $0 + p[$1] * v[$1][h * hd + c] } }
        }
        let wp = dbl(w.proj.weight), bp = dbl(w.projBias), ls1 = dbl(w.layerScale1), ls2 = dbl(w.layerScale2)
        let x1 = (0..<d).map { j in xCLS[j] + ls1[j] * (0..<d).reduce(bp[j]) { $0 + wp[j * d + $1] * o[$1] } }
        let n2 = DoubleLastBlock.layerNorm(x1, dbl(w.norm2Weight), dbl(w.norm2Bias), eps)
        let w1 = dbl(w.fc1.weight), b1 = dbl(w.fc1Bias), w2 = dbl(w.fc2.weight), b2 = dbl(w.fc2Bias)
        let hpre = (0..<m).map { i in (0..<d).reduce(b1[i]) { $0 + w1[i * d + $1] * n2[$1] } }
        let hact = hpre.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        let out = (0..<d).map { j in x1[j] + ls2[j] * (0..<m).reduce(b2[j]) { $0 + w2[j * m + $1] * hact[$1] } }
        return DoubleLastBlock.layerNorm(out, normW, normB, eps)
    }
}
