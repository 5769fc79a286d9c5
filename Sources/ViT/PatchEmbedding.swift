// Patch embedding: a P x P convolution with stride P, computed as im2col + one matrix product.
//
// Shapes: pixels (B, C, H, W) normalized, CHW per image; result (B, 1 + gh*gw, D) tokens with
// the CLS token in row 0 and position embeddings added.

import TensorMath

extension VisionTransformer {
    /// Cuts each image into patches, projects them, prepends CLS and adds the position embeddings.
    public func embed(pixels: UnsafePointer<Float>, batch b: Int, height h: Int, width w: Int) -> FloatBuffer {
        let p = config.patchSize, c = config.channels, d = config.hiddenSize
        let gh = h / p, gw = w / p, n = 1 + gh * gw, k = c * p * p
        // (B*gh*gw, C*P*P), in the kernel's (c, ky, kx) order.
        let patches = FloatBuffer(count: b * gh * gw * k)
        for img in 0..<b {
            let src = pixels + img * c * h * w
            for py in 0..<gh {
                for px in 0..<gw {
                    let row = patches.ptr + ((img * gh + py) * gw + px) * k
                    for ch in 0..<c {
                        for ky in 0..<p {
                            (row + (ch * p + ky) * p).update(from: src + (ch * h + py * p + ky) * w + px * p, count: p)
                        }
                    }
                }
            }
        }
        let pos = positionEmbeddings(gridHeight: gh, gridWidth: gw)
        let tokens = FloatBuffer(count: b * n * d)
        for img in 0..<b {
            let t = tokens.ptr + img * n * d
            for j in 0..<d { t[j] = weights.clsToken[j] }
            for r in 1..<n { (t + r * d).update(from: weights.patchBias.ptr, count: d) }
            for i in 0..<(n * d) { t[i] += pos.ptr[i] }
            // tokens[1:] += patches @ Wpatch^T
            BLAS.parallelGemm(transB: true, m: gh * gw, n: d, k: k, a: patches.ptr + img * gh * gw * k, lda: k,
                      b: weights.patchWeight.ptr, ldb: k, beta: 1, c: t + d, ldc: d)
        }
        return tokens
    }
}
