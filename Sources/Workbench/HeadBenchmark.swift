import Concepts
import Foundation

extension Benchmarks {
    /// Training a linear head, embedding excluded: the softmax regression's fit on `images` synthetic
    /// embeddings of `classes` classes (width 384, clustered as CLS embeddings are), and the 5-fold
    /// cross-validation `head train` runs after it. Median of `repeats`.
    public static func heads(images: Int = 500, classes: Int = 10, width: Int = 384, repeats: Int = 5) -> [BenchmarkFigure] {
        var rng = SplitMixBench(seed: 13)
        let means = (0..<classes).map { _ in (0..<width).map { _ in rng.gaussian() } }
        var rows = [Double](), labels = [Int]()
        for i in 0..<images {
            let c = i % classes
            labels.append(c)
            rows += (0..<width).map { means[c][$0] + 2.5 * rng.gaussian() }
        }
        let names = (0..<classes).map { "c\($0)" }
        var fits: [Double] = [], folds: [Double] = []
        var last: SoftmaxRegression? = nil
        let clock = ContinuousClock()
        for _ in 0..<max(1, repeats) {
            var start = clock.now
            last = SoftmaxRegression.fit(rows: rows, width: width, labels: labels, classes: classes)
            fits.append(seconds(clock.now - start) * 1000)
            start = clock.now
            _ = HeadEvaluation.crossValidate(rows: rows, width: width, labels: labels, names: names, folds: 5, options: .init())
            folds.append(seconds(clock.now - start) * 1000)
        }
        let detail = "\(images) embeddings x \(classes) classes, width \(width), C 1: \(last?.iterations ?? 0) L-BFGS iterations"
        return [
            BenchmarkFigure(name: "head fit (\(images) x \(classes) classes)", milliseconds: median(fits), unit: "head",
                            gflops: nil, detail: detail, best: fits.min()),
            BenchmarkFigure(name: "head 5-fold cross-validation", milliseconds: median(folds), unit: "head",
                            gflops: nil, detail: "5 fits on 4/5 of the data", best: folds.min()),
        ]
    }
}

/// A seeded generator with Gaussian draws (Box-Muller), for reproducible synthetic embeddings.
struct SplitMixBench {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func gaussian() -> Double {
        let u1 = (Double(next() >> 11) + 1) / 9007199254740993, u2 = Double(next() >> 11) / 9007199254740992
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
