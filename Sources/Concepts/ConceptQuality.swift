// Concept quality at definition time: coherence, leave-one-out ranks and AUC, and a TCAV-style
// significance test against random concepts (Kim et al. 2018, "Interpretability Beyond Feature
// Attribution: Testing with Concept Activation Vectors").
//
// Letters: n examples, M background embeddings, m = M - n (the rest of the background when n
// of its images form a random concept), D width, R random concepts.

import Foundation

/// How good a concept is, computed when it is defined. Figures that cannot be computed are nil
/// and `notes` says why.
public struct ConceptQuality: Codable, Sendable, Equatable {
    /// How many example embeddings were given.
    public var exampleCount: Int
    /// Mean pairwise cosine similarity of the examples (nil with fewer than 2).
    public var coherence: Double?
    /// For each example i: the concept rebuilt without i scores i and every background image;
    /// i's rank among the background (1 = above all; ties go to the example).
    public var leaveOneOutRanks: [Int]?
    /// How many background images the ranks and AUC use (after any subsampling); nil without one.
    public var backgroundCount: Int?
    /// Mean over held-out examples of the fraction of background images each one outscores
    /// (ties count one half): the leave-one-out AUC of examples against background.
    public var auc: Double?
    /// (1 + number of random AUCs >= auc) / (R + 1).
    public var pValue: Double?
    /// Mean of the random concepts' AUCs: what chance looks like for this kind and background.
    public var randomAUCMean: Double?
    /// Sample standard deviation of the random concepts' AUCs.
    public var randomAUCStd: Double?
    /// How many random concepts the p-value rests on.
    public var randomConcepts: Int?
    /// Why figures are missing, and which approximations were used.
    public var notes: [String]
    /// Background images most like the examples that were left out before fitting and measuring
    /// (`--exclude-similar`): the figures are then optimistic, since the hardest negatives are gone.
    public var excludedSimilar: Int?

    /// Figures as given; `evaluate` is the usual way to get them.
    public init(exampleCount: Int, coherence: Double? = nil, leaveOneOutRanks: [Int]? = nil,
                backgroundCount: Int? = nil, auc: Double? = nil, pValue: Double? = nil,
                randomAUCMean: Double? = nil, randomAUCStd: Double? = nil, randomConcepts: Int? = nil,
                notes: [String] = []) {
        self.exampleCount = exampleCount
        self.coherence = coherence
        self.leaveOneOutRanks = leaveOneOutRanks
        self.backgroundCount = backgroundCount
        self.auc = auc
        self.pValue = pValue
        self.randomAUCMean = randomAUCMean
        self.randomAUCStd = randomAUCStd
        self.randomConcepts = randomConcepts
        self.notes = notes
    }
}

extension ConceptQuality {
    /// Default cap on the background used by `evaluate`; larger backgrounds are subsampled
    /// (seeded) so a probe's R x n refits stay within seconds.
    public static let defaultMaxBackground = 1000

