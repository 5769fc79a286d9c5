// Concept vectors from CLS embeddings: the mean-embedding concept of Brocki & Chung 2023
// (CDAM, arXiv 2312.02364) and its discriminative variants (contrast, centred, TCAV-style
// probe, shrinkage LDA).
//
// Letters: n examples, M background embeddings, D width.

/// Builds `Target`s from sets of CLS embeddings (each an array of D Floats).
///
/// Every builder validates its input: at least one example, one width throughout, finite
/// numbers, and a non-empty background for the kinds that need one.
public enum ConceptBuilder {
    /// Default L2 penalty of `probe`, on the class-balanced mean loss, in units where the
    /// background's RMS distance to its mean is 1.
    public static let defaultLambda: Float = 1e-2

    /// The paper's concept: c = mean of the examples, f(e) = e . c.
    /// - Throws: `ConceptError` for no examples, mixed widths or non-finite numbers.
    public static func mean(name: String, examples: [[Float]]) throws -> Target {
        let x = try validate(name: name, examples: examples, background: nil)
        return Target(name: name, kind: .mean, direction: floats(x.rowMean(0..<examples.count)))
    }

    /// The cosine variant: the same mean vector, f(e) = e . c / (|e| |c|).
    /// - Throws: `ConceptError` as `mean`, and `.degenerate` when the mean is the zero vector.
    public static func cosine(name: String, examples: [[Float]]) throws -> Target {
        let x = try validate(name: name, examples: examples, background: nil)
        let c = x.rowMean(0..<examples.count)
        guard dot(c, c) > 0 else {
            throw ConceptError.degenerate(concept: name, reason: "the examples' mean is the zero vector, so a cosine score is undefined; choose other examples")
        }
        return Target(name: name, kind: .cosine, direction: floats(c))
    }

    /// "A, not B": f(e) = e . (c_A - c_B) with c_A, c_B the means of `positives` and `negatives`.
    /// - Throws: `ConceptError` for empty sets, mixed widths or non-finite numbers.
    public static func contrast(name: String, positives: [[Float]], negatives: [[Float]]) throws -> Target {
        guard !negatives.isEmpty else { throw ConceptError.needsBackground(concept: name, kind: .contrast) }
        let x = try validate(name: name, examples: positives, background: negatives, backgroundName: "negative")
        let n = positives.count
        let ca = x.rowMean(0..<n), cb = x.rowMean(n..<x.rows)
        return Target(name: name, kind: .contrast, direction: floats(zip(ca, cb).map { $0 - $1 }))
    }

    /// f(e) = e . (c - mu), mu the mean of `background`: removes the component all photos share.
    /// - Throws: `ConceptError` for no examples, no background, mixed widths or non-finite numbers.
    public static func centred(name: String, examples: [[Float]], background: [[Float]]) throws -> Target {
        guard !background.isEmpty else { throw ConceptError.needsBackground(concept: name, kind: .centred) }
        let x = try validate(name: name, examples: examples, background: background)
        let n = examples.count
        let c = x.rowMean(0..<n), mu = x.rowMean(n..<x.rows)
        return Target(name: name, kind: .centred, direction: floats(zip(c, mu).map { $0 - $1 }))
    }

    /// A linear probe: L2-regularized logistic regression of the examples (label 1) against the
    /// background (label 0), each class weighted to half the loss; f(e) = w . e + b in raw
    /// embedding space (the log-odds of the balanced problem). Deterministic.
    /// - Parameter lambda: the penalty (lambda/2)|w|^2 added to the mean loss, with embeddings
    ///   scaled so the background's RMS distance to its mean is 1; larger means smoother.
    /// - Throws: `ConceptError` for no examples, no background, mixed widths, non-finite numbers
    ///   or lambda not positive.
    public static func probe(name: String, examples: [[Float]], background: [[Float]],
                             lambda: Float = defaultLambda) throws -> Target {
        guard !background.isEmpty else { throw ConceptError.needsBackground(concept: name, kind: .probe) }
        guard lambda > 0, lambda.isFinite else {
            throw ConceptError.invalidParameter(concept: name, name: "lambda", value: Double(lambda), expected: "a positive number such as 0.01")
        }
        let x = try validate(name: name, examples: examples, background: background)
        let n = examples.count
        let pos = Array(0..<n), neg = Array(n..<x.rows)
        let model = LogisticProbe(rows: x, reference: neg, lambda: Double(lambda))
        let fit = try fitProbe(model, positives: pos, negatives: neg, name: name)
        return Target(name: name, kind: .probe, direction: floats(model.rawDirection(fit.theta)),
                      bias: Float(model.rawBias(fit.theta)))
    }

    /// Shrinkage LDA: w = (Sigma + shrinkage)^-1 (c - mu), Sigma the pooled within-class
    /// covariance shrunk toward (tr Sigma / D) I; bias puts the midpoint of the means at 0.
    /// - Parameter shrinkage: intensity in [0, 1]; nil (the default) estimates it by Ledoit-Wolf.
    /// - Throws: `ConceptError` for no examples, no background, mixed widths, non-finite
    ///   numbers, a shrinkage outside [0, 1] or a singular covariance (shrinkage 0 with too few images).
    public static func whitened(name: String, examples: [[Float]], background: [[Float]],
                                shrinkage: Float? = nil) throws -> Target {
        guard !background.isEmpty else { throw ConceptError.needsBackground(concept: name, kind: .whitened) }
        if let s = shrinkage, !(s >= 0 && s <= 1) {
            throw ConceptError.invalidParameter(concept: name, name: "shrinkage", value: Double(s), expected: "a number in [0, 1], or none for Ledoit-Wolf")
        }
        let x = try validate(name: name, examples: examples, background: background)
        let n = examples.count
        let lda = try fitWhitened(x, positives: Array(0..<n), negatives: Array(n..<x.rows),
                                  shrinkage: shrinkage.map(Double.init), name: name)
        return Target(name: name, kind: .whitened, direction: floats(lda.direction), bias: Float(lda.bias))
    }

