// How well a linear head separates its classes: stratified k-fold cross-validation of the softmax
// regression (each image is predicted by a head that never saw it), with accuracy, per-class
// precision and recall and the confusion matrix.
//
// Letters: N rows, D width, K classes.

import Foundation

/// The figures of a head's evaluation.
public struct HeadEvaluation: Codable, Sendable, Equatable {
    /// The class names, in the order of the matrix's rows and columns.
    public var labels: [String]
    /// Folds used (each image is held out once).
    public var folds: Int
    /// Images evaluated.
    public var count: Int
    /// Fraction of held-out images whose predicted class is their label.
    public var accuracy: Double
    /// Accuracy of always predicting the most frequent class, for scale.
    public var majorityBaseline: Double
    /// Per class: precision (nil when the class was never predicted), recall and support.
    public var perClass: [ClassFigures]
    /// confusion[true][predicted], counts.
    public var confusion: [[Int]]

    /// One class's figures.
    public struct ClassFigures: Codable, Sendable, Equatable {
        public var label: String
        public var precision: Double?
        public var recall: Double
        public var support: Int
    }

    /// Stratified k-fold cross-validation: class by class, the images (in the given order, after a
    /// deterministic shuffle by `seed`) are dealt to the folds in turn; each fold is predicted by a head
    /// trained on the others with `options`.
    /// - Precondition: rows.count == labels.count * width; every class has at least 2 images; folds >= 2.
    public static func crossValidate(rows: [Double], width: Int, labels: [Int], names: [String], folds requested: Int,
                                     options: SoftmaxRegression.Options, seed: UInt64 = 0) -> HeadEvaluation {
        let k = names.count, n = labels.count
        let smallest = (0..<k).map { c in labels.filter { $0 == c }.count }.min() ?? 0
        let folds = max(2, min(requested, smallest))
        var fold = [Int](repeating: 0, count: n)
        var rng = SplitMix64(seed: seed)
        for c in 0..<k {
            var members = (0..<n).filter { labels[$0] == c }
            for i in stride(from: members.count - 1, to: 0, by: -1) { members.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            for (j, i) in members.enumerated() { fold[i] = j % folds }
        }
        var predicted = [Int](repeating: 0, count: n)
        for f in 0..<folds {
            let train = (0..<n).filter { fold[$0] != f }, test = (0..<n).filter { fold[$0] == f }
            var x = [Double](); x.reserveCapacity(train.count * width)
            for i in train { x += rows[(i * width)..<((i + 1) * width)] }
            // A class missing from this fold's training set still keeps its row (its logit only falls).
            let model = SoftmaxRegression.fit(rows: x, width: width, labels: train.map { labels[$0] }, classes: k, options: options)
            for i in test {
                let e = rows[(i * width)..<((i + 1) * width)].map { Float($0) }
                let logits = model.logits(e)
                predicted[i] = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            }
        }
        return summary(truth: labels, predicted: predicted, names: names, folds: folds)
    }

    /// The figures of predictions against the truth.
    public static func summary(truth: [Int], predicted: [Int], names: [String], folds: Int) -> HeadEvaluation {
        let k = names.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (t, p) in zip(truth, predicted) { confusion[t][p] += 1 }
        let correct = (0..<k).reduce(0) { $0 + confusion[$1][$1] }
        let n = truth.count
        let perClass = (0..<k).map { c -> ClassFigures in
            let support = confusion[c].reduce(0, +)
            let predictedAs = (0..<k).reduce(0) { $0 + confusion[$1][c] }
            return ClassFigures(label: names[c], precision: predictedAs == 0 ? nil : Double(confusion[c][c]) / Double(predictedAs),
                                recall: support == 0 ? 0 : Double(confusion[c][c]) / Double(support), support: support)
        }
        let majority = perClass.map(\.support).max() ?? 0
        return HeadEvaluation(labels: names, folds: folds, count: n, accuracy: n == 0 ? 0 : Double(correct) / Double(n),
                              majorityBaseline: n == 0 ? 0 : Double(majority) / Double(n), perClass: perClass, confusion: confusion)
    }
}

