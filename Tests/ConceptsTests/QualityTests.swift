import Foundation
import Testing
@testable import Concepts

private let evaluatedKinds: [Target.Kind] = [.mean, .cosine, .contrast, .centred, .probe, .whitened]

/// Background: a wide cloud around a common offset; examples: a tight cluster away from it
/// (separable) or more draws from the background's own distribution (null).
private func dataset(seed: UInt64, d: Int = 16, n: Int = 8, m: Int = 80, separable: Bool) -> ([[Float]], [[Float]]) {
    var g = Gaussian(seed: seed)
    let base = (0..<d).map { 2 + 0.3 * cos(Double($0)) }
    let bg = g.cluster(m, centre: base)
    if !separable { return (g.cluster(n, centre: base), bg) }
    let shift = g.vector(d, scale: 1.5)
    return (g.cluster(n, centre: zip(base, shift).map { $0 + $1 }, sigma: 0.5), bg)
}

@Suite struct QualityTests {
    @Test(arguments: evaluatedKinds)
    func separableConceptIsSignificant(kind: Target.Kind) {
        let (ex, bg) = dataset(seed: 40, separable: true)
        let q = ConceptQuality.evaluate(kind: kind, examples: ex, background: bg, randomConcepts: 30)
        #expect(q.exampleCount == 8 && q.backgroundCount == 80 && q.randomConcepts == 30)
        #expect((q.auc ?? 0) > 0.97, "AUC \(String(describing: q.auc))")
        #expect(q.pValue == 1.0 / 31, "p \(String(describing: q.pValue)), notes \(q.notes)")
        #expect(q.leaveOneOutRanks?.count == 8 && q.leaveOneOutRanks!.allSatisfy { $0 <= 3 })
        #expect((q.coherence ?? 0) > 0.9)
        #expect((q.randomAUCMean ?? 1) < 0.8 && (q.randomAUCStd ?? 0) > 0)
        #expect(q.summary.contains("p = 0.032") && !q.summary.contains("\n"), "\(q.summary)")
    }

    /// Examples exchangeable with the background: p-values spread over (0, 1].
    @Test(arguments: evaluatedKinds)
    func nullConceptsGiveUniformishPValues(kind: Target.Kind) {
        let ps = (0..<12).map { s -> Double in
            let (ex, bg) = dataset(seed: 100 + UInt64(s), separable: false)
            return ConceptQuality.evaluate(kind: kind, examples: ex, background: bg, randomConcepts: 19, seed: UInt64(s)).pValue!
        }
        let meanP = ps.reduce(0, +) / Double(ps.count)
        print("null p-values for \(kind): mean \(meanP), \(ps.map { String(format: "%.2f", $0) })")
        #expect(meanP > 0.3 && meanP < 0.7)
        #expect(ps.filter { $0 <= 0.05 }.count <= 2)
    }

    @Test func sameSeedSameFiguresOtherSeedOtherDraws() {
        let (ex, bg) = dataset(seed: 41, separable: false)
        let a = ConceptQuality.evaluate(kind: .centred, examples: ex, background: bg, randomConcepts: 20, seed: 7)
        let b = ConceptQuality.evaluate(kind: .centred, examples: ex, background: bg, randomConcepts: 20, seed: 7)
        let c = ConceptQuality.evaluate(kind: .centred, examples: ex, background: bg, randomConcepts: 20, seed: 8)
        #expect(a == b)
        #expect(a.auc == c.auc && a.randomAUCMean != c.randomAUCMean)
    }

