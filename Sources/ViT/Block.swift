// One pre-norm transformer block with LayerScale (DINOv2; LayerScale is 1 for plain ViT):
//   x1 = x + ls1 * proj(Attention(norm1(x)));  out = x1 + ls2 * fc2(GELU(fc1(norm2(x1))))
//
// Shapes: B images, N tokens, D width, H heads, d = D/H head width, M MLP width.
// "Query rows" are all N tokens, or only the CLS token (nq = 1) when nothing but the CLS
// embedding is needed downstream: in the last block that saves most of its work.

import Dispatch
import TensorMath

/// What one block's forward pass computed, kept for the backward pass and the attention maps.
public final class BlockCache {
    public let batch: Int, tokens: Int
    /// N, or 1 when only the CLS token was carried through the block.
    public let queries: Int
    public let input: FloatBuffer                          // x (B*N, D)
    public let norm1Mean: FloatBuffer, norm1Rstd: FloatBuffer // (B*N)
    public let norm1Out: FloatBuffer                       // T (B*N, D): what CDAM differentiates against
    public let qkv: FloatBuffer                            // (B*N, 3D); with nq = 1 only CLS rows hold q
    public let probs: FloatBuffer                          // (B, H, nq, N) attention probabilities
    public let attnOut: FloatBuffer                        // (B*nq, D) heads concatenated, before proj
    public let residual1: FloatBuffer                      // x1 (B*nq, D)
    public let norm2Mean: FloatBuffer, norm2Rstd: FloatBuffer // (B*nq)
    public let norm2Out: FloatBuffer                       // (B*nq, D)
    public let fc1Pre: FloatBuffer                         // (B*nq, M) before GELU
    public let fc1Act: FloatBuffer                         // (B*nq, M) after GELU
    public let output: FloatBuffer                         // (B*nq, D)

    init(batch: Int, tokens: Int, queries: Int, width d: Int, heads: Int, mlp m: Int, input: FloatBuffer) {
        self.batch = batch; self.tokens = tokens; self.queries = queries
        let rows = batch * tokens, qrows = batch * queries
        self.input = input
        norm1Mean = FloatBuffer(uninitialized: rows); norm1Rstd = FloatBuffer(uninitialized: rows)
        norm1Out = FloatBuffer(uninitialized: rows * d)
        qkv = FloatBuffer(uninitialized: rows * 3 * d)
        probs = FloatBuffer(uninitialized: batch * heads * queries * tokens)
        attnOut = FloatBuffer(uninitialized: qrows * d)
        residual1 = FloatBuffer(uninitialized: qrows * d)
        norm2Mean = FloatBuffer(uninitialized: qrows); norm2Rstd = FloatBuffer(uninitialized: qrows)
        norm2Out = FloatBuffer(uninitialized: qrows * d)
        fc1Pre = FloatBuffer(uninitialized: qrows * m)
        fc1Act = FloatBuffer(uninitialized: qrows * m)
        output = FloatBuffer(uninitialized: qrows * d)
    }

    /// Row r of the query rows inside the (B*N) token rows.
    @inline(__always) func tokenRow(ofQueryRow r: Int) -> Int { queries == 1 ? r * tokens : r }
}

/// Fills each of `rows` rows of width `n` with `bias`, so a product can accumulate onto it (beta = 1).
@inline(__always)
func fillRows(_ out: UnsafeMutablePointer<Float>, rows: Int, n: Int, stride: Int? = nil, bias: UnsafePointer<Float>) {
    let s = stride ?? n
    for r in 0..<rows { (out + r * s).update(from: bias, count: n) }
}

