import Foundation
import Testing
import TensorMath

/// The bf16 kernel (bf16 operands, fp32 sums) against the fp32 route on the same random data: every output
/// within the bound that rounding each operand to bf16 allows, and the epilogues as in fp32. Skipped, with
/// the reason, on CPUs without AVX512-BF16 (there `precision: .bf16` falls back to fp32, checked below).
struct BF16LinearTests {
    static func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E3779B97F4A7C15 | 1
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }

    /// bf16 keeps 8 significant bits: each operand is off by at most 2^-9 of itself, a product by ~2^-8.
    @Test(.enabled(if: Precision.bf16Available, "this CPU lacks AVX512-BF16: the bf16 kernel cannot run here"),
          arguments: [(1, 70, 5), (13, 64, 400), (300, 96, 33), (7, 1152, 384), (264, 384, 1536), (25, 100, 769)])
    func matchesFP32WithinBF16Rounding(rows: Int, outputs: Int, inputs: Int) {
        let wv = Self.random(outputs * inputs, seed: 1), x = Self.random(rows * inputs, seed: 2)
        let bias = Self.random(outputs, seed: 3)
        let w = LinearWeight(FloatBuffer(wv), outputs: outputs, inputs: inputs)
        var fp32 = [Float](repeating: .nan, count: rows * outputs), bf16 = fp32
        w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &fp32, ldOut: outputs)
        w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &bf16, ldOut: outputs, precision: .bf16)
        var worstRatio = 0.0, squared = 0.0, norm = 0.0, changed = 0
        for r in 0..<rows {
            for j in 0..<outputs {
                var magnitude = 0.0
                for i in 0..<inputs { magnitude += abs(Double(x[r * inputs + i]) * Double(wv[j * inputs + i])) }
                let diff = abs(Double(bf16[r * outputs + j]) - Double(fp32[r * outputs + j]))
                worstRatio = max(worstRatio, diff / (magnitude * 0x1p-8 + 1e-5))
                squared += diff * diff; norm += Double(fp32[r * outputs + j]) * Double(fp32[r * outputs + j])
                if diff > 0 { changed += 1 }
            }
        }
        let relative = (squared / norm).squareRoot()
        #expect(worstRatio <= 1, "\(rows)x\(outputs)x\(inputs): an output is off by \(worstRatio) times the bf16 bound")
        // Random signs: the errors partly cancel, ~2^-9 of the result overall; and bf16 really ran.
        #expect(relative < 4e-3, "\(rows)x\(outputs)x\(inputs): relative error \(relative)")
        #expect(inputs < 8 || changed > 0, "\(rows)x\(outputs)x\(inputs): no output differs from fp32: did bf16 run?")
        print("bf16 \(rows)x\(outputs)x\(inputs): relative error \(String(format: "%.2e", relative)), worst \(String(format: "%.2f", worstRatio)) of the bound")
    }

    /// The residual and GELU epilogues on bf16 tiles equal the bf16 product followed by their passes, also
    /// over inputs spanning several blocks (1536 = 2 x 768), and column ranges leave the rest untouched.
    @Test(.enabled(if: Precision.bf16Available, "this CPU lacks AVX512-BF16: the bf16 kernel cannot run here"))
    func epiloguesAndColumns() {
        let rows = 30, outputs = 96, inputs = 1536
        let w = LinearWeight(FloatBuffer(Self.random(outputs * inputs, seed: 4).map { $0 / 16 }), outputs: outputs, inputs: inputs)
        let x = Self.random(rows * inputs, seed: 5), bias = Self.random(outputs, seed: 6)
        let residual = Self.random(rows * outputs, seed: 7), scale = Self.random(outputs, seed: 8)
        var plain = [Float](repeating: 0, count: rows * outputs), sum = plain, act = plain
        w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &plain, ldOut: outputs, precision: .bf16)
        residual.withUnsafeBufferPointer { res in
            scale.withUnsafeBufferPointer { sc in
                w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &sum, ldOut: outputs,
                        epilogue: .residual(res.baseAddress!, ld: outputs, scale: sc.baseAddress!), precision: .bf16)
            }
        }
        w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &act, ldOut: outputs, epilogue: .gelu(pre: nil, ld: 0),
                precision: .bf16)
        var gelu = plain
        geluForward(&gelu, count: gelu.count)
        var worstSum: Float = 0, worstAct: Float = 0
        for i in 0..<(rows * outputs) {
            worstSum = max(worstSum, abs(sum[i] - (residual[i] + scale[i % outputs] * plain[i])))
            worstAct = max(worstAct, abs(act[i] - gelu[i]))
        }
        #expect(worstSum < 1e-5, "bf16 residual epilogue: max difference \(worstSum)")
        #expect(worstAct < 1e-6, "bf16 GELU epilogue: max difference \(worstAct)")

        var part = [Float](repeating: .nan, count: rows * outputs)
        w.apply(rows: rows, x: x, ldx: inputs, bias: bias, out: &part, ldOut: outputs, columns: 32..<64, precision: .bf16)
        for r in 0..<rows {
            for j in 0..<outputs {
                if (32..<64).contains(j) { #expect(part[r * outputs + j] == plain[r * outputs + j]) }
                else { #expect(part[r * outputs + j].isNaN, "column \(j) outside 32..<64 was written") }
            }
        }
    }

    /// Where the kernel cannot run, bf16 falls back to the fp32 route: the same numbers, not an error.
    @Test(.enabled(if: !Precision.bf16Available, "this CPU runs the bf16 kernel: the fallback is not taken here"))
    func fallsBackToFP32() {
        let w = LinearWeight(FloatBuffer(Self.random(64 * 48, seed: 9)), outputs: 64, inputs: 48)
        let x = Self.random(5 * 48, seed: 10)
        var a = [Float](repeating: 0, count: 5 * 64), b = a
        w.apply(rows: 5, x: x, ldx: 48, bias: nil, out: &a, ldOut: 64)
        w.apply(rows: 5, x: x, ldx: 48, bias: nil, out: &b, ldOut: 64, precision: .bf16)
        #expect(a == b)
    }

    /// The peak loops run and report a rate where the instructions exist.
    @Test func peaksAreMeasured() {
        let p = InstructionPeaks.measure(milliseconds: 2)
        if Precision.bf16Available { #expect(p.bf16 > 1, "VDPBF16PS peak \(p.bf16) GFLOP/s") }
        print("peaks on one core: VDPBF16PS \(p.bf16) GFLOP/s, fp32 FMA \(p.fp32) GFLOP/s")
    }
}