    /// Measures a concept of `kind` built from `examples` against `background`. Never throws:
    /// what cannot be computed (fewer than 3 examples, no background, mixed widths, a class
    /// head) is nil with a note.
    ///
    /// The significance test draws, R times, as many background images as there are examples
    /// (seeded, reproducible), builds a concept of the same kind from them against the rest of
    /// the background and computes the same leave-one-out AUC. For `mean` and `cosine`, the
    /// background serves only for ranking. Stated approximations: a probe's leave-one-out
    /// concept is one Newton step from the full fit (approximate leave-one-out); a whitened
    /// concept's keeps the full set's shrinkage target scale, and random whitened concepts
    /// use the concept's shrinkage intensity and the whole background's scale.
    /// `name` only labels error notes. For `contrast`, `contrastNegatives` is the set B of "A and not B"
    /// (the concept, and every random concept, subtracts B's mean); without it B is the background, which
    /// ranks exactly as `centred` does.
    public static func evaluate(kind: Target.Kind, examples: [[Float]], background: [[Float]]?,
                                randomConcepts R: Int = 50, seed: UInt64 = 0,
                                lambda: Float = ConceptBuilder.defaultLambda, shrinkage: Float? = nil,
                                maxBackground: Int = defaultMaxBackground, name: String = "concept",
                                contrastNegatives: [[Float]]? = nil) -> ConceptQuality {
        var q = ConceptQuality(exampleCount: examples.count)
        let n = examples.count
        var rng = SplitMix64(seed: seed)
        var bg = background ?? []
        if bg.count > maxBackground, maxBackground > 0 {
            let keep = sample(maxBackground, from: Array(0..<bg.count), using: &rng).sorted()
            q.notes.append("background subsampled from \(bg.count) to \(maxBackground) images (seeded)")
            bg = keep.map { bg[$0] }
        }
        let x: Matrix
        do {
            x = try ConceptBuilder.validate(name: name, examples: examples, background: bg)
        } catch {
            q.notes.append(n == 0 ? "no examples" : "\(error)")
            return q
        }
        q.coherence = coherence(x, count: n)
        if n < 2 { q.notes.append("fewer than 2 examples: no coherence") }
        if background != nil { q.backgroundCount = bg.count }
        if kind == .classLogit {
            q.notes.append("a class head has no examples: no leave-one-out figures")
            return q
        }
        guard n >= 3 else {
            q.notes.append("fewer than 3 examples: no leave-one-out ranks, AUC or significance test")
            return q
        }
        guard !bg.isEmpty else {
            q.notes.append("no background: no leave-one-out ranks, AUC or significance test")
            return q
        }
        if let s = shrinkage, !(s >= 0 && s <= 1) {
            q.notes.append("shrinkage \(s) is outside [0, 1]: no leave-one-out figures")
            return q
        }
        guard lambda > 0, lambda.isFinite else {
            q.notes.append("lambda \(lambda) is not positive: no leave-one-out figures")
            return q
        }
        let M = bg.count
        let examplesIdx = Array(0..<n), bgIdx = Array(n..<(n + M))
        var subtract: [Double]? = nil
        if kind == .contrast, let b = contrastNegatives, !b.isEmpty, b.allSatisfy({ $0.count == x.cols }) {
            subtract = (0..<x.cols).map { j in b.reduce(0.0) { $0 + Double($1[j]) } / Double(b.count) }
        }
        let engine = LeaveOneOut(kind: kind, rows: x, background: bgIdx, lambda: Double(lambda), subtract: subtract)
        guard let real = engine.concept(positives: examplesIdx, negatives: bgIdx, shrinkage: shrinkage.map(Double.init)) else {
            q.notes.append("the concept could not be fitted (singular covariance): no leave-one-out figures")
            return q
        }
        q.leaveOneOutRanks = real.ranks
        let auc = real.auc
        q.auc = auc

        guard R > 0 else {
            q.notes.append("no random concepts asked for: no significance test")
            return q
        }
        guard M > n else {
            q.notes.append("background of \(M) images is too small for random concepts of \(n) images: give more than \(n)")
            return q
        }
        // Draw every random concept first, so the results do not depend on the order they run in.
        let draws: [[Int]] = (0..<R).map { _ in sample(n, from: bgIdx, using: &rng).sorted() }
        let shared = engine.randomShared(shrinkage: real.shrinkage)
        var randomAUCs = [Double](repeating: .nan, count: R)
        randomAUCs.withUnsafeMutableBufferPointer { out in
            let outPtr = out
            DispatchQueue.concurrentPerform(iterations: min(2, R)) { worker in
                var r = worker
                while r < R {
                    let members = draws[r]
                    let memberSet = Set(members)
                    let rest = bgIdx.filter { !memberSet.contains($0) }
                    outPtr[r] = engine.randomConcept(positives: members, negatives: rest, shared: shared)?.auc ?? .nan
                    r += 2
                }
            }
        }
        let valid = randomAUCs.filter { !$0.isNaN }
        guard !valid.isEmpty else {
            q.notes.append("no random concept could be fitted: no significance test")
            return q
        }
        if valid.count < R { q.notes.append("\(R - valid.count) random concepts could not be fitted and were left out") }
        let mean = valid.reduce(0, +) / Double(valid.count)
        let variance = valid.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(valid.count - 1, 1))
        q.randomConcepts = valid.count
        q.randomAUCMean = mean
        q.randomAUCStd = variance.squareRoot()
        q.pValue = Double(1 + valid.filter { $0 >= auc }.count) / Double(valid.count + 1)
        return q
    }

    /// One line for people: the figures that exist, and the first note otherwise.
    public var summary: String {
        var parts = ["\(exampleCount) example\(exampleCount == 1 ? "" : "s")"]
        if let c = coherence { parts.append(String(format: "coherence %.2f", c)) }
        if let a = auc, let m = backgroundCount { parts.append(String(format: "leave-one-out AUC %.3f against %d background images", a, m)) }
        if let r = leaveOneOutRanks, !r.isEmpty {
            parts.append("median rank \(r.sorted()[r.count / 2])")
        }
        if let p = pValue, let k = randomConcepts, let m = randomAUCMean, let sd = randomAUCStd {
            parts.append(String(format: "p = %.3f (%d random concepts: AUC %.3f ± %.3f)", p, k, m, sd))
        }
        if pValue == nil, let note = notes.first { parts.append(note) }
        return parts.joined(separator: ", ")
    }

    /// Mean pairwise cosine of the first `count` rows: (|sum u|^2 - sum |u|^2) / (n (n - 1))
    /// with u the unit rows, O(n D).
    static func coherence(_ x: Matrix, count n: Int) -> Double? {
        guard n >= 2 else { return nil }
        let d = x.cols
        var sum = [Double](repeating: 0, count: d)
        var self2 = 0.0
        for i in 0..<n {
            var nn = 0.0
            for j in 0..<d { nn += x.data[i * d + j] * x.data[i * d + j] }
            guard nn > 0 else { continue }
            let inv = 1 / nn.squareRoot()
            for j in 0..<d { sum[j] += x.data[i * d + j] * inv }
            self2 += 1
        }
        return (dot(sum, sum) - self2) / Double(n * (n - 1))
    }
}