    /// The cheap leave-one-out of evaluate against refitting each concept without each example.
    @Test(arguments: [(Target.Kind.mean, 1e-9), (.cosine, 1e-9), (.centred, 1e-9), (.whitened, 0.01), (.probe, 0.01)])
    func leaveOneOutMatchesRefitting(kind: Target.Kind, tolerance: Double) throws {
        let (ex0, bg) = dataset(seed: 42, d: 12, n: 10, m: 60, separable: false)
        // Half-way between null and separable, so ranks are informative.
        let ex = ex0.map { $0.enumerated().map { $0.offset < 3 ? $0.element + 0.8 : $0.element } }
        let shrinkage: Float? = kind == .whitened ? 0.2 : nil
        let q = ConceptQuality.evaluate(kind: kind, examples: ex, background: bg, randomConcepts: 0, shrinkage: shrinkage)
        var fractions: [Double] = [], ranks: [Int] = []
        for i in 0..<ex.count {
            var rest = ex
            let held = rest.remove(at: i)
            let t = kind == .whitened
                ? try ConceptBuilder.whitened(name: "x", examples: rest, background: bg, shrinkage: shrinkage)
                : try ConceptBuilder.build(kind: kind, name: "x", examples: rest, background: bg)
            let s = t.score(held), others = bg.map(t.score)
            ranks.append(1 + others.filter { $0 > s }.count)
            fractions.append(ConceptBuilder.auc(positives: [s], negatives: others)!)
        }
        let exact = fractions.reduce(0, +) / Double(fractions.count)
        print("LOO AUC \(kind): evaluate \(q.auc!), refitting \(exact); ranks \(q.leaveOneOutRanks!) vs \(ranks)")
        #expect(abs(q.auc! - exact) <= tolerance)
        if tolerance < 1e-6 { #expect(q.leaveOneOutRanks! == ranks) }
    }

    @Test func fewExamplesOrNoBackgroundStillReturn() {
        let (ex, bg) = dataset(seed: 43, separable: true)
        let one = ConceptQuality.evaluate(kind: .probe, examples: [ex[0]], background: bg)
        #expect(one.coherence == nil && one.auc == nil && one.leaveOneOutRanks == nil && !one.notes.isEmpty)
        let two = ConceptQuality.evaluate(kind: .mean, examples: Array(ex[0..<2]), background: bg)
        #expect(two.coherence != nil && two.auc == nil && two.pValue == nil)
        #expect(two.notes.contains { $0.contains("fewer than 3") })
        let noBg = ConceptQuality.evaluate(kind: .mean, examples: ex, background: nil)
        #expect(noBg.coherence != nil && noBg.backgroundCount == nil && noBg.auc == nil)
        #expect(noBg.notes.contains { $0.contains("no background") })
        let mismatch = ConceptQuality.evaluate(kind: .centred, examples: ex, background: [[1, 2]])
        #expect(mismatch.auc == nil && mismatch.notes.contains { $0.contains("width") })
        #expect(ConceptQuality.evaluate(kind: .mean, examples: [[1, 2], [1]], background: nil, name: "dog")
                    .notes.first?.hasPrefix("concept 'dog': example embedding 1 has width 1") == true)
        #expect(one.summary.hasPrefix("1 example, ") && one.summary.contains("fewer than"))
        let tiny = ConceptQuality.evaluate(kind: .centred, examples: ex, background: Array(bg[0..<8]))
        #expect(tiny.auc != nil && tiny.pValue == nil && tiny.notes.contains { $0.contains("too small") })
        let head = ConceptQuality.evaluate(kind: .classLogit, examples: ex, background: bg)
        #expect(head.auc == nil && !head.notes.isEmpty)
    }

    @Test func largeBackgroundsAreSubsampled() {
        let (ex, bg) = dataset(seed: 44, m: 300, separable: true)
        let q = ConceptQuality.evaluate(kind: .mean, examples: ex, background: bg, randomConcepts: 5, maxBackground: 100)
        #expect(q.backgroundCount == 100 && q.notes.contains { $0.contains("subsampled") })
    }

    /// The brief's budget: R = 50 random concepts x n = 20 leave-one-outs, background 300, D 384.
    @Test(arguments: evaluatedKinds)
    func evaluateTiming(kind: Target.Kind) {
        var g = Gaussian(seed: 45)
        let d = 384
        let base = (0..<d).map { 1 + 0.2 * sin(Double($0)) }
        let bg = g.cluster(300, centre: base, sigma: 0.3)
        let ex = g.cluster(20, centre: zip(base, g.vector(d, scale: 0.05)).map { $0 + $1 }, sigma: 0.3)
        let (q, seconds, cpu) = timedCPU { ConceptQuality.evaluate(kind: kind, examples: ex, background: bg, randomConcepts: 50) }
        print("evaluate \(kind) n 20, background 300, D 384, R 50: \(String(format: "%.2f s wall, %.2f s CPU", seconds, cpu)), AUC \(q.auc!), p \(q.pValue!)")
        #expect(q.pValue != nil)
        #expect(seconds < 10)
    }
}

@Suite struct QualityScaleTests {
    /// A definition-time case from the issue: 30 examples against 1000 background images.
    @Test(arguments: [Target.Kind.probe, .whitened])
    func evaluate30Against1000(kind: Target.Kind) {
        var g = Gaussian(seed: 46)
        let d = 384
        let base = (0..<d).map { 1 + 0.2 * sin(Double($0)) }
        let bg = g.cluster(1000, centre: base, sigma: 0.3)
        let ex = g.cluster(30, centre: zip(base, g.vector(d, scale: 0.05)).map { $0 + $1 }, sigma: 0.3)
        let (q, seconds, cpu) = timedCPU { ConceptQuality.evaluate(kind: kind, examples: ex, background: bg, randomConcepts: 50) }
        print("evaluate \(kind) n 30, background 1000, D 384, R 50: \(String(format: "%.2f s wall, %.2f s CPU", seconds, cpu)), AUC \(q.auc!), p \(q.pValue!)")
        #expect(q.pValue != nil)
    }
}

