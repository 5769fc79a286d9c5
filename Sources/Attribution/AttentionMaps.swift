// The attention-based comparison maps of CDAM.md: AM (last-block CLS attention) and attention
// rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", 2020).
//
// Shapes: N tokens, H heads, L blocks; maps have gh*gw entries (patch tokens, CLS excluded).

import TensorMath
import ViT

/// AM: the last block's attention of the CLS query over the patches, mean over heads.
/// - Precondition: the forward pass kept the last block's cache or all attentions.
public func attentionMap(_ model: VisionTransformer, _ result: ForwardResult, image b: Int) -> [Float] {
    let l = model.config.layers - 1
    guard let probs = result.attentions[l] ?? result.caches[l]?.probs else {
        preconditionFailure("attentionMap needs the last block's attention: keep .lastBlock or attentions")
    }
    let heads = model.config.heads, n = result.tokens, nq = probs.count / (result.batch * heads * n)
    var map = [Float](repeating: 0, count: n - 1)
    for h in 0..<heads {
        let p = probs.ptr + ((b * heads + h) * nq) * n
        for i in 1..<n { map[i - 1] += p[i] / Float(heads) }
    }
    return map
}

/// The head-averaged attention of block `l` for image `b`, with identity mixed in: 0.5 I + 0.5 mean_h A,
/// rows renormalized. Returns nq x N (nq = 1 when the block ran for the CLS query only).
func mixedAttention(_ probs: FloatBuffer, batch: Int, heads: Int, tokens n: Int, image b: Int) -> (FloatBuffer, Int) {
    let nq = probs.count / (batch * heads * n)
    let out = FloatBuffer(count: nq * n)
    for h in 0..<heads {
        let p = probs.ptr + (b * heads + h) * nq * n
        for i in 0..<(nq * n) { out[i] += 0.5 * p[i] / Float(heads) }
    }
    for r in 0..<nq {
        out[r * n + r] += 0.5
        var s: Float = 0
        for j in 0..<n { s += out[r * n + j] }
        for j in 0..<n { out[r * n + j] /= s }
    }
    return (out, nq)
}

/// Attention rollout: R = I, then R = Ã_b R for b = 1..L in order; the map is R[0, 1:].
/// - Precondition: the forward pass kept the attentions of every block (`attentions: true`).
public func attentionRollout(_ model: VisionTransformer, _ result: ForwardResult, image b: Int) -> [Float] {
    let n = result.tokens, heads = model.config.heads
    var r = FloatBuffer(count: n * n)
    for i in 0..<n { r[i * n + i] = 1 }
    for l in 0..<model.config.layers {
        guard let probs = result.attentions[l] ?? result.caches[l]?.probs else {
            preconditionFailure("attentionRollout needs every block's attention: forward with attentions: true")
        }
        let (a, nq) = mixedAttention(probs, batch: result.batch, heads: heads, tokens: n, image: b)
        let next = FloatBuffer(count: nq * n)
        BLAS.gemm(m: nq, n: n, k: n, a: a.ptr, lda: n, b: r.ptr, ldb: n, c: next.ptr, ldc: n)
        if nq == n { r = next } else {
            // Only the CLS row is known past a CLS-only block; it is all the map needs.
            r = FloatBuffer(count: n * n)
            r.ptr.update(from: next.ptr, count: n)
        }
    }
    return Array(r.slice(1, n - 1))
}
