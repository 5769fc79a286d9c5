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
    /// Back-propagates `dOutput` (rows, D) through the tail of block `l`, out = x1 + ls2 * fc2(GELU(fc1(norm2(x1))))
    /// with x1 = x + ls1 * (o Wproj^T + b), for rows whose forward values are given: x1 (`residual1`), norm2's mean
    /// and rstd, and fc1's pre-activation (`fc1Pre`, rows x M). Shared by the block's backward and CDAM, which runs
    /// it on K copies of the CLS row (one per target).
    /// - Parameter parallel: products on all cores (`BLAS.parallelGemm`); CDAM, called inside parallel loops, keeps one.
    /// - Returns: d/dx1 (the residual's gradient plus the MLP branch's) and dO, d/d(attention output o). (rows, D)
    public func blockTailBackward(_ l: Int, rows: Int, dOutput: UnsafePointer<Float>, residual1: UnsafePointer<Float>,
                                  norm2Mean: UnsafePointer<Float>, norm2Rstd: UnsafePointer<Float>,
                                  fc1Pre: UnsafePointer<Float>, parallel: Bool) -> (dx1: FloatBuffer, dO: FloatBuffer) {
        let w = weights.blocks[l]
        let d = config.hiddenSize, m = config.mlpSize
        func gemm(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
            if parallel {
                BLAS.parallelGemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
            } else {
                BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
            }
        }
        let dx1 = FloatBuffer(uninitialized: rows * d)
        dx1.ptr.update(from: dOutput, count: rows * d)
        let dY = FloatBuffer(uninitialized: rows * d)
        for r in 0..<rows { for j in 0..<d { dY.ptr[r * d + j] = dOutput[r * d + j] * w.layerScale2[j] } }
        let dAct = FloatBuffer(uninitialized: rows * m)
        gemm(rows, m, d, dY.ptr, w.fc2.weight.ptr, dAct.ptr)
        let dPre = FloatBuffer(uninitialized: rows * m)
        geluBackward(fc1Pre, dOut: dAct.ptr, dInput: dPre.ptr, count: rows * m)
        let dNorm2 = FloatBuffer(uninitialized: rows * d)
        gemm(rows, d, m, dPre.ptr, w.fc1.weight.ptr, dNorm2.ptr)
        layerNormBackward(residual1, rows: rows, width: d, weight: w.norm2Weight.ptr,
                          mean: norm2Mean, rstd: norm2Rstd, dOut: dNorm2.ptr, dInput: dx1.ptr)
        let dProj = FloatBuffer(uninitialized: rows * d)
        for r in 0..<rows { for j in 0..<d { dProj.ptr[r * d + j] = dx1.ptr[r * d + j] * w.layerScale1[j] } }
        let dO = FloatBuffer(uninitialized: rows * d)
        gemm(rows, d, d, dProj.ptr, w.proj.weight.ptr, dO.ptr)
        return (dx1, dO)
    }

    /// Back-propagates dOutput (B*nq, D) through block `l`, whose forward pass left `cache`.
    public func blockBackward(_ l: Int, cache c: BlockCache, dOutput: FloatBuffer, wantProbs: Bool = false) -> BlockGradients {
        let w = weights.blocks[l]
        let d = config.hiddenSize, heads = config.heads, hd = config.headSize
        let b = c.batch, n = c.tokens, nq = c.queries, rows = b * n, qrows = b * nq

        // The MLP branch, the residual and the output projection.
        let (dx1, dO) = blockTailBackward(l, rows: qrows, dOutput: dOutput.ptr, residual1: c.residual1.ptr,
                                          norm2Mean: c.norm2Mean.ptr, norm2Rstd: c.norm2Rstd.ptr, fc1Pre: c.fc1Pre.ptr,
                                          parallel: true)

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
