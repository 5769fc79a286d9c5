// One pre-norm transformer block with LayerScale (DINOv2; LayerScale is 1 for plain ViT):
//   x1 = x + ls1 * proj(Attention(norm1(x)));  out = x1 + ls2 * fc2(GELU(fc1(norm2(x1))))
//
// Shapes: B images, N tokens, D width, H heads, d = D/H head width, M MLP width.
// "Query rows" are all N tokens, or only the CLS token (nq = 1) when nothing but the CLS
// embedding is needed downstream: in the last block that saves most of its work.

import TensorMath

/// What a block's forward pass keeps in its cache besides its output.
public enum BlockRecord: Sendable {
    /// The output only: the attention may run fused (no probabilities) and GELU's input is not stored.
    case output
    /// The output and the attention probabilities.
    case attention
    /// Everything the backward pass reads.
    case all
}

/// What one block's forward pass computed, kept for the backward pass and the attention maps.
public final class BlockCache {
    public let batch: Int, tokens: Int
    /// N, or 1 when only the CLS token was carried through the block.
    public let queries: Int
    public let input: FloatBuffer                          // x (B*N, D)
    public let norm1Mean: FloatBuffer, norm1Rstd: FloatBuffer // (B*N)
    public let norm1Out: FloatBuffer                       // T (B*N, D): what CDAM differentiates against
    public let qkv: FloatBuffer                            // (B*N, 3D); with nq = 1 only CLS rows hold q
    /// (B, H, nq, N) attention probabilities; empty when the block ran the fused attention, whose
    /// probabilities never exist as a matrix (only blocks whose cache nobody keeps run it).
    public let probs: FloatBuffer
    public var hasProbabilities: Bool { probs.count > 0 }
    public let attnOut: FloatBuffer                        // (B*nq, D) heads concatenated, before proj
    public let residual1: FloatBuffer                      // x1 (B*nq, D)
    public let norm2Mean: FloatBuffer, norm2Rstd: FloatBuffer // (B*nq)
    public let norm2Out: FloatBuffer                       // (B*nq, D)
    public let fc1Pre: FloatBuffer                         // (B*nq, M) before GELU; empty unless recording .all
    public let fc1Act: FloatBuffer                         // (B*nq, M) after GELU
    public let output: FloatBuffer                         // (B*nq, D)

    init(batch: Int, tokens: Int, queries: Int, width d: Int, heads: Int, mlp m: Int, input: FloatBuffer,
         probabilities: Bool, preActivations: Bool) {
        self.batch = batch; self.tokens = tokens; self.queries = queries
        let rows = batch * tokens, qrows = batch * queries
        self.input = input
        norm1Mean = FloatBuffer(uninitialized: rows); norm1Rstd = FloatBuffer(uninitialized: rows)
        norm1Out = FloatBuffer(uninitialized: rows * d)
        qkv = FloatBuffer(uninitialized: rows * 3 * d)
        probs = FloatBuffer(uninitialized: probabilities ? batch * heads * queries * tokens : 0)
        attnOut = FloatBuffer(uninitialized: qrows * d)
        residual1 = FloatBuffer(uninitialized: qrows * d)
        norm2Mean = FloatBuffer(uninitialized: qrows); norm2Rstd = FloatBuffer(uninitialized: qrows)
        norm2Out = FloatBuffer(uninitialized: qrows * d)
        fc1Pre = FloatBuffer(uninitialized: preActivations ? qrows * m : 0)
        fc1Act = FloatBuffer(uninitialized: qrows * m)
        output = FloatBuffer(uninitialized: qrows * d)
    }

    /// Row r of the query rows inside the (B*N) token rows.
    @inline(__always) func tokenRow(ofQueryRow r: Int) -> Int { queries == 1 ? r * tokens : r }
}

