// The backward pass of one transformer block (Block.swift's `blockForward`), by hand, reusing its cache.
//
// Shapes: B images, N tokens, nq query rows per image (N, or 1 for a CLS-only block), D width,
// H heads, d head width, M MLP width.

import Dispatch
import TensorMath

/// The gradients one block's backward pass produces.
public struct BlockGradients {
    /// d/d(block input x). (B*N, D)
    public var dInput: FloatBuffer
    /// d/d(norm1 output T), the tensor CDAM multiplies with T. (B*N, D)
    public var dNorm1Out: FloatBuffer
    /// d/d(attention probabilities), when asked for. (B, H, nq, N)
    public var dProbs: FloatBuffer?
}

extension VisionTransformer {
    /// Back-propagates dOutput (B*nq, D) through block `l`, whose forward pass left `cache`.
    public func blockBackward(_ l: Int, cache c: BlockCache, dOutput: FloatBuffer, wantProbs: Bool = false) -> BlockGradients {
        let w = weights.blocks[l]
        let d = config.hiddenSize, heads = config.heads, hd = config.headSize, m = config.mlpSize
        let b = c.batch, n = c.tokens, nq = c.queries, rows = b * n, qrows = b * nq

        // out = x1 + ls2 * fc2(GELU(fc1(norm2(x1))))
        let dx1 = FloatBuffer(uninitialized: qrows * d)
        dx1.ptr.update(from: dOutput.ptr, count: qrows * d)
        let dY = FloatBuffer(uninitialized: qrows * d)
        for r in 0..<qrows { for j in 0..<d { dY.ptr[r * d + j] = dOutput.ptr[r * d + j] * w.layerScale2[j] } }
        let dAct = FloatBuffer(uninitialized: qrows * m)
        BLAS.parallelGemm(m: qrows, n: m, k: d, a: dY.ptr, lda: d, b: w.fc2.weight.ptr, ldb: m, c: dAct.ptr, ldc: m)
        let dPre = FloatBuffer(uninitialized: qrows * m)
        geluBackward(c.fc1Pre.ptr, dOut: dAct.ptr, dInput: dPre.ptr, count: qrows * m)
        let dNorm2 = FloatBuffer(uninitialized: qrows * d)
        BLAS.parallelGemm(m: qrows, n: d, k: m, a: dPre.ptr, lda: m, b: w.fc1.weight.ptr, ldb: d, c: dNorm2.ptr, ldc: d)
        layerNormBackward(c.residual1.ptr, rows: qrows, width: d, weight: w.norm2Weight.ptr,
                          mean: c.norm2Mean.ptr, rstd: c.norm2Rstd.ptr, dOut: dNorm2.ptr, dInput: dx1.ptr)

        // x1 = x + ls1 * (o Wproj^T + b)
        let dProj = FloatBuffer(uninitialized: qrows * d)
        for r in 0..<qrows { for j in 0..<d { dProj.ptr[r * d + j] = dx1.ptr[r * d + j] * w.layerScale1[j] } }
        let dO = FloatBuffer(uninitialized: qrows * d)
        BLAS.parallelGemm(m: qrows, n: d, k: d, a: dProj.ptr, lda: d, b: w.proj.weight.ptr, ldb: d, c: dO.ptr, ldc: d)

        // Attention, per image and head: dP = dO v^T, dv = P^T dO, dS = softmax'(dP) * scale, dq = dS k, dk = dS^T q.
        let dqkv = FloatBuffer(count: rows * 3 * d)
        let dProbs = FloatBuffer(uninitialized: b * heads * nq * n)
        let dScores = FloatBuffer(uninitialized: b * heads * nq * n)
        let scale = 1 / Float(hd).squareRoot()
        let qkv = c.qkv.ptr, probs = c.probs.ptr, dOp = dO.ptr, dq = dqkv.ptr, dPp = dProbs.ptr, dSp = dScores.ptr
        DispatchQueue.concurrentPerform(iterations: b * heads) { i in
            let img = i / heads, h = i % heads
            let base = qkv + img * n * 3 * d + h * hd, dbase = dq + img * n * 3 * d + h * hd
            let p = probs + i * nq * n, dp = dPp + i * nq * n, ds = dSp + i * nq * n
            let dOh = dOp + img * nq * d + h * hd
            BLAS.gemm(transB: true, m: nq, n: n, k: hd, a: dOh, lda: d, b: base + 2 * d, ldb: 3 * d, c: dp, ldc: n)
            BLAS.gemm(transA: true, m: n, n: hd, k: nq, a: p, lda: n, b: dOh, ldb: d, c: dbase + 2 * d, ldc: 3 * d)
            softmaxBackward(p, dProbs: dp, dScores: ds, rows: nq, n: n, stride: n)
            // q rows sit at every token (nq = N) or at the CLS token only (nq = 1): stride 3D either way.
            BLAS.gemm(m: nq, n: hd, k: n, alpha: scale, a: ds, lda: n, b: base + d, ldb: 3 * d, c: dbase, ldc: 3 * d)
            BLAS.gemm(transA: true, m: n, n: hd, k: nq, alpha: scale, a: ds, lda: n, b: base, ldb: 3 * d,
                      c: dbase + d, ldc: 3 * d)
        }

        // T -> q|k|v: dT = dqkv Wqkv
        let dT = FloatBuffer(uninitialized: rows * d)
        BLAS.parallelGemm(m: rows, n: d, k: 3 * d, a: dqkv.ptr, lda: 3 * d, b: w.qkv.weight.ptr, ldb: d, c: dT.ptr, ldc: d)

        // x -> norm1 -> T, plus the residual into the query rows.
        let dInput = FloatBuffer(count: rows * d)
        for r in 0..<qrows { (dInput.ptr + c.tokenRow(ofQueryRow: r) * d).update(from: dx1.ptr + r * d, count: d) }
        layerNormBackward(c.input.ptr, rows: rows, width: d, weight: w.norm1Weight.ptr,
                          mean: c.norm1Mean.ptr, rstd: c.norm1Rstd.ptr, dOut: dT.ptr, dInput: dInput.ptr)
        return BlockGradients(dInput: dInput, dNorm1Out: dT, dProbs: wantProbs ? dProbs : nil)
    }

    /// Back-propagates dCLS (B, D), the gradient w.r.t. the CLS embeddings, through the final LayerNorm.
    /// Returns d/d(last block output) for the CLS rows. (B, D)
    public func finalNormBackward(_ result: ForwardResult, dCLS: FloatBuffer) -> FloatBuffer {
        let d = config.hiddenSize
        let dX = FloatBuffer(count: result.batch * d)
        layerNormBackward(result.finalInput.ptr, rows: result.batch, width: d, weight: weights.normWeight.ptr,
                          mean: result.finalMean.ptr, rstd: result.finalRstd.ptr, dOut: dCLS.ptr, dInput: dX.ptr)
        return dX
    }
}
