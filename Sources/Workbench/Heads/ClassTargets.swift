import Concepts
import Foundation
import Store

/// The classes of a linear head that `query` explains: class CDAM (the paper's first variant), the map of
/// a class logit f_k(e) = w_k . e + b_k. Which classes is decided per image once its embedding is known
/// (`top5` needs the head's prediction), so the selection travels with the request.
public struct ClassTargets: Sendable {
    /// The head's name, reported with each class.
    public var head: String
    public var labels: [String]
    /// K x D row-major.
    public var weights: [Float]
    public var bias: [Float]
    public var selection: [Selection]

    /// One `--class` value.
    public enum Selection: Sendable, Equatable {
        /// Every class of the head.
        case all
        /// The k classes with the highest logits on the image.
        case top(Int)
        /// One class by index.
        case label(Int)
    }

    public var width: Int { labels.isEmpty ? 0 : weights.count / labels.count }

    /// One class's target and its standing on the image.
    public struct Chosen: Sendable {
        public var target: Target
        public var head: String
        public var probability: Double
        /// 1 for the predicted class.
        public var rank: Int
    }

    /// The targets of the selected classes on an image with CLS embedding `e`, in the order the selection names
    /// them (each class once), with the head's softmax probability and rank of each.
    public func targets(for e: [Float]) -> [Chosen] {
        let k = labels.count, d = width
        let logits = (0..<k).map { c -> Double in
            var s = Double(bias[c])
            for j in 0..<d { s += Double(weights[c * d + j]) * Double(e[j]) }
            return s
        }
        let probs = softmax(logits)
        let order = (0..<k).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        var rank = [Int](repeating: 0, count: k)
        for (r, c) in order.enumerated() { rank[c] = r + 1 }
        var picked: [Int] = []
        for s in selection {
            switch s {
            case .all: picked += 0..<k
            case .top(let n): picked += order.prefix(n)
            case .label(let c): picked.append(c)
            }
        }
        var seen = Set<Int>()
        return picked.filter { seen.insert($0).inserted }.map { c in
            Chosen(target: Target(name: labels[c], kind: .classLogit, direction: Array(weights[(c * d)..<((c + 1) * d)]), bias: bias[c]),
                   head: head, probability: probs[c], rank: rank[c])
        }
    }

    /// The selected classes' targets when the selection does not depend on the image (labels, `all`), named
    /// HEAD/LABEL: what `report` ranks images by.
    /// - Throws: `WorkbenchError.usage` for `topK`, which depends on each image.
    public func fixedTargets() throws -> [(target: Target, classIndex: Int)] {
        let d = width
        var picked: [Int] = []
        for s in selection {
            switch s {
            case .all: picked += 0..<labels.count
            case .label(let c): picked.append(c)
            case .top: throw WorkbenchError.usage("--class topK picks classes per image; a report ranks images by fixed classes: name them, or use all")
            }
        }
        var seen = Set<Int>()
        return picked.filter { seen.insert($0).inserted }.map { c in
            (Target(name: "\(head)/\(labels[c])", kind: .classLogit, direction: Array(weights[(c * d)..<((c + 1) * d)]), bias: bias[c]), c)
        }
    }

    /// Parses the `--class` values against a head's labels: a label, `all`, or `topK` (`top5`).
    /// - Throws: `WorkbenchError.usage` naming an unknown class (and the closest label) or a bad `topK`.
    public static func parseSelection(_ values: [String], labels: [String], head: String) throws -> [Selection] {
        let values = values.isEmpty ? ["top1"] : values
        return try values.map { value in
            if value == "all" { return .all }
            if let c = labels.firstIndex(of: value) { return .label(c) }
            if value.hasPrefix("top"), let n = Int(value.dropFirst(3)) {
                guard n >= 1 else { throw WorkbenchError.usage("--class \(value): give top1 or more") }
                return .top(min(n, labels.count))
            }
            let shown = labels.count <= 12 ? labels.joined(separator: ", ") : labels.prefix(12).joined(separator: ", ") + ", …"
            throw WorkbenchError.usage("--class \(value): head '\(head)' has no such class\(didYouMean(value, among: labels)); its classes: \(shown) (or all, topK such as top5)")
        }
    }
}

/// The class targets of a stored head for `query --head NAME --class ...`.
/// - Throws: as `resolveHead` (the head must belong to `modelName`), `WorkbenchError.usage` for a bad class.
public func classTargets(head name: String, classes: [String], modelName: String, store: Store) throws -> ClassTargets {
    let (head, _) = try resolveHead(name, modelName: modelName, store: store)
    return ClassTargets(head: head.name, labels: head.labels, weights: head.weights, bias: head.bias,
                        selection: try ClassTargets.parseSelection(classes, labels: head.labels, head: head.name))
}