/// Leave-one-out figures of one concept instance (examples P against negatives N).
struct LeaveOneOutFigures {
    var ranks: [Int]
    var fractions: [Double]
    var shrinkage: Double?
    var auc: Double { fractions.reduce(0, +) / Double(fractions.count) }
}

/// Rebuilds a concept without each of its members in turn, cheaply, for one kind; shared state
/// (the probe's standardized rows and background Gram matrix, the background's scatter for the
/// whitened kind) is computed once and reused by every random concept.
struct LeaveOneOut: @unchecked Sendable {
    let kind: Target.Kind
    let rows: Matrix
    let background: [Int]
    /// 1/|x| per row for the cosine kind, whose ranking divides each score by |e|.
    let inverseNorms: [Double]?
    let probe: LogisticProbe?
    let backgroundGram: [Double]?
    let backgroundScatter: [Double]?
    /// A contrast's fixed B mean; nil: the negatives' mean.
    let subtract: [Double]?

    init(kind: Target.Kind, rows: Matrix, background: [Int], lambda: Double, subtract: [Double]? = nil) {
        self.kind = kind
        self.subtract = subtract
        self.rows = rows
        self.background = background
        let d = rows.cols
        if kind == .cosine {
            inverseNorms = (0..<rows.rows).map { i in
                var s = 0.0
                for j in 0..<d { s += rows.data[i * d + j] * rows.data[i * d + j] }
                return s > 0 ? 1 / s.squareRoot() : 0
            }
        } else {
            inverseNorms = nil
        }
        if kind == .probe {
            let model = LogisticProbe(rows: rows, reference: background, lambda: lambda)
            probe = model
            backgroundGram = model.gram(background)
        } else {
            probe = nil
            backgroundGram = nil
        }
        if kind == .whitened {
            let mu = rows.rowMean(background)
            var dev = Matrix(rows: background.count, cols: d)
            for (r, i) in background.enumerated() { for j in 0..<d { dev.data[r * d + j] = rows.data[i * d + j] - mu[j] } }
            var t = [Double](repeating: 0, count: d * d)
            dev.addGramUpper(Array(0..<dev.rows), weight: 1, into: &t)
            symmetrizeUpper(&t, d)
            backgroundScatter = t
        } else {
            backgroundScatter = nil
        }
    }

