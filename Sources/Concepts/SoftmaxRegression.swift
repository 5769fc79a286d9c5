// Multinomial logistic regression (softmax regression) with an L2 penalty, in scikit-learn's
// convention (LogisticRegression, multinomial, penalty "l2"): minimise
//     0.5 |W|^2 + C * sum_i CE(softmax(W x_i + b), y_i)
// (the bias b is not penalised), by L-BFGS (Nocedal & Wright, "Numerical Optimization", alg. 7.4)
// with a line search satisfying the strong Wolfe conditions (alg. 3.5 / 3.6).
//
// Letters: N rows (embeddings), D width, K classes. The optimizer works on centred rows (exact: the bias
// is unpenalised); the weights it returns act on the raw embeddings. Weights W are K x D row-major; the heavy
// products (logits Z = X W^T, N x K, and the gradient (P - Y)^T X, K x D) go through BLAS dgemm.

import Foundation
import TensorMath

/// A fitted linear classifier: logits = W e + b.
public struct SoftmaxRegression: Sendable {
    /// K x D row-major.
    public var weights: [Double]
    /// K numbers.
    public var bias: [Double]
    public var classes: Int
    public var width: Int
    /// The objective at the solution (the convention above).
    public var objective: Double
    /// L-BFGS iterations used.
    public var iterations: Int
    /// Whether the gradient tolerance was reached (false: stopped on the iteration cap or a stalled line search).
    public var converged: Bool

    /// A classifier from given weights (K x D) and bias (K), e.g. a stored head, for its logits and probabilities.
    public init(weights: [Double], bias: [Double], classes: Int, width: Int, objective: Double = .nan,
                iterations: Int = 0, converged: Bool = true) {
        self.weights = weights; self.bias = bias; self.classes = classes; self.width = width
        self.objective = objective; self.iterations = iterations; self.converged = converged
    }

    /// How the fit runs.
    public struct Options: Sendable {
        /// Inverse regularisation strength (scikit-learn's C).
        public var C: Double
        public var maxIterations: Int
        /// Stop when |gradient|_inf <= tolerance * max(1, |gradient at the start|_inf).
        public var tolerance: Double
        /// L-BFGS memory (pairs of steps kept).
        public var memory: Int
        public init(C: Double = 1, maxIterations: Int = 2000, tolerance: Double = 1e-8, memory: Int = 20) {
            self.C = C
            self.maxIterations = maxIterations
            self.tolerance = tolerance
            self.memory = memory
        }
    }

    /// Fits the classifier to `rows` (N x D row-major) with `labels` in 0..<classes.
    /// - Precondition: rows.count == labels.count * width, finite values, labels in range, classes >= 2.
    public static func fit(rows: [Double], width: Int, labels: [Int], classes: Int,
                           options: Options = Options()) -> SoftmaxRegression {
        precondition(classes >= 2 && width > 0 && rows.count == labels.count * width)
        // The fit runs on centred rows: an exact reparametrisation (the unpenalised bias absorbs w . mean),
        // which removes the large component all CLS embeddings share and with it most of the ill-conditioning.
        let n = labels.count
        var mean = [Double](repeating: 0, count: width)
        for i in 0..<n { for j in 0..<width { mean[j] += rows[i * width + j] } }
        for j in 0..<width { mean[j] /= Double(max(n, 1)) }
        var centred = rows
        for i in 0..<n { for j in 0..<width { centred[i * width + j] -= mean[j] } }
        let problem = Problem(x: centred, n: n, d: width, k: classes, labels: labels, C: options.C)
        let p = classes * width + classes
        var theta = [Double](repeating: 0, count: p)
        var g = [Double](repeating: 0, count: p)
        var f = problem.evaluate(theta, gradient: &g)
        let g0 = max(1, infNorm(g))
        var sList: [[Double]] = [], yList: [[Double]] = [], rhoList: [Double] = []
        var iterations = 0, converged = infNorm(g) <= options.tolerance * g0
        while !converged && iterations < options.maxIterations {
            iterations += 1
            // Two-loop recursion: d = -H g.
            var q = g
            var alphas = [Double](repeating: 0, count: sList.count)
            for i in stride(from: sList.count - 1, through: 0, by: -1) {
                alphas[i] = rhoList[i] * dotD(sList[i], q)
                axpy(-alphas[i], yList[i], &q)
            }
            let gamma = sList.isEmpty ? 1 / max(infNorm(g), 1e-300) : dotD(sList.last!, yList.last!) / dotD(yList.last!, yList.last!)
            for j in 0..<p { q[j] *= gamma }
            for i in 0..<sList.count {
                let beta = rhoList[i] * dotD(yList[i], q)
                axpy(alphas[i] - beta, sList[i], &q)
            }
            var dir = q.map { -$0 }
            var slope = dotD(g, dir)
            if !(slope < 0) {
                // Not a descent direction (curvature pairs went stale): restart from steepest descent.
                sList.removeAll(); yList.removeAll(); rhoList.removeAll()
                dir = g.map { -$0 / max(infNorm(g), 1e-300) }
                slope = dotD(g, dir)
            }
            guard let (step, fNew, gNew) = problem.wolfeSearch(theta, f: f, g: g, direction: dir, slope: slope) else {
                // No step decreases the objective any more (round-off): done when the gradient is small.
                if sList.isEmpty { converged = infNorm(g) <= 1e-4 * g0; break }
                sList.removeAll(); yList.removeAll(); rhoList.removeAll()
                continue
            }
            var s = dir, y = gNew
            for j in 0..<p { s[j] *= step; theta[j] += s[j]; y[j] -= g[j] }
            let sy = dotD(s, y)
            if sy > 1e-12 * dotD(y, y).squareRoot() * dotD(s, s).squareRoot() {
                sList.append(s); yList.append(y); rhoList.append(1 / sy)
                if sList.count > options.memory { sList.removeFirst(); yList.removeFirst(); rhoList.removeFirst() }
            }
            let decrease = f - fNew
            f = fNew
            g = gNew
            converged = infNorm(g) <= options.tolerance * g0
            if decrease <= 1e-16 * max(1, abs(f)) && !converged { converged = infNorm(g) <= 1e-4 * g0; break }
        }
        let kd = classes * width
        let bias = (0..<classes).map { c in theta[kd + c] - (0..<width).reduce(0) { $0 + theta[c * width + $1] * mean[$1] } }
        return SoftmaxRegression(weights: Array(theta[0..<kd]), bias: bias, classes: classes, width: width,
                                 objective: f, iterations: iterations, converged: converged)
    }

