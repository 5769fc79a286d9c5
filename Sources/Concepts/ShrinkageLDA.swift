// Shrinkage linear discriminant analysis with the Ledoit-Wolf shrinkage intensity
// (Ledoit & Wolf 2004, "A well-conditioned estimator for large-dimensional covariance matrices").
//
// Letters: n examples, M background rows, K = n + M, D width.
// w = Sigma_a^-1 (c - mu), Sigma_a = (1 - a) Sigma + a (tr Sigma / D) I, Sigma the pooled
// within-class covariance S_W / (K - 2); bias = -w . (c + mu) / 2, so the midpoint between the
// class means scores 0 and the score is the Gaussian log-likelihood ratio for equal priors.

struct ShrinkageLDA {
    /// The factored shrunk covariance.
    let factor: Cholesky
    /// Shrinkage intensity a in [0, 1].
    let shrinkage: Double
    /// 1 / (K - 2), the factor turning a scatter matrix into a covariance.
    let normalizer: Double
    let exampleMean: [Double]
    let backgroundMean: [Double]
    /// w (D numbers).
    let direction: [Double]

    var bias: Double {
        var b = 0.0
        for j in 0..<direction.count { b -= direction[j] * 0.5 * (exampleMean[j] + backgroundMean[j]) }
        return b
    }

    /// Fits on rows `positives` against rows `negatives` of `rows`; `shrinkage` nil means the
    /// Ledoit-Wolf estimate. Nil when the shrunk covariance is singular (shrinkage 0 with fewer
    /// rows than dimensions, or every row identical).
    init?(rows: Matrix, positives: [Int], negatives: [Int], shrinkage: Double?) {
        let d = rows.cols
        let c = rows.rowMean(positives), mu = rows.rowMean(negatives)
        var dev = Matrix(rows: positives.count + negatives.count, cols: d)
        var r = 0
        for (set, mean) in [(positives, c), (negatives, mu)] {
            for i in set {
                for j in 0..<d { dev.data[r * d + j] = rows.data[i * d + j] - mean[j] }
                r += 1
            }
        }
        var scatter = [Double](repeating: 0, count: d * d)
        dev.addGramUpper(Array(0..<dev.rows), weight: 1, into: &scatter)
        symmetrizeUpper(&scatter, d)
        let a = shrinkage ?? ShrinkageLDA.ledoitWolf(deviations: dev, scatter: scatter)
        let k = dev.rows
        let normalizer = 1 / Double(max(k - 2, 1))
        guard let factor = ShrinkageLDA.factorShrunk(scatter: scatter, width: d, shrinkage: a,
                                                     normalizer: normalizer) else { return nil }
        var w = zip(c, mu).map { $0 - $1 }
        factor.solve(&w)
        self.factor = factor
        self.shrinkage = a
        self.normalizer = normalizer
        self.exampleMean = c
        self.backgroundMean = mu
        self.direction = w
    }

    /// Factors (1 - a) S / (K - 2) + a (tr S / D) / (K - 2) I; a scatter with zero trace
    /// (identical rows) has no shape to whiten, so the identity stands in for it.
    static func factorShrunk(scatter: [Double], width d: Int, shrinkage a: Double, normalizer: Double) -> Cholesky? {
        var trace = 0.0
        for j in 0..<d { trace += scatter[j * d + j] }
        var m = [Double](repeating: 0, count: d * d)
        if trace <= 1e-300 {
            for j in 0..<d { m[j * d + j] = 1 }
        } else {
            let nu = trace / Double(d)
            for k in 0..<(d * d) { m[k] = (1 - a) * normalizer * scatter[k] }
            for j in 0..<d { m[j * d + j] += a * normalizer * nu }
        }
        return Cholesky(m, n: d)
    }

    /// The Ledoit-Wolf intensity for the covariance of the (already centred) deviation rows:
    /// min(beta, delta) / delta with delta = |S - nu I|_F^2 / D and beta the estimated variance
    /// of the sample covariance's entries, (sum_k |y_k|^4 / K - |S|_F^2) / (D K), S = Y^T Y / K.
    static func ledoitWolf(deviations y: Matrix, scatter: [Double]) -> Double {
        let k = Double(y.rows), d = y.cols
        guard y.rows > 1 else { return 1 }
        var frob = 0.0, trace = 0.0
        for v in scatter { frob += v * v }
        frob /= k * k
        for j in 0..<d { trace += scatter[j * d + j] }
        trace /= k
        let nu = trace / Double(d)
        var fourth = 0.0
        for i in 0..<y.rows {
            var sq = 0.0
            for j in 0..<d { let v = y.data[i * d + j]; sq += v * v }
            fourth += sq * sq
        }
        let delta = (frob - Double(d) * nu * nu) / Double(d)
        let beta = (fourth / k - frob) / (Double(d) * k)
        guard delta > 0 else { return 1 }
        return min(max(min(beta, delta) / delta, 0), 1)
    }
}
