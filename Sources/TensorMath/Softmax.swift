// Row-wise softmax, forward and backward.
//
// Shapes: rows of length n at stride `stride` (so a head's scores inside a larger matrix work).

/// In place: each row of x becomes softmax(scale * row).
public func softmaxForward(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int, stride: Int, scale: Float = 1) {
    for r in 0..<rows {
        let row = x + r * stride
        let mx = simdMax(row, n)
        for j in 0..<n {
            // Below e^-64 (1.6e-28) a term is 0: next to the row's maximum, e^0 = 1, it does not change the sum,
            // and kept it would turn denormal after the division, slowing every later multiply by 100x.
            let v = (row[j] - mx) * scale
            row[j] = v < -64 ? 0 : fastExp(v)
        }
        let inv = 1 / simdSum(row, n)
        for j in 0..<n { row[j] *= inv }
    }
}

/// dScores = P * (dP - sum_j dP_j P_j) per row, the gradient w.r.t. the softmax's input (before `scale`).
public func softmaxBackward(_ probs: UnsafePointer<Float>, dProbs: UnsafePointer<Float>,
                            dScores: UnsafeMutablePointer<Float>, rows: Int, n: Int, stride: Int) {
    for r in 0..<rows {
        let p = probs + r * stride, dp = dProbs + r * stride, ds = dScores + r * stride
        let dot = simdDot(dp, p, n)
        for j in 0..<n { ds[j] = p[j] * (dp[j] - dot) }
    }
}