extension VisionTransformer {
    /// Runs block `l` on x (B*N, D); with `clsOnly`, carries only the CLS rows past the attention.
    func blockForward(_ l: Int, x: FloatBuffer, batch b: Int, tokens n: Int, clsOnly: Bool) -> BlockCache {
        let w = weights.blocks[l]
        let d = config.hiddenSize, heads = config.heads, hd = config.headSize, m = config.mlpSize
        let nq = clsOnly ? 1 : n, rows = b * n, qrows = b * nq
        let c = BlockCache(batch: b, tokens: n, queries: nq, width: d, heads: heads, mlp: m, input: x)

        layerNormForward(x.ptr, rows: rows, width: d, weight: w.norm1Weight.ptr, bias: w.norm1Bias.ptr,
                         eps: config.layerNormEps, out: c.norm1Out.ptr, mean: c.norm1Mean.ptr, rstd: c.norm1Rstd.ptr)

        // q, k, v = T Wq^T + bq, ...: one product for all three, or k|v for all rows plus q for CLS rows.
        fillRows(c.qkv.ptr, rows: rows, n: 3 * d, bias: w.qkvBias.ptr)
        if clsOnly {
            BLAS.parallelGemm(transB: true, m: rows, n: 2 * d, k: d, a: c.norm1Out.ptr, lda: d,
                      b: w.qkvWeight.ptr + d * d, ldb: d, beta: 1, c: c.qkv.ptr + d, ldc: 3 * d)
            BLAS.gemm(transB: true, m: b, n: d, k: d, a: c.norm1Out.ptr, lda: n * d,
                      b: w.qkvWeight.ptr, ldb: d, beta: 1, c: c.qkv.ptr, ldc: n * 3 * d)
        } else {
            BLAS.parallelGemm(transB: true, m: rows, n: 3 * d, k: d, a: c.norm1Out.ptr, lda: d,
                      b: w.qkvWeight.ptr, ldb: d, beta: 1, c: c.qkv.ptr, ldc: 3 * d)
        }

        // Per image and head: P = softmax(q k^T / sqrt(d)), o = P v. Heads run in parallel with
        // single-threaded products: at (N x d) x (d x N) OpenBLAS's own threads cost more than they give.
        let scale = 1 / Float(hd).squareRoot()
        let qkv = c.qkv.ptr, probs = c.probs.ptr, attnOut = c.attnOut.ptr
        DispatchQueue.concurrentPerform(iterations: b * heads) { i in
            let img = i / heads, h = i % heads
            let base = qkv + img * n * 3 * d + h * hd
            let p = probs + i * nq * n
            BLAS.gemm(transB: true, m: nq, n: n, k: hd, a: base, lda: 3 * d, b: base + d, ldb: 3 * d, c: p, ldc: n)
            softmaxForward(p, rows: nq, n: n, stride: n, scale: scale)
            BLAS.gemm(m: nq, n: hd, k: n, a: p, lda: n, b: base + 2 * d, ldb: 3 * d,
                      c: attnOut + img * nq * d + h * hd, ldc: d)
        }

        // x1 = x + ls1 * (o Wproj^T + bproj)
        fillRows(c.residual1.ptr, rows: qrows, n: d, bias: w.projBias.ptr)
        BLAS.parallelGemm(transB: true, m: qrows, n: d, k: d, a: c.attnOut.ptr, lda: d, b: w.projWeight.ptr, ldb: d,
                  beta: 1, c: c.residual1.ptr, ldc: d)
        for r in 0..<qrows {
            let xr = x.ptr + c.tokenRow(ofQueryRow: r) * d, o = c.residual1.ptr + r * d
            for j in 0..<d { o[j] = xr[j] + w.layerScale1[j] * o[j] }
        }

        // out = x1 + ls2 * fc2(GELU(fc1(norm2(x1))))
        layerNormForward(c.residual1.ptr, rows: qrows, width: d, weight: w.norm2Weight.ptr, bias: w.norm2Bias.ptr,
                         eps: config.layerNormEps, out: c.norm2Out.ptr, mean: c.norm2Mean.ptr, rstd: c.norm2Rstd.ptr)
        fillRows(c.fc1Pre.ptr, rows: qrows, n: m, bias: w.fc1Bias.ptr)
        BLAS.parallelGemm(transB: true, m: qrows, n: m, k: d, a: c.norm2Out.ptr, lda: d, b: w.fc1Weight.ptr, ldb: d,
                  beta: 1, c: c.fc1Pre.ptr, ldc: m)
        geluForward(c.fc1Pre.ptr, out: c.fc1Act.ptr, count: qrows * m)
        fillRows(c.output.ptr, rows: qrows, n: d, bias: w.fc2Bias.ptr)
        BLAS.parallelGemm(transB: true, m: qrows, n: d, k: m, a: c.fc1Act.ptr, lda: m, b: w.fc2Weight.ptr, ldb: m,
                  beta: 1, c: c.output.ptr, ldc: d)
        for r in 0..<qrows {
            let x1 = c.residual1.ptr + r * d, o = c.output.ptr + r * d
            for j in 0..<d { o[j] = x1[j] + w.layerScale2[j] * o[j] }
        }
        return c
    }
}
