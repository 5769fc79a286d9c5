// Concept activation vector (TCAV, Kim et al. 2018): class-balanced L2-regularized logistic
// regression, fitted by Newton's method whose steps are solved by conjugate gradients
// preconditioned with Böhning's fixed curvature bound (Böhning 1992).
//
// Letters: N rows, D width, p = D + 1 (a constant 1 is appended for the bias).
// The fit works on standardized rows z = [(x - centre) * scale, 1]; centring is an exact
// reparametrization because the bias is not penalized, and the scale fixes the meaning of
// lambda: the background's RMS distance to its mean is 1.

import Foundation

struct LogisticProbe {
    /// Standardized, augmented rows (N x p).
    let z: Matrix
    let centre: [Double]
    let scale: Double
    let lambda: Double
    var width: Int { z.cols - 1 }

    /// Standardizes `rows` with the centre and RMS spread of the rows listed in `reference`.
    init(rows: Matrix, reference: [Int], lambda: Double) {
        let d = rows.cols
        let centre = rows.rowMean(reference)
        var ss = 0.0
        for i in reference { for j in 0..<d { let v = rows.data[i * d + j] - centre[j]; ss += v * v } }
        var rms = reference.isEmpty ? 0 : (ss / Double(reference.count)).squareRoot()
        if !(rms > 1e-12) {
            // A background of one point (or identical points) has no spread: take all rows'.
            ss = 0
            for i in 0..<rows.rows { for j in 0..<d { let v = rows.data[i * d + j] - centre[j]; ss += v * v } }
            rms = rows.rows == 0 ? 0 : (ss / Double(rows.rows)).squareRoot()
        }
        let scale = rms > 1e-12 ? 1 / rms : 1
        var z = Matrix(rows: rows.rows, cols: d + 1)
        for i in 0..<rows.rows {
            for j in 0..<d { z.data[i * (d + 1) + j] = (rows.data[i * d + j] - centre[j]) * scale }
            z.data[i * (d + 1) + d] = 1
        }
        self.z = z
        self.centre = centre
        self.scale = scale
        self.lambda = lambda
    }

    /// Weighted Gram matrix sum_i z_i z_i^T over `indices` (p x p, symmetric).
    func gram(_ indices: [Int]) -> [Double] {
        var g = [Double](repeating: 0, count: z.cols * z.cols)
        z.addGramUpper(indices, weight: 1, into: &g)
        symmetrizeUpper(&g, z.cols)
        return g
    }

    /// Böhning's bound B = (1/4) sum_i a_i z_i z_i^T + lambda I_w >= the Hessian everywhere,
    /// from the Gram matrices of the positives and of the negatives; a good preconditioner.
    func bound(positiveGram gp: [Double], positiveWeight ap: Double,
               negativeGram gn: [Double], negativeWeight an: Double) -> Cholesky? {
        let p = z.cols
        var b = [Double](repeating: 0, count: p * p)
        for k in 0..<(p * p) { b[k] = 0.25 * (ap * gp[k] + an * gn[k]) }
        for j in 0..<(p - 1) { b[j * p + j] += lambda }
        return Cholesky(b, n: p)
    }

    /// Per-row state at parameters theta: margins m = z theta and probabilities sigma(m).
    private func probabilities(_ theta: [Double], margins m: inout [Double], probs q: inout [Double]) {
        z.multiply(theta, into: &m)
        for i in 0..<m.count { q[i] = 1 / (1 + exp(-m[i])) }
    }

    /// sum_i a_i (softplus(m_i) - t_i m_i) + lambda/2 |w|^2.
    func objective(_ theta: [Double], targets t: [Double], weights a: [Double], scratch m: inout [Double]) -> Double {
        z.multiply(theta, into: &m)
        var loss = 0.0
        for i in 0..<m.count where a[i] != 0 {
            let mi = m[i]
            loss += a[i] * (max(mi, 0) + log1p(exp(-abs(mi))) - t[i] * mi)
        }
        var ww = 0.0
        for j in 0..<width { ww += theta[j] * theta[j] }
        return loss + 0.5 * lambda * ww
    }

    /// Gradient at theta given the probabilities q.
    private func gradient(_ theta: [Double], probs q: [Double], targets t: [Double], weights a: [Double],
                          residual r: inout [Double], into g: inout [Double]) {
        for i in 0..<q.count { r[i] = a[i] * (q[i] - t[i]) }
        z.multiplyTransposed(r, into: &g)
        for j in 0..<width { g[j] += lambda * theta[j] }
    }

