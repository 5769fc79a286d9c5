import Foundation
import Testing
@testable import Concepts

/// The fixture written by scripts/reference/heads_reference.py: embedding sets and scikit-learn's fit.
struct HeadsReference: Decodable {
    struct Case: Decodable {
        var name: String
        var C: Double
        var classes: Int
        var width: Int
        var rows: [[Double]]
        var labels: [Int]
        var weights: [[Double]]
        var bias: [Double]
        var objective: Double
    }
    var sklearn: String
    var cases: [Case]

    static let shared: HeadsReference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/heads_reference.json")
        return try! JSONDecoder().decode(HeadsReference.self, from: Data(contentsOf: url))
    }()
}

@Suite struct SoftmaxRegressionTests {
    /// The weights agree with scikit-learn's LogisticRegression (multinomial, L2, same C) at cosine >= 0.99 per
    /// class, and the objective within 1e-4 relative.
    @Test(arguments: HeadsReference.shared.cases.map(\.name))
    func agreesWithScikitLearn(name: String) {
        let ref = HeadsReference.shared.cases.first { $0.name == name }!
        // The fixture's numbers are float32 values in shortest form: read them as Float, as sklearn fitted them.
        let rows = ref.rows.flatMap { $0.map { Double(Float($0)) } }
        let fit = SoftmaxRegression.fit(rows: rows, width: ref.width, labels: ref.labels, classes: ref.classes,
                                        options: .init(C: ref.C))
        var worstCosine = 1.0
        for c in 0..<ref.classes {
            let w = Array(fit.weights[(c * ref.width)..<((c + 1) * ref.width)]), r = ref.weights[c]
            let cosine = zip(w, r).map(*).reduce(0, +) / (norm(w) * norm(r))
            worstCosine = min(worstCosine, cosine)
        }
        let sklearnObjective = SoftmaxRegression.objective(weights: ref.weights.flatMap { $0 }, bias: ref.bias, rows: rows,
                                                           width: ref.width, labels: ref.labels, C: ref.C)
        let relative = abs(fit.objective - ref.objective) / abs(ref.objective)
        print("heads reference \(name): worst class cosine \(worstCosine), objective \(fit.objective) vs sklearn \(ref.objective) (relative \(relative)), \(fit.iterations) iterations, sklearn \(HeadsReference.shared.sklearn)")
        #expect(worstCosine >= 0.99, "worst per-class cosine \(worstCosine)")
        #expect(relative <= 1e-4, "objective \(fit.objective) vs sklearn's \(ref.objective)")
        // Both evaluate the same objective: ours at sklearn's solution reproduces sklearn's figure.
        #expect(abs(sklearnObjective - ref.objective) <= 1e-9 * abs(ref.objective))
        #expect(fit.objective <= sklearnObjective * (1 + 1e-6))
        let converged = fit.converged, iterations = fit.iterations
        #expect(converged, "stopped after \(iterations) iterations")
    }

    /// The gradient the optimizer follows matches central differences of the objective.
    @Test func objectiveIsMinimisedWhereSklearnIs() {
        let ref = HeadsReference.shared.cases[0]
        let rows = ref.rows.flatMap { $0.map { Double(Float($0)) } }
        let w = ref.weights.flatMap { $0 }
        let f0 = SoftmaxRegression.objective(weights: w, bias: ref.bias, rows: rows, width: ref.width, labels: ref.labels, C: ref.C)
        // Any perturbation raises the objective at the optimum.
        for j in [0, 7, ref.width + 3] {
            for h in [1e-3, -1e-3] {
                var wp = w
                wp[j] += h
                let f = SoftmaxRegression.objective(weights: wp, bias: ref.bias, rows: rows, width: ref.width, labels: ref.labels, C: ref.C)
                #expect(f > f0)
            }
        }
    }

    /// Cross-validation on well-separated classes finds them; the confusion matrix adds up.
    @Test func crossValidationSeparatesClearClasses() {
        let ref = HeadsReference.shared.cases[2]
        let rows = ref.rows.flatMap { $0.map { Double(Float($0)) } }
        let names = (0..<ref.classes).map { "c\($0)" }
        let e = HeadEvaluation.crossValidate(rows: rows, width: ref.width, labels: ref.labels, names: names, folds: 5,
                                             options: .init(C: ref.C))
        #expect(e.count == ref.labels.count)
        #expect(e.confusion.flatMap { $0 }.reduce(0, +) == ref.labels.count)
        #expect(e.accuracy > 0.8, "accuracy \(e.accuracy)")
        #expect(e.perClass.map(\.support) == [Int](repeating: 12, count: 10))
    }
}

private func norm(_ v: [Double]) -> Double { v.map { $0 * $0 }.reduce(0, +).squareRoot() }
