import Foundation
import Testing
import TensorMath

/// Each elementwise kernel's backward against central finite differences of a Double reference.
struct KernelTests {
    static func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in Float(sin(Double(i * 7 + seed) * 1.3) * 2) }
    }

    @Test func fastExpIsAccurate() {
        var worst: Float = 0
        for i in 0..<20_000 {
            let x = Float(i) / 20_000 * 170 - 85
            worst = max(worst, abs(fastExp(x) - expf(x)) / expf(x))
        }
        #expect(worst < 5e-7)
    }

    @Test func fastErfIsAccurate() {
        var worst: Float = 0
        for i in 0..<20_000 {
            let x = Float(i) / 20_000 * 12 - 6
            worst = max(worst, abs(fastErf(x) - erff(x)))
        }
        #expect(worst < 6e-7)
    }

    /// Through whichever loop this CPU runs (16 lanes with AVX-512, 8 otherwise), with a partial last vector.
    @Test func geluForwardMatchesErf() {
        let n = 1001
        let x = (0..<n).map { Float($0) / Float(n - 1) * 40 - 20 }
        var y = [Float](repeating: .nan, count: n)
        geluForward(x, out: &y, count: n)
        var worst = 0.0
        for i in 0..<n {
            let v = Double(x[i]), exact = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            worst = max(worst, abs(Double(y[i]) - exact) / max(1, abs(v)))
        }
        #expect(worst < 1e-6, "GELU: max error \(worst)")
    }

    /// Through whichever loop this CPU runs, at the model's width and at one that ends in a partial vector,
    /// with a row offset far from zero (the centred pass must not lose it).
    @Test(arguments: [384, 70])
    func layerNormForwardMatchesDouble(width d: Int) {
        let rows = 5
        let x = Self.values(rows * d, seed: 4).enumerated().map { $0.element + ($0.offset / d == 2 ? 300 : 0) }
        let w = Self.values(d, seed: 5), b = Self.values(d, seed: 6)
        var out = [Float](repeating: .nan, count: rows * d), mean = [Float](repeating: 0, count: rows)
        var rstd = [Float](repeating: 0, count: rows)
        layerNormForward(x, rows: rows, width: d, weight: w, bias: b, eps: 1e-6, out: &out, mean: &mean, rstd: &rstd)
        var worst = 0.0
        for r in 0..<rows {
            let row = x[(r * d)..<((r + 1) * d)].map(Double.init)
            let m = row.reduce(0, +) / Double(d)
            let rs = 1 / (row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(d) + 1e-6).squareRoot()
            for j in 0..<d { worst = max(worst, abs(Double(out[r * d + j]) - ((row[j] - m) * rs * Double(w[j]) + Double(b[j])))) }
            #expect(abs(Double(mean[r]) - m) < 1e-4 && abs(Double(rstd[r]) - rs) / rs < 1e-5)
        }
        #expect(worst < 2e-4, "LayerNorm width \(d): max difference \(worst)")
    }

    @Test func layerNormBackwardMatchesFiniteDifferences() {
        let rows = 3, d = 7
        let x = Self.values(rows * d, seed: 1), w = Self.values(d, seed: 2), b = Self.values(d, seed: 3)
        let dOut = Self.values(rows * d, seed: 4)
        var out = [Float](repeating: 0, count: rows * d), mean = [Float](repeating: 0, count: rows), rstd = mean
        layerNormForward(x, rows: rows, width: d, weight: w, bias: b, eps: 1e-6, out: &out, mean: &mean, rstd: &rstd)
        var dx = [Float](repeating: 0, count: rows * d)
        layerNormBackward(x, rows: rows, width: d, weight: w, mean: mean, rstd: rstd, dOut: dOut, dInput: &dx)
        func loss(_ x: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                let row = Array(x[(r * d)..<((r + 1) * d)])
                let m = row.reduce(0, +) / Double(d)
                let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(d)
                for j in 0..<d { total += ((row[j] - m) / (v + 1e-6).squareRoot() * Double(w[j]) + Double(b[j])) * Double(dOut[r * d + j]) }
            }
            return total
        }
        let xd = x.map(Double.init)
        for i in 0..<(rows * d) {
            var p = xd, m = xd
            p[i] += 1e-6; m[i] -= 1e-6
            let fd = (loss(p) - loss(m)) / 2e-6
            #expect(abs(fd - Double(dx[i])) < 1e-4 * max(1, abs(fd)))
        }
    }

    @Test func geluBackwardMatchesFiniteDifferences() {
        let x = Self.values(50, seed: 5), dOut = Self.values(50, seed: 6)
        var dx = [Float](repeating: 0, count: 50)
        geluBackward(x, dOut: dOut, dInput: &dx, count: 50)
        for i in 0..<50 {
            let g = { (v: Double) in 0.5 * v * (1 + erf(v / 2.0.squareRoot())) }
            let fd = (g(Double(x[i]) + 1e-6) - g(Double(x[i]) - 1e-6)) / 2e-6 * Double(dOut[i])
            #expect(abs(fd - Double(dx[i])) < 1e-5 * max(1, abs(fd)))
        }
        var y = x
        geluForward(&y, count: 50)
        for i in 0..<50 { #expect(abs(Double(y[i]) - 0.5 * Double(x[i]) * (1 + erf(Double(x[i]) / 2.0.squareRoot()))) < 1e-6) }
    }

    @Test func softmaxBackwardMatchesFiniteDifferences() {
        let n = 9
        let s = Self.values(n, seed: 8), dP = Self.values(n, seed: 9)
        var p = s
        softmaxForward(&p, rows: 1, n: n, stride: n)
        var ds = [Float](repeating: 0, count: n)
        softmaxBackward(p, dProbs: dP, dScores: &ds, rows: 1, n: n, stride: n)
        func loss(_ s: [Double]) -> Double {
            let mx = s.max()!
            let e = s.map { exp($0 - mx) }
            let z = e.reduce(0, +)
            return zip(e, dP).map { $0 / z * Double($1) }.reduce(0, +)
        }
        let sd = s.map(Double.init)
        for i in 0..<n {
            var a = sd, b = sd
            a[i] += 1e-6; b[i] -= 1e-6
            #expect(abs((loss(a) - loss(b)) / 2e-6 - Double(ds[i])) < 1e-5)
        }
    }

    @Test func reductionsMatchScalarLoops() {
        for n in 1...70 {
            let x = Self.values(n, seed: n), y = Self.values(n, seed: 2 * n)
            #expect(simdMax(x, n) == x.max()!, "max over \(n)")
            #expect(abs(simdSum(x, n) - x.reduce(0, +)) < 1e-4, "sum over \(n)")
            #expect(abs(simdDot(x, y, n) - zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }) < 1e-4, "dot over \(n)")
        }
    }

    /// Denormal floats cost a microcode assist in every multiply they enter (about 100x); softmax rows of
    /// peaked attention used to leave them in the probabilities, and P v ran 2-3x slower at 448x448.
    @Test func softmaxAndExpLeaveNoDenormals() {
        #expect(fastExp(-200) >= Float.leastNormalMagnitude)
        #expect(fastExp(-86.5) >= Float.leastNormalMagnitude)
        let n = 300
        var row = (0..<n).map { -Float($0) * 3 }         // e^0 down to e^-897
        softmaxForward(&row, rows: 1, n: n, stride: n)
        #expect(row.allSatisfy { $0 == 0 || $0 >= Float.leastNormalMagnitude })
        let exact = (0..<n).map { exp(-Double($0) * 3) }, total = exact.reduce(0, +)
        for j in 0..<n { #expect(abs(Double(row[j]) - exact[j] / total) < 1e-7) }
        #expect(abs(row.reduce(0, +) - 1) < 1e-6)
    }

    @Test func gemmMatchesNaiveProduct() {
        let m = 5, n = 4, k = 3
        let a = Self.values(m * k, seed: 1), b = Self.values(n * k, seed: 2)
        var c = [Float](repeating: 0, count: m * n)
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
        for i in 0..<m { for j in 0..<n {
            let ref = (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * b[j * k + $1] }
            #expect(abs(c[i * n + j] - ref) < 1e-5)
        } }
    }
}