/// The verdict, percentiles and background guard (issue 12).
@Suite struct VerdictTests {
    @Test func verdictLevels() {
        var q = ConceptQuality(exampleCount: 4, coherence: 0.8, leaveOneOutRanks: [1, 1, 2, 1], backgroundCount: 100, auc: 0.99,
                               pValue: 1.0 / 51, randomAUCMean: 0.6, randomAUCStd: 0.1, randomConcepts: 50)
        #expect(q.pAtFloor)
        #expect(q.pDescription?.contains("the floor for 50 random concepts") == true)
        #expect(q.verdict(exampleNames: ["a", "b", "c", "d"]).level == .usable)
        q.leaveOneOutRanks = [1, 40, 2, 1]
        let inconsistent = q.verdict(exampleNames: ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
        #expect(inconsistent.level == .inconsistent && inconsistent.outliers == ["b.jpg"])
        #expect(inconsistent.text.contains("b.jpg"))
        q.pValue = 0.31
        let weak = q.verdict()
        #expect(weak.level == .weak && weak.text.hasPrefix("weak: not distinguishable from random concepts"))
        #expect(weak.outliers == ["example 2"])
        #expect(!q.pAtFloor)
        q.pValue = nil; q.randomConcepts = nil
        #expect(q.verdict().level == .untested)
        #expect(ConceptQuality(exampleCount: 2, notes: ["fewer than 3 examples"]).verdict().level == .unjudged)
    }

    @Test func percentiles() {
        let r = ScoreReference(scores: [1, 2, 3, 4, .nan], label: "x")
        #expect(r.sorted == [1, 2, 3, 4])
        #expect(r.percentile(of: 0) == 0)
        #expect(r.percentile(of: 5) == 100)
        #expect(r.percentile(of: 2.5) == 50)
        #expect(r.percentile(of: 2) == 37.5)   // one below, one tie
        #expect(r.percentile(of: .nan) == nil)
        #expect(ScoreReference(scores: [], label: "").percentile(of: 1) == nil)
    }

    @Test func backgroundGuardDropsNearDuplicatesAndTheMostSimilar() {
        let d = 32
        func v(_ seed: Int, _ base: [Float]? = nil, noise: Float = 1) -> [Float] {
            var s = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
            return (0..<d).map { j in
                s = s &* 6364136223846793005 &+ 1442695040888963407
                return (base?[j] ?? 0) + noise * (Float(Int64(bitPattern: s >> 11) % 2000) / 1000 - 1)
            }
        }
        let concept = v(1)
        let examples = (0..<5).map { v(10 + $0, concept, noise: 0.3) }
        var background = (0..<30).map { v(100 + $0) }
        background.append(examples[0].map { $0 + 0.001 })             // a near-duplicate of an example
        background += (0..<3).map { v(200 + $0, concept, noise: 0.3) } // unlabelled examples
        let plain = BackgroundGuard.screen(examples: examples, background: background, excludeSimilar: 0)
        #expect(plain.nearDuplicates >= 1 && !plain.kept.contains(30))
        #expect(plain.kept.count == background.count - plain.nearDuplicates)
        #expect(plain.aboveTypicalExample >= 1)
        let guarded = BackgroundGuard.screen(examples: examples, background: background, excludeSimilar: 3)
        #expect(guarded.excluded == 3 && guarded.kept.count == plain.kept.count - 3)
        #expect(Set(guarded.kept).isDisjoint(with: [30, 31, 32, 33]))
        // Nothing to screen against: everything kept.
        #expect(BackgroundGuard.screen(examples: [], background: background, excludeSimilar: 3).kept.count == background.count)
    }

    @Test func contrastQualityUsesItsNegatives() {
        // Examples near +e0, negatives B near -e1, background spread: contrast and centred differ.
        let d = 6
        func unitish(_ i: Int, _ s: Float) -> [Float] { (0..<d).map { $0 == i ? s : Float(($0 * 7 + Int(s * 10)) % 5) * 0.01 } }
        let examples = (0..<4).map { k in unitish(0, 1 + Float(k) * 0.1) }
        let negatives = (0..<4).map { k in unitish(1, -1 - Float(k) * 0.1) }
        let background = negatives + (0..<12).map { k in unitish(k % d, Float(k % 3) - 1) }
        let contrast = ConceptQuality.evaluate(kind: .contrast, examples: examples, background: background, randomConcepts: 5,
                                               contrastNegatives: negatives)
        let centred = ConceptQuality.evaluate(kind: .contrast, examples: examples, background: background, randomConcepts: 5)
        #expect(contrast.auc != nil && centred.auc != nil)
        #expect(contrast.leaveOneOutRanks != centred.leaveOneOutRanks || contrast.randomAUCMean != centred.randomAUCMean)
    }
}