    /// Where held-out row i stands among `negatives` under direction w.
    func standing(_ w: [Double], heldOut i: Int, negatives: [Int]) -> (rank: Int, fraction: Double) {
        let d = rows.cols
        return rows.data.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
                let x = xb.baseAddress!, wp = wb.baseAddress!
                func score(_ r: Int) -> Double {
                    let s = dot(x + r * d, wp, d)
                    return inverseNorms.map { s * $0[r] } ?? s
                }
                let s = score(i)
                var above = 0, ties = 0
                for j in negatives {
                    let t = score(j)
                    if t > s { above += 1 } else if t == s { ties += 1 }
                }
                let below = Double(negatives.count - above - ties)
                return (1 + above, (below + 0.5 * Double(ties)) / Double(negatives.count))
            }
        }
    }

    /// The user's concept: examples P against the whole background N.
    func concept(positives p: [Int], negatives nIdx: [Int], shrinkage: Double?) -> LeaveOneOutFigures? {
        switch kind {
        case .whitened:
            guard let lda = ShrinkageLDA(rows: rows, positives: p, negatives: nIdx, shrinkage: shrinkage) else { return nil }
            return whitenedConcept(lda, positives: p, negatives: nIdx)
        case .probe:
            return probeConcept(positives: p, negatives: nIdx, includeExamples: true)
        default:
            return meanFamily(positives: p, negatives: nIdx)
        }
    }

    /// What every random concept shares: for the whitened kind, the factor of the background's
    /// shrunk scatter (random concepts partition the background, so it is the same for all).
    struct RandomShared { var shrinkage: Double; var factor: Cholesky? }

    func randomShared(shrinkage: Double?) -> RandomShared {
        let a = shrinkage ?? 0
        guard kind == .whitened, let t = backgroundScatter else { return RandomShared(shrinkage: a, factor: nil) }
        let normalizer = 1 / max(Double(background.count) - 2, 1)
        return RandomShared(shrinkage: a, factor: ShrinkageLDA.factorShrunk(scatter: t, width: rows.cols,
                                                                            shrinkage: a, normalizer: normalizer))
    }

    /// A random concept: P drawn from the background, N the rest of it.
    func randomConcept(positives p: [Int], negatives nIdx: [Int], shared: RandomShared) -> LeaveOneOutFigures? {
        switch kind {
        case .whitened:
            guard let factor = shared.factor else { return nil }
            return whitenedRandom(positives: p, negatives: nIdx, factor: factor, shrinkage: shared.shrinkage)
        case .probe: return probeConcept(positives: p, negatives: nIdx, includeExamples: false)
        default: return meanFamily(positives: p, negatives: nIdx)
        }
    }

    /// mean and cosine: w = sum(P) - x_i (scale is irrelevant to ranking); centred and contrast
    /// subtract the negatives' mean (a contrast's fixed B mean, when it has one) from the held-out mean.
    private func meanFamily(positives p: [Int], negatives nIdx: [Int]) -> LeaveOneOutFigures {
        let d = rows.cols, n = p.count
        let sum = rows.rowSum(p)
        let mu = (kind == .centred || kind == .contrast) ? (subtract ?? rows.rowMean(nIdx)) : nil
        var ranks: [Int] = [], fractions: [Double] = []
        var w = [Double](repeating: 0, count: d)
        for i in p {
            for j in 0..<d {
                w[j] = (sum[j] - rows.data[i * d + j]) / Double(n - 1) - (mu?[j] ?? 0)
            }
            let s = standing(w, heldOut: i, negatives: nIdx)
            ranks.append(s.rank)
            fractions.append(s.fraction)
        }
        return LeaveOneOutFigures(ranks: ranks, fractions: fractions)
    }

    /// Removing x_i from P downdates the scatter by n/(n-1) u u^T, u = x_i - c: a rank-one
    /// Woodbury correction of the full fit's factor.
    private func whitenedConcept(_ lda: ShrinkageLDA, positives p: [Int], negatives nIdx: [Int]) -> LeaveOneOutFigures {
        let d = rows.cols, n = Double(p.count)
        let coef = (1 - lda.shrinkage) * lda.normalizer * n / (n - 1)
        var ranks: [Int] = [], fractions: [Double] = []
        for i in p {
            let u = (0..<d).map { rows.data[i * d + $0] - lda.exampleMean[$0] }
            let yu = lda.factor.solved(u)
            let y = (0..<d).map { lda.direction[$0] - yu[$0] / (n - 1) }
            let w = (coef > 0 ? woodburySolve(y: y, us: [u], ys: [yu], coefficients: [coef]) : nil) ?? y
            let s = standing(w, heldOut: i, negatives: nIdx)
            ranks.append(s.rank)
            fractions.append(s.fraction)
        }
        return LeaveOneOutFigures(ranks: ranks, fractions: fractions, shrinkage: lda.shrinkage)
    }

    /// With P and N partitioning the background, S_W = T - (n m / M) d d^T (T the background's
    /// scatter, d = c_P - c_N), and holding out x_i adds a second rank-one term: every
    /// leave-one-out direction is a rank-two Woodbury correction of one factor of T.
    private func whitenedRandom(positives p: [Int], negatives nIdx: [Int], factor: Cholesky,
                                shrinkage a: Double) -> LeaveOneOutFigures? {
        let d = rows.cols, n = Double(p.count), m = Double(nIdx.count), total = n + m
        let normalizer = 1 / max(total - 2, 1)
        let cp = rows.rowMean(p), cn = rows.rowMean(nIdx)
        let dv = zip(cp, cn).map { $0 - $1 }
        let yd = factor.solved(dv)
        let cd = (1 - a) * normalizer * n * m / total
        let cu = (1 - a) * normalizer * n / (n - 1)
        var ranks: [Int] = [], fractions: [Double] = []
        for i in p {
            let u = (0..<d).map { rows.data[i * d + $0] - cp[$0] }
            let yu = factor.solved(u)
            let y = (0..<d).map { yd[$0] - yu[$0] / (n - 1) }
            let w = (cd > 0 ? woodburySolve(y: y, us: [dv, u], ys: [yd, yu], coefficients: [cd, cu]) : nil) ?? y
            let s = standing(w, heldOut: i, negatives: nIdx)
            ranks.append(s.rank)
            fractions.append(s.fraction)
        }
        return LeaveOneOutFigures(ranks: ranks, fractions: fractions, shrinkage: a)
    }

    /// Fits the probe on P against N, then takes one Newton step per held-out member from the
    /// full fit (approximate leave-one-out), with the full fit's preconditioner.
    private func probeConcept(positives p: [Int], negatives nIdx: [Int], includeExamples: Bool) -> LeaveOneOutFigures? {
        guard let model = probe, let gbg = backgroundGram else { return nil }
        let n = p.count
        let gp = model.gram(p)
        // The user's negatives are the whole background; a random concept's are the rest of it.
        let gn = includeExamples ? gbg : zip(gbg, gp).map { $0 - $1 }
        let ap = 0.5 / Double(n), an = 0.5 / Double(nIdx.count)
        guard let pre = model.bound(positiveGram: gp, positiveWeight: ap, negativeGram: gn, negativeWeight: an) else { return nil }
        var t = [Double](repeating: 0, count: rows.rows), a = t
        for i in p { t[i] = 1; a[i] = ap }
        for i in nIdx { a[i] = an }
        let theta = model.fit(targets: t, weights: a, preconditioner: pre)
        let steps = model.leaveOneOutSteps(from: theta, targets: t, weights: a, positives: p,
                                           heldOutWeight: 0.5 / Double(n - 1), preconditioner: pre)
        var ranks: [Int] = [], fractions: [Double] = []
        for (i, thetaI) in zip(p, steps) {
            let s = standing(model.rawDirection(thetaI), heldOut: i, negatives: nIdx)
            ranks.append(s.rank)
            fractions.append(s.fraction)
        }
        return LeaveOneOutFigures(ranks: ranks, fractions: fractions)
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator whose stream is fixed by the
/// seed on every platform and Swift version.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<bound by the multiply-high method (bias below 2^-32 for our sizes).
    public mutating func below(_ bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
    /// A standard normal draw (Box-Muller).
    public mutating func gaussian() -> Double {
        let u1 = (Double(next() >> 11) + 1) / 9007199254740993, u2 = Double(next() >> 11) / 9007199254740992
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

/// k distinct elements of `pool` by a partial Fisher-Yates shuffle.
func sample(_ k: Int, from pool: [Int], using rng: inout SplitMix64) -> [Int] {
    var a = pool
    let k = min(k, a.count)
    for i in 0..<k {
        let j = i + rng.below(a.count - i)
        a.swapAt(i, j)
    }
    return Array(a[0..<k])
}
