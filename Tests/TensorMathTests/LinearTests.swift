import Foundation
import Testing
import TensorMath

/// y = x W^T + b through LinearWeight (the packed AVX-512 kernel where the CPU has it, OpenBLAS elsewhere)
/// against a Double loop, at shapes that leave partial panels (32 outputs), input blocks (384) and row
/// blocks (12 and 264), and for column ranges.
struct LinearTests {
    static func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in Float(sin(Double(i * 13 + seed) * 0.71)) }
    }

    @Test(arguments: [(1, 70, 5), (13, 64, 400), (300, 96, 33), (7, 1152, 384)])
    func matchesALoop(rows: Int, outputs: Int, inputs: Int) {
        let w = LinearWeight(FloatBuffer(Self.values(outputs * inputs, seed: 1)), outputs: outputs, inputs: inputs)
        let x = Self.values(rows * inputs, seed: 2), bias = Self.values(outputs, seed: 3)
        let ranges: [Range<Int>?] = [nil, 32..<64, (outputs / 32 * 32)..<outputs]
        for columns in ranges where columns.map({ !$0.isEmpty && $0.upperBound <= outputs }) ?? true {
            var out = [Float](repeating: .nan, count: rows * outputs)
            w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &out, ldOut: outputs, columns: columns)
            let cols = columns ?? 0..<outputs
            var worst = 0.0
            for r in 0..<rows {
                for j in 0..<outputs {
                    if !cols.contains(j) { #expect(out[r * outputs + j].isNaN, "column \(j) outside \(cols) was written"); continue }
                    var ref = Double(bias[j])
                    for i in 0..<inputs { ref += Double(x[r * inputs + i]) * Double(w.weight[j * inputs + i]) }
                    worst = max(worst, abs(ref - Double(out[r * outputs + j])))
                }
            }
            // Float sums of `inputs` products of magnitude <= 1: allow 1e-6 per term.
            #expect(worst < 1e-6 * Double(inputs + 1), "\(rows)x\(outputs)x\(inputs) columns \(cols): max difference \(worst)")
        }
    }
}
