// LayerNorm (Ba et al. 2016) over the last axis, forward and backward, as in llm.c.
//
// Shapes: x, out (R, D) row-major; mean, rstd (R).

import CKernels

/// out = (x - mean) * rstd * weight + bias per row; caches mean and rstd for the backward pass. In CKernels'
/// 16-lane loop (the same formula) on AVX-512 CPUs.
public func layerNormForward(_ x: UnsafePointer<Float>, rows: Int, width d: Int,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                             out: UnsafeMutablePointer<Float>,
                             mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil) {
    if CPU.avx512, cdam_layer_norm(x, Int32(rows), Int32(d), weight, bias, eps, out, mean, rstd) == 0 { return }
    for r in 0..<rows {
        let row = x + r * d, o = out + r * d
        let m = simdSum(row, d) / Float(d)
        var v: Float = 0
        for j in 0..<d { let c = row[j] - m; v += c * c }
        let rs = 1 / (v / Float(d) + eps).squareRoot()
        for j in 0..<d { o[j] = (row[j] - m) * rs * weight[j] + bias[j] }
        mean?[r] = m
        rstd?[r] = rs
    }
}

/// dx += d(out)/d(x)^T dout, given the cached mean and rstd (the weight's and bias's gradients are not needed here).
public func layerNormBackward(_ x: UnsafePointer<Float>, rows: Int, width d: Int,
                              weight: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                              dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = x + r * d, dout = dOut + r * d, dx = dInput + r * d
        let m = mean[r], rs = rstd[r]
        var dnormMean: Float = 0, dnormNormMean: Float = 0
        for j in 0..<d {
            let norm = (row[j] - m) * rs
            let dnorm = weight[j] * dout[j]
            dnormMean += dnorm
            dnormNormMean += dnorm * norm
        }
        dnormMean /= Float(d)
        dnormNormMean /= Float(d)
        for j in 0..<d {
            let norm = (row[j] - m) * rs
            let dnorm = weight[j] * dout[j]
            dx[j] += rs * (dnorm - dnormMean - norm * dnormNormMean)
        }
    }
}
