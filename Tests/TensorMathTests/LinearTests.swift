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

    /// The epilogues on tiles in registers: the residual with a per-output scale, and GELU keeping its input;
    /// with more inputs than one block (1536 = 4 x 384) they must apply once, after the last block.
    @Test(arguments: [(13, 70, 33), (30, 96, 1536)])
    func epiloguesMatchTheirPasses(rows: Int, outputs: Int, inputs: Int) {
        let w = LinearWeight(FloatBuffer(Self.values(outputs * inputs, seed: 1).map { $0 / 8 }), outputs: outputs, inputs: inputs)
        let x = Self.values(rows * inputs, seed: 2), bias = Self.values(outputs, seed: 3)
        var plain = [Float](repeating: 0, count: rows * outputs)
        w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &plain, ldOut: outputs)

        // Residual rows at a stride other than the output's, as the block's CLS-only projection has them.
        let ld = outputs + 5
        let residual = Self.values(rows * ld, seed: 4), scale = Self.values(outputs, seed: 5)
        var sum = [Float](repeating: 0, count: rows * outputs)
        residual.withUnsafeBufferPointer { res in
            scale.withUnsafeBufferPointer { sc in
                w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &sum, ldOut: outputs,
                        epilogue: .residual(res.baseAddress!, ld: ld, scale: sc.baseAddress!))
            }
        }
        var pre = [Float](repeating: .nan, count: rows * outputs), act = [Float](repeating: 0, count: rows * outputs)
        pre.withUnsafeMutableBufferPointer { p in
            w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &act, ldOut: outputs,
                    epilogue: .gelu(pre: p.baseAddress!, ld: outputs))
        }
        var gelu = plain
        geluForward(&gelu, count: gelu.count)
        var worstSum: Float = 0, worstPre: Float = 0, worstAct: Float = 0
        for r in 0..<rows {
            for j in 0..<outputs {
                let i = r * outputs + j
                worstSum = max(worstSum, abs(sum[i] - (residual[r * ld + j] + scale[j] * plain[i])))
                worstPre = max(worstPre, abs(pre[i] - plain[i]))
                worstAct = max(worstAct, abs(act[i] - gelu[i]))
            }
        }
        #expect(worstSum < 1e-5, "residual epilogue: max difference \(worstSum)")
        #expect(worstPre == 0, "GELU epilogue's stored input: max difference \(worstPre)")
        #expect(worstAct < 1e-6, "GELU epilogue: max difference \(worstAct) from the GELU pass")
    }
}