    /// Solves H d = rhs by preconditioned conjugate gradients, H v = Z^T diag(s) Z v + lambda v_w.
    private func conjugateGradient(curvature s: [Double], rhs: [Double], preconditioner: Cholesky,
                                   tolerance: Double, maxIterations: Int) -> [Double] {
        let p = z.cols
        var x = [Double](repeating: 0, count: p)
        var r = rhs
        let bnorm = dot(rhs, rhs).squareRoot()
        guard bnorm > 0 else { return x }
        var y = preconditioner.solved(r)
        var dir = y
        var ry = dot(r, y)
        var zv = [Double](repeating: 0, count: z.rows)
        var hd = [Double](repeating: 0, count: p)
        for _ in 0..<maxIterations {
            z.multiply(dir, into: &zv)
            for i in 0..<zv.count { zv[i] *= s[i] }
            z.multiplyTransposed(zv, into: &hd)
            for j in 0..<(p - 1) { hd[j] += lambda * dir[j] }
            let dhd = dot(dir, hd)
            guard dhd > 0 else { break }
            let alpha = ry / dhd
            for j in 0..<p { x[j] += alpha * dir[j]; r[j] -= alpha * hd[j] }
            if dot(r, r).squareRoot() <= tolerance * bnorm { break }
            y = r
            preconditioner.solve(&y)
            let ryNew = dot(r, y)
            let beta = ryNew / ry
            ry = ryNew
            for j in 0..<p { dir[j] = y[j] + beta * dir[j] }
        }
        return x
    }

    /// Minimizes the objective from `start` by damped Newton steps; rows with weight 0 are ignored.
    /// Returns theta (p numbers, bias last).
    func fit(targets t: [Double], weights a: [Double], preconditioner: Cholesky,
             start: [Double]? = nil, maxIterations: Int = 50) -> [Double] {
        let p = z.cols, n = z.rows
        var theta = start ?? [Double](repeating: 0, count: p)
        var m = [Double](repeating: 0, count: n), q = m, r = m, s = m
        var g = [Double](repeating: 0, count: p)
        var f = objective(theta, targets: t, weights: a, scratch: &m)
        for _ in 0..<maxIterations {
            probabilities(theta, margins: &m, probs: &q)
            gradient(theta, probs: q, targets: t, weights: a, residual: &r, into: &g)
            let gnorm = dot(g, g).squareRoot()
            if gnorm < 1e-9 { break }
            for i in 0..<n { s[i] = a[i] * q[i] * (1 - q[i]) }
            let neg = g.map { -$0 }
            // Inexact Newton: a looser solve far from the optimum, a tighter one near it.
            let d = conjugateGradient(curvature: s, rhs: neg, preconditioner: preconditioner,
                                      tolerance: min(0.1, gnorm.squareRoot()), maxIterations: 100)
            let slope = dot(g, d)
            guard slope < 0 else { break }
            // -slope is the Newton decrement squared: stop when the model predicts no gain.
            if -slope < 1e-16 { break }
            var step = 1.0, accepted = false
            var trial = theta
            for _ in 0..<40 {
                for j in 0..<p { trial[j] = theta[j] + step * d[j] }
                let ft = objective(trial, targets: t, weights: a, scratch: &m)
                if ft <= f + 1e-4 * step * slope { f = ft; accepted = true; break }
                step *= 0.5
            }
            guard accepted else { break }
            theta = trial
        }
        return theta
    }

    /// Approximate leave-one-out (one Newton step from the full optimum per held-out row):
    /// for each i in `positives`, the parameters after dropping row i and reweighting the other
    /// positives to `heldOutWeight` each. The full fit's probabilities and gradient are computed
    /// once; each step then changes the gradient only on the positive rows, O(n p), before its
    /// conjugate-gradient solve.
    func leaveOneOutSteps(from theta: [Double], targets t: [Double], weights a: [Double],
                          positives: [Int], heldOutWeight: Double, preconditioner: Cholesky) -> [[Double]] {
        let n = z.rows, p = z.cols
        var m = [Double](repeating: 0, count: n), q = m, r = m
        var gFull = [Double](repeating: 0, count: p)
        probabilities(theta, margins: &m, probs: &q)
        gradient(theta, probs: q, targets: t, weights: a, residual: &r, into: &gFull)
        var s = [Double](repeating: 0, count: n)
        for i in 0..<n { s[i] = a[i] * q[i] * (1 - q[i]) }
        for j in positives { s[j] = heldOutWeight * q[j] * (1 - q[j]) }
        return positives.map { i in
            var g = gFull
            z.data.withUnsafeBufferPointer { zb in
                for j in positives {
                    let w = (j == i ? 0 : heldOutWeight) - a[j]
                    let coef = w * (q[j] - t[j])
                    let row = zb.baseAddress! + j * p
                    for k in 0..<p { g[k] += coef * row[k] }
                }
            }
            let saved = s[i]
            s[i] = 0
            let d = conjugateGradient(curvature: s, rhs: g.map { -$0 }, preconditioner: preconditioner,
                                      tolerance: 1e-3, maxIterations: 50)
            s[i] = saved
            return zip(theta, d).map { $0 + $1 }
        }
    }

    /// The raw-space direction w (D numbers) of parameters theta; the score is w . e + bias(theta).
    func rawDirection(_ theta: [Double]) -> [Double] {
        (0..<width).map { theta[$0] * scale }
    }

    /// The raw-space bias of parameters theta.
    func rawBias(_ theta: [Double]) -> Double {
        let w = rawDirection(theta)
        return theta[width] - dot(w, centre)
    }
}
