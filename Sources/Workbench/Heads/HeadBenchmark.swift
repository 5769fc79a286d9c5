import Concepts
import Foundation
import Store

extension Benchmarks {
    /// Training a linear head, embedding excluded: the softmax regression's fit on `images` synthetic
    /// embeddings of `classes` classes (width 384, clustered as CLS embeddings are), and the 5-fold
    /// cross-validation `head train` runs after it. Median of `repeats`.
    /// `cdam bench heads --images DIR` (one sub-folder per class) times `head train` on real embeddings instead.
    public static func heads(images: Int = 500, classes: Int = 10, width: Int = 384, repeats: Int = 5) -> [BenchmarkFigure] {
        var rng = SplitMix64(seed: 13)
        // Like CLS embeddings: a large shared offset and per-dimension scales spread over two orders of magnitude.
        let offset = (0..<width).map { _ in 5 * rng.gaussian() }
        let scales = (0..<width).map { _ in exp(1.2 * rng.gaussian()) }
        let means = (0..<classes).map { _ in (0..<width).map { _ in rng.gaussian() } }
        var rows = [Double](), labels = [Int]()
        for i in 0..<images {
            let c = i % classes
            labels.append(c)
            rows += (0..<width).map { offset[$0] + scales[$0] * (means[c][$0] + 2.5 * rng.gaussian()) }
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

extension Benchmarks {
    /// `head train` on a labelled folder of real photos, embedding excluded: the photos are embedded (and
    /// stored in `database`) by a first run, then a second run (embeddings cached) is timed: its fit alone and
    /// the whole run (hashing the files, reading the embeddings, the fit and the 5-fold cross-validation).
    public static func headTraining(folder: URL, embedder: ImageEmbedder, database: URL) throws -> [BenchmarkFigure] {
        let store = try Store.open(at: database)
        let classes = try HeadTrainingRequest.classes(fromLabelsFolder: folder)
        let request = HeadTrainingRequest(name: "bench", classes: classes)
        _ = try trainHead(request, embedder: embedder, store: store, replace: true)
        let clock = ContinuousClock()
        let start = clock.now
        let summary = try trainHead(request, embedder: embedder, store: store, replace: true)
        let total = seconds(clock.now - start) * 1000
        let n = summary.imagesPerClass.reduce(0, +)
        let detail = "\(n) photos x \(classes.count) classes, \(summary.training?.iterations ?? 0) L-BFGS iterations, 5-fold accuracy \(String(format: "%.3f", summary.evaluation?.accuracy ?? 0))"
        return [
            BenchmarkFigure(name: "head fit, real embeddings", milliseconds: (summary.training?.fitSeconds ?? 0) * 1000, unit: "head",
                            gflops: nil, detail: detail),
            BenchmarkFigure(name: "head train (cached embeddings, with 5-fold CV)", milliseconds: total, unit: "head", gflops: nil, detail: nil),
        ]
    }
}
