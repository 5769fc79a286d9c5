// The last block alone, run from the tokens entering its attention: the function of T that CDAM
// differentiates (the residual stream held fixed). Smooth and Integrated CDAM with `--perturb tokens`
// perturb T and run only this, instead of every block.
//
// Shapes: B versions of one image, N tokens, D width.

import TensorMath

extension VisionTransformer {
    /// Runs the last block (the CLS row past the attention) and the final LayerNorm on B versions of one
    /// image's tokens T.
    ///
    /// - Parameters:
    ///   - input: the residual stream entering the last block, (N, D) for one image, shared by all B versions
    ///     (`forward(keep: .lastBlock)` leaves it in `caches.last!.input`).
    ///   - norm1Out: B versions of T, (B*N, D), read by the attention in place of norm1(input).
    /// - Returns: a result holding the last block's cache, as `forward(keep: .lastBlock)` does, so `cdam` runs on it.
    public func lastBlockForward(input: FloatBuffer, norm1Out: FloatBuffer, batch b: Int,
                                 gridHeight: Int, gridWidth: Int) -> ForwardResult {
        let d = config.hiddenSize, n = input.count / d, layers = config.layers
        precondition(norm1Out.count == b * n * d, "norm1Out must hold \(b) x \(n) x \(d) values")
        let x = FloatBuffer(uninitialized: b * n * d)
        for i in 0..<b { (x.ptr + i * n * d).update(from: input.ptr, count: n * d) }
        let cache = blockForward(layers - 1, x: x, batch: b, tokens: n, clsOnly: true, record: .all, norm1Out: norm1Out,
                                 precision: precision)
        let (clsInput, cls, mean, rstd) = finalNorm(clsRowsOf: cache.output, batch: b, queries: 1)
        var caches = [BlockCache?](repeating: nil, count: layers)
        caches[layers - 1] = cache
        return ForwardResult(batch: b, tokens: n, gridHeight: gridHeight, gridWidth: gridWidth, cls: cls, finalTokens: nil,
                             caches: caches, attentions: [FloatBuffer?](repeating: nil, count: layers),
                             finalInput: clsInput, finalMean: mean, finalRstd: rstd)
    }
}
