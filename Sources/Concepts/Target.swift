/// What a target score is: a scalar function of a CLS embedding e (CDAM.md, "The CDAM score").
///
/// Every concept kind reduces to one of two forms, so the engine has one code path:
/// - linear: f(e) = direction . e + bias (mean, contrast, centred, probe, whitened, class);
/// - cosine: f(e) = direction . e / (|direction| |e|) (the cosine variant of a mean concept).
public struct Target: Codable, Hashable, Sendable {
    /// How the target was made; it decides nothing in the arithmetic except `cosine`.
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case mean, cosine, contrast, centred, probe, whitened
        case classLogit = "class"

        /// Kinds fitted against images that are not the concept (a background, or negatives): a contrast's B,
        /// a centred concept's mean, a probe's or LDA's other class.
        public var needsBackground: Bool { [.contrast, .centred, .probe, .whitened].contains(self) }
    }

    public var name: String
    public var kind: Kind
    /// The direction w (D numbers).
    public var direction: [Float]
    /// The offset b added to the linear score (0 for mean, contrast and centred).
    public var bias: Float
    /// The block (1-based) whose CLS embedding e is: the network is truncated after it. nil: the last block.
    public var block: Int?

    public init(name: String, kind: Kind, direction: [Float], bias: Float = 0, block: Int? = nil) {
        self.name = name
        self.kind = kind
        self.direction = direction
        self.bias = bias
        self.block = block
    }

    /// The largest direction norm and bias a usable target has. Real concepts stay far below (a mean concept's
    /// norm is the embedding's, tens to hundreds; a probe's or whitened direction's at most thousands); the
    /// bounds keep every score of an embedding finite in Float, and its histogram and percentiles computable.
    public static let maxDirectionNorm: Double = 1e7
    public static let maxBias: Double = 1e9

    /// What makes this target unusable, or nil: a width other than `width`, a non-finite number, a direction
    /// or bias too large for its scores to be representable. Checked explicitly (not with `precondition`,
    /// which `-Ounchecked` removes) wherever a stored or imported vector enters.
    public func problem(width: Int?) -> String? {
        if let width, direction.count != width {
            return "its direction has \(direction.count) numbers, the model's embeddings \(width)"
        }
        if direction.isEmpty { return "its direction is empty" }
        guard bias.isFinite, direction.allSatisfy(\.isFinite) else { return "its direction or bias holds NaN or infinite numbers" }
        let norm = direction.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm <= Target.maxDirectionNorm, abs(Double(bias)) <= Target.maxBias else {
            return String(format: "its direction's norm (%.3g) or bias (%.3g) is too large for finite scores (limits %.0e, %.0e)",
                          norm, Double(bias), Target.maxDirectionNorm, Target.maxBias)
        }
        if isCosine && norm == 0 { return "a cosine concept's direction is zero" }
        return nil
    }

    /// True when the score is the cosine similarity rather than a linear score.
    public var isCosine: Bool { kind == .cosine }

    /// The score f(e) of one embedding.
    public func score(_ e: [Float]) -> Float {
        // An explicit check (a precondition vanishes under -Ounchecked and the loop would read out of bounds).
        guard e.count == direction.count else { return .nan }
        var dot: Float = 0, ee: Float = 0, ww: Float = 0
        for i in 0..<e.count {
            dot += e[i] * direction[i]
            ee += e[i] * e[i]
            ww += direction[i] * direction[i]
        }
        if isCosine { return dot / max((ee * ww).squareRoot(), .leastNormalMagnitude) }
        return dot + bias
    }

    /// df/de, the upstream gradient the backward pass starts from (D numbers).
    public func gradient(_ e: [Float]) -> [Float] {
        guard isCosine else { return direction }
        guard e.count == direction.count else { return [Float](repeating: .nan, count: e.count) }
        var dot: Float = 0, ee: Float = 0, ww: Float = 0
        for i in 0..<e.count {
            dot += e[i] * direction[i]
            ee += e[i] * e[i]
            ww += direction[i] * direction[i]
        }
        let ne = max(ee.squareRoot(), .leastNormalMagnitude), nw = max(ww.squareRoot(), .leastNormalMagnitude)
        // d/de (e.w / (|e||w|)) = w / (|e||w|) - (e.w) e / (|e|^3 |w|)
        return (0..<e.count).map { i in direction[i] / (ne * nw) - dot * e[i] / (ne * ne * ne * nw) }
    }
}
