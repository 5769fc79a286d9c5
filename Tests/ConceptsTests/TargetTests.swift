import Testing
@testable import Concepts

@Suite struct TargetTests {
    /// df/de against central differences, for a linear and a cosine target.
    @Test(arguments: [Target.Kind.mean, .probe, .cosine])
    func gradientMatchesFiniteDifferences(kind: Target.Kind) {
        var g = Gaussian(seed: 30)
        let w = g.vector(12).map(Float.init), e = g.vector(12).map(Float.init)
        let t = Target(name: "t", kind: kind, direction: w, bias: kind == .probe ? 0.7 : 0)
        let grad = t.gradient(e)
        let h: Float = 1e-2
        var worst: Float = 0
        for k in 0..<e.count {
            var ep = e, em = e
            ep[k] += h
            em[k] -= h
            let fd = (t.score(ep) - t.score(em)) / (2 * h)
            worst = max(worst, abs(fd - grad[k]))
        }
        let scale = grad.map(abs).max()!
        #expect(worst < 2e-3 * max(scale, 1), "max |fd - grad| = \(worst) (largest component \(scale))")
    }

    @Test(arguments: [Target.Kind.mean, .cosine, .whitened])
    func batchScoresMatchSingleScores(kind: Target.Kind) {
        var g = Gaussian(seed: 31)
        let d = 37, n = 23   // widths that are not multiples of the SIMD lane counts
        let w = g.vector(d).map(Float.init)
        var rows = (0..<n).map { _ in g.vector(d).map(Float.init) }
        rows[5] = [Float](repeating: 0, count: d)
        let t = Target(name: "t", kind: kind, direction: w, bias: -0.25)
        let batch = ConceptBuilder.scores(t, embeddings: rows.flatMap { $0 }, count: n)
        for i in 0..<n {
            let single = i == 5 && kind == .cosine ? 0 : t.score(rows[i])
            #expect(abs(batch[i] - single) < 1e-4 * max(1, abs(single)), "row \(i): \(batch[i]) vs \(single)")
        }
        #expect(ConceptBuilder.scores(t, embeddings: [], count: 0).isEmpty)
    }

    @Test func scoring100kEmbeddingsIsLinearTime() {
        var g = Gaussian(seed: 32)
        let d = 384, n = 100_000
        let t = Target(name: "t", kind: .mean, direction: g.vector(d).map(Float.init))
        var m = [Float](repeating: 0, count: n * d)
        for k in stride(from: 0, to: m.count, by: 97) { m[k] = 1 }
        let (s, seconds) = timed { ConceptBuilder.scores(t, embeddings: m, count: n) }
        print("scores of 100,000 x 384: \(String(format: "%.1f", seconds * 1000)) ms")
        #expect(s.count == n)
    }
}

@Suite struct AUCTests {
    struct Case: Sendable, CustomStringConvertible {
        var positives: [Double], negatives: [Double], expected: Double?
        var description: String { "\(positives) vs \(negatives)" }
    }

    @Test(arguments: [
        Case(positives: [3, 4], negatives: [1, 2], expected: 1),
        Case(positives: [1, 2], negatives: [3, 4], expected: 0),
        Case(positives: [1, 1], negatives: [1, 1, 1], expected: 0.5),
        // pairs: (2>1) (2=2) (2<3) (3>1) (3>2) (3=3) -> (1 + .5 + 0 + 1 + 1 + .5) / 6
        Case(positives: [2, 3], negatives: [1, 2, 3], expected: 4.0 / 6),
        Case(positives: [], negatives: [1], expected: nil),
    ])
    func mannWhitneyWithTies(c: Case) {
        let a = ConceptBuilder.auc(positives: c.positives, negatives: c.negatives)
        if let e = c.expected { #expect(a.map { abs($0 - e) < 1e-12 } == true, "got \(String(describing: a))") }
        else { #expect(a == nil) }
    }

    @Test func aucAgreesWithPairCounting() {
        var g = Gaussian(seed: 33)
        // Rounded so ties occur.
        let p = (0..<40).map { _ in (g.normal() * 2).rounded() + 1 }, n = (0..<55).map { _ in (g.normal() * 2).rounded() }
        var pairs = 0.0
        for a in p { for b in n { pairs += a > b ? 1 : (a == b ? 0.5 : 0) } }
        #expect(abs(ConceptBuilder.auc(positives: p, negatives: n)! - pairs / Double(p.count * n.count)) < 1e-12)
    }
}

@Suite struct ErrorTests {
    @Test func widthMismatchNamesTheSetAndIndex() {
        let ex: [[Float]] = [[1, 2, 3], [1, 2, 3]], bg: [[Float]] = [[1, 2, 3], [1, 2]]
        #expect(throws: ConceptError.widthMismatch(concept: "dog", set: "background", index: 1, width: 2, expected: 3)) {
            try ConceptBuilder.centred(name: "dog", examples: ex, background: bg)
        }
        #expect(throws: ConceptError.self) { try ConceptBuilder.mean(name: "dog", examples: [[1, 2], [1]]) }
    }

    @Test(arguments: [Target.Kind.contrast, .centred, .probe, .whitened])
    func backgroundKindsWithoutBackgroundFail(kind: Target.Kind) {
        for bg in [nil, [[Float]]()] {
            #expect(throws: ConceptError.needsBackground(concept: "dog", kind: kind)) {
                try ConceptBuilder.build(kind: kind, name: "dog", examples: [[1, 2]], background: bg)
            }
        }
    }

    @Test func otherBadInputs() {
        #expect(throws: ConceptError.noExamples(concept: "x")) { try ConceptBuilder.mean(name: "x", examples: []) }
        #expect(throws: ConceptError.nonFinite(concept: "x", set: "example", index: 1)) {
            try ConceptBuilder.mean(name: "x", examples: [[1, 2], [.nan, 1]])
        }
        #expect(throws: ConceptError.self) { try ConceptBuilder.cosine(name: "x", examples: [[1, -1], [-1, 1]]) }
        #expect(throws: ConceptError.self) { try ConceptBuilder.build(kind: .classLogit, name: "x", examples: [[1]], background: nil) }
        #expect((try? ConceptBuilder.linearHead(name: "k", weights: [1, 2], bias: 3))?.kind == .classLogit)
    }

    @Test func descriptionsAreOneLineAndNameTheConcept() {
        let errors: [ConceptError] = [
            .noExamples(concept: "dog"), .needsBackground(concept: "dog", kind: .probe),
            .widthMismatch(concept: "dog", set: "example", index: 2, width: 768, expected: 384),
            .nonFinite(concept: "dog", set: "background", index: 0),
            .invalidParameter(concept: "dog", name: "lambda", value: -1, expected: "a positive number"),
            .degenerate(concept: "dog", reason: "why"), .unsupportedKind(concept: "dog", kind: .classLogit, hint: "do this"),
        ]
        for e in errors {
            #expect(!e.description.contains("\n") && e.description.hasPrefix("concept 'dog': "))
        }
        #expect(ConceptError.needsBackground(concept: "dog", kind: .probe).description
                == "concept 'dog': kind 'probe' needs a background (--background COLLECTION or --negatives DIR)")
    }
}
