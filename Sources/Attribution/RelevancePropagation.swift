// RP: the gradient-weighted attention rule of Chefer et al., "Generic Attention-model Explainability
// for Interpreting Bi-Modal and Encoder-Decoder Transformers" (ICCV 2021), as the CDAM notebook computes it:
//   R = I;  for each block b in order: cam_b = mean_h clamp(dF/dA_b * A_b, min 0);  R = R + cam_b R;
//   the map is R[0, 1:].
//
// Shapes: N tokens, H heads, D width.

import Concepts
import TensorMath
import ViT

/// RP maps for each target on image `image`; the forward pass must have kept every block (`keep: .allBlocks`).
///
/// dF/dA_b needs a backward pass through all blocks: one per target, reusing the forward caches.
public func relevancePropagation(_ model: VisionTransformer, _ result: ForwardResult, image b: Int,
                                 targets: [Target]) -> [[Float]] {
    let layers = model.config.layers, heads = model.config.heads, d = model.config.hiddenSize
    let n = result.tokens, batch = result.batch
    let caches: [BlockCache] = result.caches.map {
        guard let c = $0 else { preconditionFailure("relevancePropagation needs keep: .allBlocks") }
        return c
    }
    let e = result.embedding(b)
    return targets.map { target in
        // dF/dCLS for this image only; the other images of the batch get zero gradient.
        let dCLS = FloatBuffer(count: batch * d)
        let g = target.gradient(e)
        for j in 0..<d { dCLS[b * d + j] = g[j] }
        let dLastCLS = model.finalNormBackward(result, dCLS: dCLS)
        // Scatter the CLS rows into the last block's query rows.
        let last = caches[layers - 1]
        var dOut = FloatBuffer(count: batch * last.queries * d)
        for i in 0..<batch { (dOut.ptr + i * last.queries * d).update(from: dLastCLS.ptr + i * d, count: d) }

        var cams = [FloatBuffer?](repeating: nil, count: layers)
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let c = caches[l]
            let grads = model.blockBackward(l, cache: c, dOutput: dOut, wantProbs: true)
            // cam = mean_h clamp(dA * A, 0), for this image. (nq, N)
            let nq = c.queries
            let cam = FloatBuffer(count: nq * n)
            let dA = grads.dProbs!
            for h in 0..<heads {
                let off = (b * heads + h) * nq * n
                for i in 0..<(nq * n) { cam[i] += max(dA[off + i] * c.probs[off + i], 0) / Float(heads) }
            }
            cams[l] = cam
            dOut = grads.dInput
        }
        // R = R + cam_b R, blocks in forward order.
        var r = FloatBuffer(count: n * n)
        for i in 0..<n { r[i * n + i] = 1 }
        for l in 0..<layers {
            let cam = cams[l]!, nq = cam.count / n
            let next = FloatBuffer(count: nq * n)
            for i in 0..<nq { (next.ptr + i * n).update(from: r.ptr + i * n, count: n) }
            BLAS.gemm(m: nq, n: n, k: n, a: cam.ptr, lda: n, b: r.ptr, ldb: n, beta: 1, c: next.ptr, ldc: n)
            if nq == n { r = next } else {
                r = FloatBuffer(count: n * n)
                r.ptr.update(from: next.ptr, count: n)
            }
        }
        return r.slice(1, n - 1)
    }
}