    /// The objective 0.5 |W|^2 + C sum CE of weights (K x D) and bias (K) on rows: the figure the fit minimises,
    /// for comparing with another solver's solution.
    public static func objective(weights: [Double], bias: [Double], rows: [Double], width: Int, labels: [Int], C: Double) -> Double {
        let k = bias.count
        let problem = Problem(x: rows, n: labels.count, d: width, k: k, labels: labels, C: C)
        var g = [Double](repeating: 0, count: weights.count + k)
        return problem.evaluate(weights + bias, gradient: &g)
    }

    /// Logits (K numbers) of one embedding.
    public func logits(_ e: [Float]) -> [Double] {
        (0..<classes).map { c in
            var s = bias[c]
            for j in 0..<width { s += weights[c * width + j] * Double(e[j]) }
            return s
        }
    }

    /// Class probabilities (softmax of the logits) of one embedding.
    public func probabilities(_ e: [Float]) -> [Double] { softmax(logits(e)) }
}

/// The softmax of a vector, computed stably.
public func softmax(_ z: [Double]) -> [Double] {
    guard let m = z.max() else { return [] }
    let e = z.map { exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// The objective and its gradient on one data set.
private struct Problem {
    let x: [Double]
    let n: Int, d: Int, k: Int
    let labels: [Int]
    let C: Double

    /// f(theta) and its gradient into `g`; theta = [W (K x D), b (K)].
    func evaluate(_ theta: [Double], gradient g: inout [Double]) -> Double {
        var z = [Double](repeating: 0, count: n * k)
        theta.withUnsafeBufferPointer { t in
            x.withUnsafeBufferPointer { xb in
                z.withUnsafeMutableBufferPointer { zb in
                    // Z = X W^T (N x K).
                    BLAS.dgemm(transB: true, m: n, n: k, k: d, a: xb.baseAddress!, lda: d, b: t.baseAddress!, ldb: d,
                               c: zb.baseAddress!, ldc: k)
                }
            }
        }
        var loss = 0.0
        let kd = k * d
        for j in 0..<k { g[kd + j] = 0 }
        // Z becomes C (P - Y), the residual, in place.
        for i in 0..<n {
            var m = -Double.infinity
            for c in 0..<k { z[i * k + c] += theta[kd + c]; m = max(m, z[i * k + c]) }
            var s = 0.0
            for c in 0..<k { s += exp(z[i * k + c] - m) }
            let lse = m + log(s)
            loss += lse - z[i * k + labels[i]]
            for c in 0..<k { z[i * k + c] = C * exp(z[i * k + c] - lse) }
            z[i * k + labels[i]] -= C
            for c in 0..<k { g[kd + c] += z[i * k + c] }
        }
        var ww = 0.0
        for j in 0..<kd { ww += theta[j] * theta[j] }
        // dW = W + R^T X (K x D).
        for j in 0..<kd { g[j] = theta[j] }
        z.withUnsafeBufferPointer { zb in
            x.withUnsafeBufferPointer { xb in
                g.withUnsafeMutableBufferPointer { gb in
                    BLAS.dgemm(transA: true, m: k, n: d, k: n, a: zb.baseAddress!, lda: k, b: xb.baseAddress!, ldb: d,
                               beta: 1, c: gb.baseAddress!, ldc: d)
                }
            }
        }
        return 0.5 * ww + C * loss
    }

    /// A step length along `direction` satisfying the strong Wolfe conditions (c1 = 1e-4, c2 = 0.9),
    /// with the objective and gradient there; nil when none was found.
    func wolfeSearch(_ theta: [Double], f f0: Double, g g0: [Double], direction dir: [Double], slope d0: Double)
        -> (Double, Double, [Double])? {
        let c1 = 1e-4, c2 = 0.9
        let p = theta.count
        var trial = theta
        var gt = [Double](repeating: 0, count: p)
        func phi(_ a: Double) -> (Double, Double, [Double]) {
            for j in 0..<p { trial[j] = theta[j] + a * dir[j] }
            let f = evaluate(trial, gradient: &gt)
            return (f, dotD(gt, dir), gt)
        }
        var aPrev = 0.0, fPrev = f0, dPrev = d0
        var a = 1.0
        for iteration in 0..<30 {
            let (fa, da, ga) = phi(a)
            if !fa.isFinite { a = 0.5 * (aPrev + a); continue }
            if fa > f0 + c1 * a * d0 || (iteration > 0 && fa >= fPrev) {
                return zoom(aPrev, fPrev, dPrev, a, fa, f0: f0, d0: d0, c1: c1, c2: c2, phi: phi)
            }
            if abs(da) <= -c2 * d0 { return (a, fa, ga) }
            if da >= 0 { return zoom(a, fa, da, aPrev, fPrev, f0: f0, d0: d0, c1: c1, c2: c2, phi: phi) }
            aPrev = a; fPrev = fa; dPrev = da
            a *= 2
        }
        return nil
    }

    /// Nocedal & Wright's zoom between a low end (sufficient decrease holds) and a high end, by cubic
    /// interpolation safeguarded with bisection.
    private func zoom(_ aLo0: Double, _ fLo0: Double, _ dLo0: Double, _ aHi0: Double, _ fHi0: Double,
                      f0: Double, d0: Double, c1: Double, c2: Double,
                      phi: (Double) -> (Double, Double, [Double])) -> (Double, Double, [Double])? {
        var aLo = aLo0, fLo = fLo0, dLo = dLo0, aHi = aHi0, fHi = fHi0
        for _ in 0..<40 {
            // Minimiser of the quadratic through (aLo, fLo, dLo) and (aHi, fHi), kept inside the bracket.
            let width = aHi - aLo
            var a = aLo - dLo * width * width / (2 * (fHi - fLo - dLo * width))
            let lo = min(aLo, aHi), hi = max(aLo, aHi)
            if !a.isFinite || a <= lo + 0.1 * (hi - lo) || a >= hi - 0.1 * (hi - lo) { a = 0.5 * (aLo + aHi) }
            let (fa, da, ga) = phi(a)
            if fa > f0 + c1 * a * d0 || fa >= fLo {
                aHi = a; fHi = fa
            } else {
                if abs(da) <= -c2 * d0 { return (a, fa, ga) }
                if da * (aHi - aLo) >= 0 { aHi = aLo; fHi = fLo }
                aLo = a; fLo = fa; dLo = da
            }
            if abs(aHi - aLo) < 1e-16 * max(1, abs(aLo)) { break }
        }
        // The bracket collapsed: accept its low end when it still decreases the objective.
        guard aLo > 0, fLo < f0 else { return nil }
        let (fa, _, ga) = phi(aLo)
        return (aLo, fa, ga)
    }
}

private func dotD(_ a: [Double], _ b: [Double]) -> Double {
    a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in dot(ab.baseAddress!, bb.baseAddress!, a.count) } }
}

private func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
    for j in 0..<y.count { y[j] += alpha * x[j] }
}

private func infNorm(_ v: [Double]) -> Double { v.reduce(0) { max($0, abs($1)) } }