extension VisionTransformer {
    /// Runs block `l` on x (B*N, D); with `clsOnly`, carries only the CLS rows past the attention. `record`
    /// says what the cache must hold besides the output.
    ///
    /// Every step but the attention treats rows independently, so the rows are split between the cores
    /// and each part runs its whole chain of single-threaded products and elementwise passes: two phases
    /// per block, with one wait between them, for the keys and values of every row. The residual sums
    /// and GELU happen in the products' epilogues, on each output tile just computed (still in L1).
    /// `norm1Out`, when given (B*N, D), replaces norm1(x) (the residual still adds x): the block as a function
    /// of the tokens CDAM differentiates against; norm1's statistics are then left unset. `precision` is the
    /// linear layers' (the attention products stay fp32: see README, bf16).
    func blockForward(_ l: Int, x: FloatBuffer, batch b: Int, tokens n: Int, clsOnly: Bool,
                      record: BlockRecord = .all, norm1Out given: FloatBuffer? = nil,
                      precision: Precision = .fp32) -> BlockCache {
        let w = weights.blocks[l]
        let d = config.hiddenSize, heads = config.heads, hd = config.headSize, m = config.mlpSize
        let nq = clsOnly ? 1 : n, rows = b * n, qrows = b * nq
        let fused = record == .output && FusedAttention.runs(headSize: hd)
        let c = BlockCache(batch: b, tokens: n, queries: nq, width: d, heads: heads, mlp: m, input: x,
                           probabilities: !fused, preActivations: record == .all)
        let eps = config.layerNormEps

        // Phase 1, per part of the rows: T = norm1(x); q, k, v = T Wq^T + bq, ... (k|v only when clsOnly).
        let xp = x.ptr, t = c.norm1Out.ptr, qkv = c.qkv.ptr
        parallelRanges(rows, chunks: Self.parts(rows)) { r in
            let lo = r.lowerBound, count = r.count
            if let given {
                (t + lo * d).update(from: given.ptr + lo * d, count: count * d)
            } else {
                layerNormForward(xp + lo * d, rows: count, width: d, weight: w.norm1Weight.ptr, bias: w.norm1Bias.ptr, eps: eps,
                                 out: t + lo * d, mean: c.norm1Mean.ptr + lo, rstd: c.norm1Rstd.ptr + lo)
            }
            w.qkv.apply(rows: count, x: t + lo * d, ldx: d, bias: w.qkvBias.ptr, out: qkv + lo * 3 * d, ldOut: 3 * d,
                          columns: clsOnly ? d..<(3 * d) : nil, precision: precision)
        }
        if clsOnly {   // q for the CLS rows only
            w.qkv.apply(rows: b, x: t, ldx: n * d, bias: w.qkvBias.ptr, out: qkv, ldOut: n * 3 * d, columns: 0..<d,
                          precision: precision)
        }

        // Phase 2, per part of the query rows: attention over every key, the projection and the MLP.
        parallelRanges(qrows, chunks: Self.parts(qrows)) { r in
            attention(c, queryRows: r, width: d, heads: heads, headSize: hd)
            let lo = r.lowerBound, count = r.count
            // x1 = x + ls1 * (o Wproj^T + bproj); x's rows for the query rows lie n rows apart when nq = 1.
            let x1 = c.residual1.ptr + lo * d
            w.proj.apply(rows: count, x: c.attnOut.ptr + lo * d, ldx: d, bias: w.projBias.ptr, out: x1, ldOut: d,
                         epilogue: .residual(xp + c.tokenRow(ofQueryRow: lo) * d, ld: nq == 1 ? n * d : d,
                                             scale: w.layerScale1.ptr), precision: precision)
            // out = x1 + ls2 * fc2(GELU(fc1(norm2(x1))))
            layerNormForward(x1, rows: count, width: d, weight: w.norm2Weight.ptr, bias: w.norm2Bias.ptr, eps: eps,
                             out: c.norm2Out.ptr + lo * d, mean: c.norm2Mean.ptr + lo, rstd: c.norm2Rstd.ptr + lo)
            let act = c.fc1Act.ptr + lo * m, out = c.output.ptr + lo * d
            w.fc1.apply(rows: count, x: c.norm2Out.ptr + lo * d, ldx: d, bias: w.fc1Bias.ptr, out: act, ldOut: m,
                        epilogue: .gelu(pre: record == .all ? c.fc1Pre.ptr + lo * m : nil, ld: m), precision: precision)
            w.fc2.apply(rows: count, x: act, ldx: m, bias: w.fc2Bias.ptr, out: out, ldOut: d,
                        epilogue: .residual(x1, ld: d, scale: w.layerScale2.ptr), precision: precision)
        }
        return c
    }

    /// P = softmax(q k^T / sqrt(d)) and o = P v for the query rows `r` (of all B*nq), every head.
    private func attention(_ c: BlockCache, queryRows r: Range<Int>, width d: Int, heads: Int, headSize hd: Int) {
        let n = c.tokens, nq = c.queries, scale = 1 / Float(hd).squareRoot()
        var q = r.lowerBound
        while q < r.upperBound {
            // The rows [a, e) of image img's queries that fall in r.
            let img = q / nq, a = q - img * nq, e = min(nq, r.upperBound - img * nq)
            let base = c.qkv.ptr + img * n * 3 * d
            for h in 0..<heads {
                let qh = base + a * 3 * d + h * hd, kh = base + d + h * hd, vh = base + 2 * d + h * hd
                let out = c.attnOut.ptr + (img * nq + a) * d + h * hd
                if !c.hasProbabilities, FusedAttention.run(rows: e - a, keys: n, headSize: hd, q: qh, k: kh, v: vh,
                                                           ld: 3 * d, scale: scale, out: out, ldOut: d) {
                    continue
                }
                // Two products around a softmax, the scores in the cache (or in a buffer of their own
                // should the fused kernel have found no memory).
                let own = c.hasProbabilities ? nil : FloatBuffer(uninitialized: (e - a) * n)
                let p = own?.ptr ?? c.probs.ptr + ((img * heads + h) * nq + a) * n
                BLAS.gemm(transB: true, m: e - a, n: n, k: hd, a: qh, lda: 3 * d, b: kh, ldb: 3 * d, c: p, ldc: n)
                softmaxForward(p, rows: e - a, n: n, stride: n, scale: scale)
                BLAS.gemm(m: e - a, n: hd, k: n, a: p, lda: n, b: vh, ldb: 3 * d, c: out, ldc: d)
            }
            q = img * nq + e
        }
    }

    /// Into how many parts to split `rows` rows: one per core, unless the parts would be too small
    /// for their products to pay for the split.
    static func parts(_ rows: Int) -> Int { rows >= 64 ? Parallel.cores : 1 }
}
