// Patch embedding: a P x P convolution with stride P, computed as im2col + one matrix product.
//
// Shapes: pixels (B, C, H, W) normalized, CHW per image; result (B, 1 + gh*gw, D) tokens with
// the CLS token in row 0 and position embeddings added.

import TensorMath

extension VisionTransformer {
    /// Cuts each image into patches, projects them, prepends CLS and adds the position embeddings.
    ///
    /// The patch rows are split between the cores; each part cuts its own patches and projects them, with
    /// the position embeddings added in the product's epilogue.
    public func embed(pixels: UnsafePointer<Float>, batch b: Int, height h: Int, width w: Int) -> FloatBuffer {
        let p = config.patchSize, c = config.channels, d = config.hiddenSize
        let gh = h / p, gw = w / p, g = gh * gw, n = 1 + g, k = c * p * p
        let pos = positionEmbeddings(gridHeight: gh, gridWidth: gw)
        // (B*gh*gw, C*P*P), in the kernel's (c, ky, kx) order.
        let patches = FloatBuffer(uninitialized: b * g * k)
        let tokens = FloatBuffer(uninitialized: b * n * d)
        for img in 0..<b {
            for j in 0..<d { tokens.ptr[img * n * d + j] = weights.clsToken[j] + pos.ptr[j] }
        }
        parallelRanges(b * g, chunks: Self.parts(b * g)) { rows in
            for q in rows {
                let img = q / g, py = (q % g) / gw, px = q % gw
                let src = pixels + img * c * h * w, row = patches.ptr + q * k
                for ch in 0..<c {
                    for ky in 0..<p {
                        (row + (ch * p + ky) * p).update(from: src + (ch * h + py * p + ky) * w + px * p, count: p)
                    }
                }
            }
            // tokens[1:] = patches Wpatch^T + bias + positions[1:], one image's rows at a time.
            var q = rows.lowerBound
            while q < rows.upperBound {
                let img = q / g, j = q % g, count = min(g - j, rows.upperBound - q)
                weights.patch.apply(rows: count, x: patches.ptr + q * k, ldx: k, bias: weights.patchBias.ptr,
                                    out: tokens.ptr + (img * n + 1 + j) * d, ldOut: d,
                                    epilogue: .residual(pos.ptr + (1 + j) * d, ld: d, scale: nil))
                q += count
            }
        }
        return tokens
    }
}
