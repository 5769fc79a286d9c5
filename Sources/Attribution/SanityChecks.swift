// The checks the CDAM paper's claims call for: correctness (a model randomisation test, Adebayo et al.
// 2018, "Sanity Checks for Saliency Maps"), contrastivity (maps of two targets on one image), and the
// significance of each patch's evidence against random concepts (as in TCAV's test, Kim et al. 2018).
//
// Letters: N tokens, D width, K targets, P patches (gh * gw), R random concepts.

import Foundation
import TensorMath
import ViT

/// The model with its last block re-initialised: every linear weight of the last block replaced by
/// Gaussian noise of the same standard deviation (seeded), biases zeroed; LayerNorms and LayerScale kept.
/// A map that explains the model must change when the weights it explains are random; a map that only
/// reflects the input (an edge detector) does not.
public func randomizedLastBlock(_ model: VisionTransformer, seed: UInt64 = 0) -> VisionTransformer {
    var weights = model.weights
    let last = weights.blocks.count - 1
    let w = weights.blocks[last]
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    func gaussian() -> Float {
        // Box-Muller on SplitMix64 draws: reproducible on every platform.
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (Double((z ^ (z >> 31)) >> 11) + 0.5) / 9_007_199_254_740_992
        }
        return Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
    }
    func noiseLike(_ linear: LinearWeight) -> FloatBuffer {
        let original = linear.weight
        let n = original.count
        var sum = 0.0, sum2 = 0.0
        for i in 0..<n { let v = Double(original.ptr[i]); sum += v; sum2 += v * v }
        let std = Float(max(sum2 / Double(n) - (sum / Double(n)) * (sum / Double(n)), 0).squareRoot())
        let out = FloatBuffer(count: n)
        for i in 0..<n { out.ptr[i] = gaussian() * std }
        return out
    }
    let d = w.norm1Weight.count, m = w.fc1Bias.count
    weights.blocks[last] = BlockWeights(
        norm1Weight: w.norm1Weight, norm1Bias: w.norm1Bias, qkvWeight: noiseLike(w.qkv), qkvBias: FloatBuffer(count: 3 * d),
        projWeight: noiseLike(w.proj), projBias: FloatBuffer(count: d), layerScale1: w.layerScale1,
        norm2Weight: w.norm2Weight, norm2Bias: w.norm2Bias, fc1Weight: noiseLike(w.fc1), fc1Bias: FloatBuffer(count: m),
        fc2Weight: noiseLike(w.fc2), fc2Bias: FloatBuffer(count: d), layerScale2: w.layerScale2)
    return VisionTransformer(config: model.config, weights: weights)
}

/// Spearman's rank correlation (ties share their mean rank); 0 when either is constant.
public func spearman(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    func ranks(_ x: [Float]) -> [Float] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Float](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Float(i + j) / 2 + 1 }
            i = j + 1
        }
        return r
    }
    return pearson(ranks(a), ranks(b))
}

/// How alike two targets' maps on one image are: contrastivity is low correlation and low overlap.
public struct MapContrast: Codable, Sendable, Equatable {
    public var a: String
    public var b: String
    /// Pearson correlation of the two signed maps.
    public var correlation: Float
    /// Overlap of their evidence: each map's positive part normalised to sum 1, then sum_i min(pA_i, pB_i)
    /// (histogram intersection): 1 when both put their evidence on the same patches in the same shares,
    /// 0 when no patch is evidence for both.
    public var evidenceOverlap: Float

    public init(a: String, b: String, mapA: [Float], mapB: [Float]) {
        self.a = a; self.b = b
        correlation = pearson(mapA, mapB)
        func shares(_ m: [Float]) -> [Float] {
            let total = m.reduce(0) { $0 + max($1, 0) }
            return total > 0 ? m.map { max($0, 0) / total } : m.map { _ in 0 }
        }
        evidenceOverlap = zip(shares(mapA), shares(mapB)).reduce(0) { $0 + min($1.0, $1.1) }
    }
}

/// Per-patch significance of a concept's evidence: each patch's CDAM, divided by the norm of the concept's
/// direction (CDAM is linear in it), against the same patch's under R random concepts of the same kind.
public struct PatchSignificance: Codable, Sendable, Equatable {
    /// One-sided p-value per patch, (1 + #{r : s_r,i >= s_i}) / (R + 1): small where the concept's evidence
    /// exceeds what random concepts put there.
    public var pValues: [Double]
    /// Patches significant at false-discovery rate `q` (Benjamini-Hochberg), row-major indices.
    public var significant: [Int]
    public var randomConcepts: Int
    public var q: Double

    /// - Parameters:
    ///   - map: the concept's CDAM map (P numbers) and `norm` its direction's norm (1 for cosine targets).
    ///   - randomMaps: R maps of random concepts, each with its direction's norm.
    public init(map: [Float], norm: Float, randomMaps: [(map: [Float], norm: Float)], q: Double = 0.05) {
        let p = map.count, r = randomMaps.count
        let scaled = map.map { $0 / max(norm, .leastNormalMagnitude) }
        var counts = [Int](repeating: 0, count: p)
        for random in randomMaps {
            let inv = 1 / max(random.norm, .leastNormalMagnitude)
            for i in 0..<p where random.map[i] * inv >= scaled[i] { counts[i] += 1 }
        }
        pValues = counts.map { Double(1 + $0) / Double(r + 1) }
        significant = benjaminiHochberg(pValues, q: q)
        randomConcepts = r
        self.q = q
    }
}

/// The indices rejected by the Benjamini-Hochberg procedure at false-discovery rate `q`, ascending.
public func benjaminiHochberg(_ pValues: [Double], q: Double) -> [Int] {
    let m = pValues.count
    let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
    var cut = -1
    for (rank, i) in order.enumerated() where pValues[i] <= q * Double(rank + 1) / Double(m) { cut = rank }
    return cut < 0 ? [] : order[0...cut].sorted()
}