    /// A class target from a trained linear head's row k: f(e) = weights . e + bias.
    /// - Throws: `ConceptError` for empty or non-finite weights.
    public static func linearHead(name: String, weights: [Float], bias: Float) throws -> Target {
        guard !weights.isEmpty else { throw ConceptError.noExamples(concept: name) }
        guard weights.allSatisfy(\.isFinite), bias.isFinite else {
            throw ConceptError.nonFinite(concept: name, set: "head weight", index: 0)
        }
        return Target(name: name, kind: .classLogit, direction: weights, bias: bias)
    }

    /// Builds any example-based kind with default options; `contrast` uses `background` as its
    /// negatives.
    /// - Throws: `ConceptError.needsBackground` when the kind needs one and `background` is nil
    ///   or empty, `.unsupportedKind` for `.classLogit`, and whatever the builder throws.
    public static func build(kind: Target.Kind, name: String, examples: [[Float]],
                             background: [[Float]]?) throws -> Target {
        switch kind {
        case .mean: return try mean(name: name, examples: examples)
        case .cosine: return try cosine(name: name, examples: examples)
        case .contrast, .centred, .probe, .whitened:
            guard let bg = background, !bg.isEmpty else { throw ConceptError.needsBackground(concept: name, kind: kind) }
            switch kind {
            case .contrast: return try contrast(name: name, positives: examples, negatives: bg)
            case .centred: return try centred(name: name, examples: examples, background: bg)
            case .probe: return try probe(name: name, examples: examples, background: bg)
            default: return try whitened(name: name, examples: examples, background: bg)
            }
        case .classLogit:
            throw ConceptError.unsupportedKind(concept: name, kind: kind, hint: "train a linear head (cdam head train) and use ConceptBuilder.linearHead")
        }
    }

    /// R random concepts of `kind`: each built, as the significance test of `ConceptQuality` builds them,
    /// from `exampleCount` background images drawn at random (seeded) against the rest of the background.
    /// Concepts that cannot be fitted are left out.
    public static func randomConcepts(kind: Target.Kind, exampleCount n: Int, background: [[Float]], count r: Int,
                                      seed: UInt64 = 0) -> [Target] {
        guard n > 0, background.count > n, r > 0 else { return [] }
        var rng = SplitMix64(seed: seed)
        let all = Array(background.indices)
        return (0..<r).compactMap { i in
            let members = Set(sample(n, from: all, using: &rng))
            let rest = all.filter { !members.contains($0) }.map { background[$0] }
            return try? build(kind: kind, name: "random \(i + 1)", examples: members.sorted().map { background[$0] }, background: rest)
        }
    }

    // MARK: - Shared internals

    /// Stacks examples then background into one Double matrix after checking them.
    static func validate(name: String, examples: [[Float]], background: [[Float]]?,
                         backgroundName: String = "background") throws -> Matrix {
        guard let first = examples.first else { throw ConceptError.noExamples(concept: name) }
        guard !first.isEmpty else {
            throw ConceptError.degenerate(concept: name, reason: "example embedding 0 is empty; re-embed the examples")
        }
        var sets: [(name: String, rows: [[Float]])] = [("example", examples)]
        if let bg = background { sets.append((backgroundName, bg)) }
        return try Matrix(validating: sets, width: first.count, concept: name)
    }

    struct ProbeFit { var theta: [Double]; var preconditioner: Cholesky }

    /// Fits the class-balanced probe on the given rows of `model`.
    static func fitProbe(_ model: LogisticProbe, positives: [Int], negatives: [Int],
                         name: String) throws -> ProbeFit {
        let ap = 0.5 / Double(positives.count), an = 0.5 / Double(negatives.count)
        guard let pre = model.bound(positiveGram: model.gram(positives), positiveWeight: ap,
                                    negativeGram: model.gram(negatives), negativeWeight: an) else {
            throw ConceptError.degenerate(concept: name, reason: "the probe's curvature bound is singular; check the embeddings")
        }
        var t = [Double](repeating: 0, count: model.z.rows), a = t
        for i in positives { t[i] = 1; a[i] = ap }
        for i in negatives { a[i] = an }
        return ProbeFit(theta: model.fit(targets: t, weights: a, preconditioner: pre), preconditioner: pre)
    }

    static func fitWhitened(_ x: Matrix, positives: [Int], negatives: [Int], shrinkage: Double?,
                            name: String) throws -> ShrinkageLDA {
        guard let lda = ShrinkageLDA(rows: x, positives: positives, negatives: negatives, shrinkage: shrinkage) else {
            throw ConceptError.degenerate(concept: name, reason: "the pooled covariance is singular; use a shrinkage above 0 or more images")
        }
        return lda
    }

    static func floats(_ v: [Double]) -> [Float] { v.map { Float($0) } }
}
