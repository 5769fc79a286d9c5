// CDAM, class-discriminative attention maps (Brocki & Chung, arXiv 2312.02364): S_i = sum_j T_ij dF/dT_ij,
// with T the output of the last block's norm1 and F a target score of the CLS embedding.
//
// Shapes: N tokens (CLS + gh*gw patches), D width, H heads, d head width, M MLP width,
// K targets. One forward pass serves all K targets: the backward is linear in dF/de, so the
// K upstream gradients travel together as the rows of (K, D) matrices.

import Concepts
import TensorMath
import ViT

/// CDAM for K targets of one image.
public struct CDAMResult {
    /// f_k(e), one per target.
    public var scores: [Float]
    /// The signed maps, K x (gh*gw) row-major over the patch grid. Positive: evidence for the target.
    public var maps: [[Float]]
    /// G_k = dF_k/dT, (K, N, D), when asked for.
    public var gradients: FloatBuffer?
}

/// Computes CDAM maps for `targets` on image `image` of a forward pass run with `keep: .lastBlock` (or `.allBlocks`).
///
/// The backward pass goes from each score through the final LayerNorm (CLS row), the last block's MLP,
/// residual, output projection and LayerScale, then the softmax and q, k, v, to G = dF/dT. Per head the
/// gradient w.r.t. token j's T row has the closed form
///     dT_j = scale * dS_j * (q Wk_h) + P_j * (dO_h Wv_h)   (+ dq Wq_h for the CLS row),
/// so G for all K targets is one (N x 2H) x (2H x D) product per target.
/// - Precondition: the last block's cache was kept.
public func cdam(_ model: VisionTransformer, _ result: ForwardResult, image b: Int, targets: [Target],
                 keepGradients: Bool = false) -> CDAMResult {
    guard let cache = result.caches.last ?? nil else {
        preconditionFailure("cdam needs the last block's cache: run forward with keep: .lastBlock")
    }
    let cfg = model.config, w = model.weights.blocks[cfg.layers - 1]
    let d = cfg.hiddenSize, heads = cfg.heads, hd = cfg.headSize, m = cfg.mlpSize
    let n = cache.tokens, nq = cache.queries, kk = targets.count
    guard kk > 0 else { return CDAMResult(scores: [], maps: [], gradients: nil) }
    let e = result.embedding(b)

    // dF/de for every target. (K, D)
    let dE = FloatBuffer(count: kk * d)
    var scores = [Float](repeating: 0, count: kk)
    for (k, t) in targets.enumerated() {
        scores[k] = t.score(e)
        let g = t.gradient(e)
        for j in 0..<d { dE[k * d + j] = g[j] }
    }

    // Final LayerNorm, CLS row: the same row for every target.
    let xFinal = FloatBuffer(count: kk * d), meanF = FloatBuffer(count: kk), rstdF = FloatBuffer(count: kk)
    for k in 0..<kk {
        (xFinal.ptr + k * d).update(from: result.finalInput.ptr + b * d, count: d)
        meanF[k] = result.finalMean[b]; rstdF[k] = result.finalRstd[b]
    }
    let dX = FloatBuffer(count: kk * d)
    layerNormBackward(xFinal.ptr, rows: kk, width: d, weight: model.weights.normWeight.ptr,
                      mean: meanF.ptr, rstd: rstdF.ptr, dOut: dE.ptr, dInput: dX.ptr)

    // The last block's MLP branch, residual and output projection for the CLS row, once per target:
    // dO = d/d(attention output of the CLS query). (K, D)
    let qrow = b * nq   // the CLS row among the block's query rows
    let x1 = FloatBuffer(count: kk * d), mean2 = FloatBuffer(count: kk), rstd2 = FloatBuffer(count: kk)
    let pre = FloatBuffer(count: kk * m)
    for k in 0..<kk {
        (x1.ptr + k * d).update(from: cache.residual1.ptr + qrow * d, count: d)
        (pre.ptr + k * m).update(from: cache.fc1Pre.ptr + qrow * m, count: m)
        mean2[k] = cache.norm2Mean[qrow]; rstd2[k] = cache.norm2Rstd[qrow]
    }
    let dO = model.blockTailBackward(cfg.layers - 1, rows: kk, dOutput: dX.ptr, residual1: x1.ptr, norm2Mean: mean2.ptr,
                                     norm2Rstd: rstd2.ptr, fc1Pre: pre.ptr, parallel: false).dO

    // Attention of the CLS query, per head h.
    let scale = 1 / Float(hd).squareRoot()
    let qkv = cache.qkv.ptr + b * n * 3 * d           // this image's rows, stride 3D
    let wq = w.qkv.weight.ptr, wk = w.qkv.weight.ptr + d * d, wv = w.qkv.weight.ptr + 2 * d * d
    // Left factors: for target k, row j holds [scale * dS_h[k, j] for h | P_h[j] for h]. (K, N, 2H)
    let left = FloatBuffer(count: kk * n * 2 * heads)
    // Right factors: for target k, rows [a_h = q_h Wk_h for h ; b_h[k] = dO_h[k] Wv_h for h]. (K, 2H, D)
    let right = FloatBuffer(count: kk * 2 * heads * d)
    let dQ = FloatBuffer(count: kk * d)
    let dP = FloatBuffer(count: kk * n), dS = FloatBuffer(count: kk * n)
    let aH = FloatBuffer(count: d)
    for h in 0..<heads {
        let p = cache.probs.ptr + ((b * heads + h) * nq) * n       // CLS row of head h. (N)
        let qh = qkv + h * hd, kh = qkv + d + h * hd, vh = qkv + 2 * d + h * hd
        // dP = dO_h V_h^T (K, N); dS = softmax'(dP)
        BLAS.gemm(transB: true, m: kk, n: n, k: hd, a: dO.ptr + h * hd, lda: d, b: vh, ldb: 3 * d, c: dP.ptr, ldc: n)
        for k in 0..<kk {
            softmaxBackward(p, dProbs: dP.ptr + k * n, dScores: dS.ptr + k * n, rows: 1, n: n, stride: n)
        }
        // dq_h = scale * dS K_h (K, d)
        BLAS.gemm(m: kk, n: hd, k: n, alpha: scale, a: dS.ptr, lda: n, b: kh, ldb: 3 * d, c: dQ.ptr + h * hd, ldc: d)
        // a_h = q_h Wk_h (D): the same for every target.
        BLAS.gemm(m: 1, n: d, k: hd, a: qh, lda: 3 * d, b: wk + h * hd * d, ldb: d, c: aH.ptr, ldc: d)
        for k in 0..<kk {
            (right.ptr + (k * 2 * heads + h) * d).update(from: aH.ptr, count: d)
            let lk = left.ptr + k * n * 2 * heads
            for j in 0..<n {
                lk[j * 2 * heads + h] = scale * dS[k * n + j]
                lk[j * 2 * heads + heads + h] = p[j]
            }
        }
        // b_h[k] = dO_h[k] Wv_h, written into each target's right factor at row H + h.
        BLAS.gemm(m: kk, n: d, k: hd, a: dO.ptr + h * hd, lda: d, b: wv + h * hd * d, ldb: d,
                  c: right.ptr + (heads + h) * d, ldc: 2 * heads * d)
    }

    // G_k = left_k right_k (N, D), plus the query path on the CLS row: dq_k Wq; then
    // S_i = sum_j T_ij G_ij over the patch tokens. Targets split between the cores; each part reuses one
    // (N, D) buffer unless the gradients are kept.
    let t = cache.norm1Out.ptr + b * n * d
    let grads = keepGradients ? FloatBuffer(uninitialized: kk * n * d) : nil
    // One array per map, each with storage of its own before the cores write into them.
    var maps = (0..<kk).map { _ in [Float](repeating: 0, count: n - 1) }
    maps.withUnsafeMutableBufferPointer { out in
        let out = out
        parallelRanges(kk, chunks: kk >= 4 ? Parallel.cores : 1) { part in
            let scratch = grads == nil ? FloatBuffer(uninitialized: n * d) : nil
            for k in part {
                let g = grads.map { $0.ptr + k * n * d } ?? scratch!.ptr
                BLAS.gemm(m: n, n: d, k: 2 * heads, a: left.ptr + k * n * 2 * heads, lda: 2 * heads,
                          b: right.ptr + k * 2 * heads * d, ldb: d, c: g, ldc: d)
                BLAS.gemm(m: 1, n: d, k: d, a: dQ.ptr + k * d, lda: d, b: wq, ldb: d, beta: 1, c: g, ldc: d)
                out[k].withUnsafeMutableBufferPointer { map in
                    for i in 1..<n { map[i - 1] = simdDot(t + i * d, g + i * d, d) }
                }
            }
        }
    }
    return CDAMResult(scores: scores, maps: maps, gradients: keepGradients ? grads : nil)
}
