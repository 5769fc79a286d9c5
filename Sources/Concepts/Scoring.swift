// Scoring many embeddings against one target, and the Mann-Whitney AUC used to judge rankings.
//
// Letters: N embeddings, D width.

import TensorMath

extension ConceptBuilder {
    /// The target's score of every row of a row-major N x D matrix (N = `count`), as
    /// `Target.score` would give it; O(N D), one output allocation.
    /// A zero row scores 0 under a cosine target.
    public static func scores(_ target: Target, embeddings: [Float], count: Int) -> [Float] {
        let d = target.direction.count
        var out = [Float](repeating: 0, count: count)
        // Explicit (a precondition vanishes under -Ounchecked): a width mismatch scores NaN, never reads past the end.
        guard embeddings.count == count * d else { return [Float](repeating: .nan, count: count) }
        guard count > 0, d > 0 else { return out }
        let cosine = target.isCosine, bias = target.bias
        target.direction.withUnsafeBufferPointer { wb in
            embeddings.withUnsafeBufferPointer { xb in
                out.withUnsafeMutableBufferPointer { ob in
                    let w = wb.baseAddress!, x = xb.baseAddress!
                    let wn = simdDot(w, w, d).squareRoot()
                    for i in 0..<count {
                        let row = x + i * d
                        let s = simdDot(row, w, d)
                        if cosine {
                            let denom = simdDot(row, row, d).squareRoot() * wn
                            ob[i] = denom > 0 ? s / denom : 0
                        } else {
                            ob[i] = s + bias
                        }
                    }
                }
            }
        }
        return out
    }

    /// Area under the ROC curve of `positives` against `negatives`: the probability that a
    /// random positive outscores a random negative, ties counting one half (Mann-Whitney U /
    /// (n_pos n_neg)). Nil when either set is empty.
    public static func auc<T: BinaryFloatingPoint>(positives: [T], negatives: [T]) -> Double? {
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        var all = positives.map { (Double($0), true) } + negatives.map { (Double($0), false) }
        all.sort { $0.0 < $1.0 }
        // Sum of the positives' mid-ranks (1-based; a tie group shares its average rank).
        var rankSum = 0.0, i = 0
        while i < all.count {
            var j = i
            while j + 1 < all.count && all[j + 1].0 == all[i].0 { j += 1 }
            let mid = Double(i + j + 2) / 2
            for k in i...j where all[k].1 { rankSum += mid }
            i = j + 1
        }
        let np = Double(positives.count), nn = Double(negatives.count)
        return (rankSum - np * (np + 1) / 2) / (np * nn)
    }
}

/// Where a score stands among a reference set's scores (a concept's background, or a collection): the
/// percentile that makes scores of different kinds comparable (a mean concept's 1493 and a probe's
/// -0.72 say nothing side by side; "97th percentile of the background" does).
public struct ScoreReference: Sendable, Equatable {
    /// The reference scores, ascending (NaN dropped).
    public let sorted: [Float]
    /// What the reference is, for people ("background of 'dog' (512 images)").
    public let label: String

    public init(scores: [Float], label: String) {
        self.sorted = scores.filter { !$0.isNaN }.sorted()
        self.label = label
    }

    /// 100 × (reference scores below `score` + half of those equal) / count: 50 is the reference's
    /// median, 100 above every reference image. Nil for an empty reference or a NaN score.
    public func percentile(of score: Float) -> Double? {
        guard !sorted.isEmpty, !score.isNaN else { return nil }
        func firstIndex(where pred: (Float) -> Bool) -> Int {
            var lo = 0, hi = sorted.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if pred(sorted[mid]) { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
        let below = firstIndex { $0 >= score }, notAbove = firstIndex { $0 > score }
        return 100 * (Double(below) + 0.5 * Double(notAbove - below)) / Double(sorted.count)
    }
}

