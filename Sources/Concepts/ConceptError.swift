/// Why a concept could not be built. Each description is one line that names the concept,
/// says what is wrong and what to do about it.
public enum ConceptError: Error, CustomStringConvertible, Equatable, Sendable {
    /// No example embeddings were given.
    case noExamples(concept: String)
    /// The kind needs a background (negatives) set and none, or an empty one, was given.
    case needsBackground(concept: String, kind: Target.Kind)
    /// One embedding's width differs from the first example's.
    case widthMismatch(concept: String, set: String, index: Int, width: Int, expected: Int)
    /// One embedding holds NaN or infinity.
    case nonFinite(concept: String, set: String, index: Int)
    /// A numeric option is out of range.
    case invalidParameter(concept: String, name: String, value: Double, expected: String)
    /// The data admit no such concept (e.g. a zero mean vector for a cosine score).
    case degenerate(concept: String, reason: String)
    /// `build(kind:)` was asked for a kind that cannot be made from example sets.
    case unsupportedKind(concept: String, kind: Target.Kind, hint: String)

    public var description: String {
        switch self {
        case .noExamples(let c):
            return "concept '\(c)': no example embeddings; give at least one example image"
        case .needsBackground(let c, let kind):
            return "concept '\(c)': kind '\(kind.rawValue)' needs a background (--background COLLECTION or --negatives DIR)"
        case .widthMismatch(let c, let set, let i, let w, let e):
            return "concept '\(c)': \(set) embedding \(i) has width \(w) but the examples have \(e); embed all images with the same model"
        case .nonFinite(let c, let set, let i):
            return "concept '\(c)': \(set) embedding \(i) contains NaN or infinity; re-embed that image"
        case .invalidParameter(let c, let name, let v, let expected):
            return "concept '\(c)': \(name) = \(v) is invalid; use \(expected)"
        case .degenerate(let c, let reason):
            return "concept '\(c)': \(reason)"
        case .unsupportedKind(let c, let kind, let hint):
            return "concept '\(c)': kind '\(kind.rawValue)' cannot be built from example images; \(hint)"
        }
    }
}
