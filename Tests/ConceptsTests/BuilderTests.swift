import Foundation
import Testing
@testable import Concepts

/// Common offset shared by every synthetic embedding, as in real CLS embeddings whose
/// unrelated photos still have cosine about 0.7.
private func offset(_ d: Int) -> [Double] { (0..<d).map { 2 + 0.5 * sin(Double($0)) } }

@Suite struct MeanFamilyTests {
    @Test func meanIsTheAverageOfTheExamples() throws {
        var g = Gaussian(seed: 1)
        let ex = g.cluster(7, centre: offset(12))
        let t = try ConceptBuilder.mean(name: "m", examples: ex)
        #expect(t.kind == .mean && t.bias == 0)
        for (a, b) in zip(doubles(t.direction), mean(ex)) { #expect(abs(a - b) < 1e-5) }
        let e = ex[0]
        #expect(abs(Double(t.score(e)) - zip(doubles(e), mean(ex)).reduce(0) { $0 + $1.0 * $1.1 }) < 1e-3)
    }

    @Test func cosineKeepsTheMeanVector() throws {
        var g = Gaussian(seed: 2)
        let ex = g.cluster(5, centre: offset(10))
        let m = try ConceptBuilder.mean(name: "a", examples: ex)
        let c = try ConceptBuilder.cosine(name: "a", examples: ex)
        #expect(c.kind == .cosine && c.direction == m.direction)
        #expect(abs(c.score(m.direction) - 1) < 1e-5)
    }

    @Test func contrastIsTheDifferenceOfMeans() throws {
        var g = Gaussian(seed: 3)
        let a = g.cluster(6, centre: offset(9)), b = g.cluster(11, centre: g.vector(9))
        let t = try ConceptBuilder.contrast(name: "a-not-b", positives: a, negatives: b)
        #expect(t.kind == .contrast)
        for (x, y) in zip(doubles(t.direction), zip(mean(a), mean(b)).map { $0 - $1 }) { #expect(abs(x - y) < 1e-5) }
    }

    @Test func centredSubtractsTheBackgroundMean() throws {
        var g = Gaussian(seed: 4)
        let ex = g.cluster(8, centre: offset(16)), bg = g.cluster(50, centre: offset(16), sigma: 2)
        let t = try ConceptBuilder.centred(name: "c", examples: ex, background: bg)
        for (x, y) in zip(doubles(t.direction), zip(mean(ex), mean(bg)).map { $0 - $1 }) { #expect(abs(x - y) < 1e-5) }
        // The background's mean direction scores like the origin: the shared component is gone.
        let s = t.score(mean(bg).map(Float.init)) - t.score([Float](repeating: 0, count: 16))
        #expect(abs(Double(s) - zip(doubles(t.direction), mean(bg)).reduce(0) { $0 + $1.0 * $1.1 }) < 1e-3)
    }

    /// One or two examples (and one background image) still give a finite target of every kind.
    @Test(arguments: Target.Kind.allCases.filter { $0 != .classLogit }, [1, 2])
    func fewExamplesStillBuild(kind: Target.Kind, count: Int) throws {
        var g = Gaussian(seed: 6)
        let ex = g.cluster(count, centre: offset(8))
        for bg in [g.cluster(1, centre: offset(8)), g.cluster(2, centre: offset(8))] {
            let t = try ConceptBuilder.build(kind: kind, name: "few", examples: ex, background: bg)
            #expect(t.direction.allSatisfy(\.isFinite) && t.bias.isFinite && t.direction.contains { $0 != 0 })
            if kind != .mean && kind != .cosine { #expect(t.score(ex[0]) > t.score(bg[0]), "\(kind)") }
        }
    }

    @Test(arguments: Target.Kind.allCases.filter { $0 != .classLogit })
    func buildDispatchesToTheNamedKind(kind: Target.Kind) throws {
        var g = Gaussian(seed: 5)
        let ex = g.cluster(6, centre: offset(8)), bg = g.cluster(40, centre: offset(8))
        let t = try ConceptBuilder.build(kind: kind, name: "k", examples: ex, background: bg)
        #expect(t.kind == kind && t.name == "k" && t.direction.count == 8)
    }
}

@Suite struct ProbeTests {
    /// Positives at offset + delta (|delta| = 4), negatives at the offset; unit noise.
    static func data(seed: UInt64, d: Int, positives: Int, negatives: Int) -> (ex: [[Float]], bg: [[Float]], delta: [Double]) {
        var g = Gaussian(seed: seed)
        var delta = g.vector(d)
        let norm = delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
        delta = delta.map { 4 * $0 / norm }
        let base = offset(d)
        return (g.cluster(positives, centre: zip(base, delta).map { $0 + $1 }), g.cluster(negatives, centre: base), delta)
    }

    @Test func probeSeparatesHeldOutData() throws {
        let (ex, bg, delta) = Self.data(seed: 10, d: 32, positives: 30, negatives: 300)
        let t = try ConceptBuilder.probe(name: "p", examples: ex, background: bg)
        var g = Gaussian(seed: 11)
        let base = offset(32)
        let auc = heldOutAUC(t, positives: g.cluster(400, centre: zip(base, delta).map { $0 + $1 }),
                             negatives: g.cluster(400, centre: base))
        #expect(auc > 0.98, "held-out AUC \(auc)")
        // The balanced log-odds put the two class means on opposite sides of 0.
        #expect(t.score(mean(ex).map(Float.init)) > 0 && t.score(mean(bg).map(Float.init)) < 0)
        #expect(try ConceptBuilder.probe(name: "p", examples: ex, background: bg) == t, "deterministic")
    }

    /// The returned raw (w, b) is a stationary point of the documented objective.
    @Test(arguments: [Float(1e-3), 1e-2, 1e-1])
    func probeIsTheOptimumOfTheStatedObjective(lambda: Float) throws {
        let (ex, bg, _) = Self.data(seed: 12, d: 24, positives: 20, negatives: 200)
        let t = try ConceptBuilder.probe(name: "p", examples: ex, background: bg, lambda: lambda)
        let mu = mean(bg)
        let ms = bg.reduce(0.0) { acc, r in acc + zip(doubles(r), mu).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } } / Double(bg.count)
        let s2 = 1 / ms   // scale^2: lambda/2 |theta|^2 = lambda/2 |w|^2 / scale^2
        let w = doubles(t.direction), b = Double(t.bias)
        var gw = w.map { Double(lambda) * $0 / s2 }, gb = 0.0
        for (set, label, weight) in [(ex, 1.0, 0.5 / Double(ex.count)), (bg, 0.0, 0.5 / Double(bg.count))] {
            for r in set {
                let x = doubles(r)
                var zi = b
                for j in 0..<x.count { zi += x[j] * w[j] }
                let p = 1 / (1 + exp(-zi))
                for j in 0..<x.count { gw[j] += weight * (p - label) * x[j] }
                gb += weight * (p - label)
            }
        }
        let worst = max(gw.map(abs).max()!, abs(gb))
        #expect(worst < 2e-4, "largest gradient component \(worst) at lambda \(lambda)")
    }

    /// Strong regularization keeps w small, where the loss is linear: w -> (c - mu) direction.
    @Test func strongPenaltyGivesTheCentredDirection() throws {
        let (ex, bg, _) = Self.data(seed: 13, d: 16, positives: 15, negatives: 150)
        let strong = try ConceptBuilder.probe(name: "p", examples: ex, background: bg, lambda: 1e3)
        let weak = try ConceptBuilder.probe(name: "p", examples: ex, background: bg, lambda: 1e-3)
        let centred = zip(mean(ex), mean(bg)).map { $0 - $1 }
        #expect(cosine(doubles(strong.direction), centred) > 0.999)
        let norm = { (v: [Float]) in v.reduce(0) { $0 + Double($1 * $1) }.squareRoot() }
        #expect(norm(weak.direction) > 10 * norm(strong.direction))
    }

    @Test func probeOf30Against1000At384IsFast() throws {
        let (ex, bg, _) = Self.data(seed: 14, d: 384, positives: 30, negatives: 1000)
        let (t, seconds) = try timed { try ConceptBuilder.probe(name: "p", examples: ex, background: bg) }
        print("probe 30 vs 1000, D 384: \(String(format: "%.3f", seconds)) s")
        #expect(t.direction.count == 384)
        #expect(seconds < 1.0)
    }

    @Test func nonPositiveLambdaIsRejected() {
        let (ex, bg, _) = Self.data(seed: 15, d: 4, positives: 3, negatives: 10)
        #expect(throws: ConceptError.self) { try ConceptBuilder.probe(name: "p", examples: ex, background: bg, lambda: 0) }
    }
}

@Suite struct WhitenedTests {
    /// Classes differ by (2, 2) in the first two coordinates; coordinate 1 carries strong noise
    /// (sd 6), so the mean difference points partly along noise.
    static func correlated(seed: UInt64, positives: Int, negatives: Int) -> ([[Float]], [[Float]]) {
        var g = Gaussian(seed: seed)
        let d = 16, base = offset(d)
        func draw(_ n: Int, shift: Double) -> [[Float]] {
            (0..<n).map { _ in
                (0..<d).map { j in
                    var v = base[j] + g.normal()
                    if j < 2 { v += shift }
                    if j == 1 { v += 6 * g.normal() }
                    return Float(v)
                }
            }
        }
        return (draw(positives, shift: 2), draw(negatives, shift: 0))
    }

    @Test func whitenedBeatsMeanAndCentredOnCorrelatedNoise() throws {
        let (ex, bg) = Self.correlated(seed: 20, positives: 40, negatives: 400)
        let (tp, tn) = Self.correlated(seed: 21, positives: 500, negatives: 500)
        let w = heldOutAUC(try ConceptBuilder.whitened(name: "w", examples: ex, background: bg), positives: tp, negatives: tn)
        let m = heldOutAUC(try ConceptBuilder.mean(name: "m", examples: ex), positives: tp, negatives: tn)
        let c = heldOutAUC(try ConceptBuilder.centred(name: "c", examples: ex, background: bg), positives: tp, negatives: tn)
        print("held-out AUC on correlated noise: whitened \(w), centred \(c), mean \(m)")
        #expect(w > c + 0.1 && w > m + 0.1)
    }

    /// Against the formula written out: pooled covariance over K - 2, shrunk toward its average variance.
    @Test(arguments: [Float(0), 0.3, 1])
    func whitenedMatchesTheFormula(shrinkage: Float) throws {
        var g = Gaussian(seed: 22)
        let d = 3
        let ex = g.cluster(6, centre: [1, 2, 3]), bg = g.cluster(9, centre: [0, 1, 1])
        let t = try ConceptBuilder.whitened(name: "w", examples: ex, background: bg, shrinkage: shrinkage)
        let c = mean(ex), mu = mean(bg)
        var s = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for (set, m) in [(ex, c), (bg, mu)] {
            for r in set { for i in 0..<d { for j in 0..<d { s[i][j] += (Double(r[i]) - m[i]) * (Double(r[j]) - m[j]) } } }
        }
        let k = Double(ex.count + bg.count - 2), a = Double(shrinkage)
        let nu = (0..<d).reduce(0.0) { $0 + s[$1][$1] } / Double(d) / k
        var am = s.map { $0.map { (1 - a) * $0 / k } }
        for i in 0..<d { am[i][i] += a * nu }
        // A w = (c - mu) for a 3x3 A by Cramer's rule.
        func det(_ m: [[Double]]) -> Double {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let rhs = zip(c, mu).map { $0 - $1 }
        let w = (0..<d).map { col -> Double in
            var m = am
            for i in 0..<d { m[i][col] = rhs[i] }
            return det(m) / det(am)
        }
        for (x, y) in zip(doubles(t.direction), w) { #expect(abs(x - y) < 1e-4 * max(1, abs(y)), "\(x) vs \(y)") }
        let mid = zip(c, mu).map { Float(($0 + $1) / 2) }
        #expect(abs(t.score(mid)) < 1e-4)
    }

    @Test func ledoitWolfShrinksMoreWithFewerImages() throws {
        var g = Gaussian(seed: 23)
        let d = 32
        // Variances from 1 to 81: a shape worth estimating once there are enough images.
        func intensity(_ n: Int) -> Double {
            let x = g.cluster(n, centre: [Double](repeating: 0, count: d)).map { r in
                r.enumerated().map { $0.element * Float(1 + Double($0.offset) / 4) }
            }
            let m = try! ConceptBuilder.validate(name: "w", examples: Array(x[0..<(n / 2)]), background: Array(x[(n / 2)...]))
            return ShrinkageLDA(rows: m, positives: Array(0..<(n / 2)), negatives: Array((n / 2)..<n), shrinkage: nil)!.shrinkage
        }
        let few = intensity(20), many = intensity(2000)
        print("Ledoit-Wolf intensity on anisotropic data: 20 images \(few), 2000 images \(many)")
        #expect(few > 3 * many && many < 0.05)
    }

    @Test func zeroShrinkageWithTooFewImagesIsACleanError() {
        var g = Gaussian(seed: 24)
        let ex = g.cluster(2, centre: offset(10)), bg = g.cluster(3, centre: offset(10))
        #expect(throws: ConceptError.self) { try ConceptBuilder.whitened(name: "w", examples: ex, background: bg, shrinkage: 0) }
        #expect(throws: ConceptError.self) { try ConceptBuilder.whitened(name: "w", examples: ex, background: bg, shrinkage: 1.5) }
        #expect((try? ConceptBuilder.whitened(name: "w", examples: ex, background: bg)) != nil, "Ledoit-Wolf copes")
    }
}
