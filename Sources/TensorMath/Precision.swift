// The arithmetic of the linear layers' products: fp32, or bf16 products with fp32 sums (AVX512-BF16).
//
// bf16 keeps fp32's range with an 8-bit mantissa: each operand of a product is rounded to ~3 significant
// digits, the sums stay in fp32. Whether it is faster depends on the CPU: VDPBF16PS does twice the
// multiply-adds of an fp32 FMA per instruction, but some cores issue it at a quarter of the FMA's rate
// (measured on Xeon "Emerald Rapids", model 207: 2 cycles per instruction against 0.5), where it is half as
// fast. So `auto` measures the two instructions' peaks once and takes bf16 only where it pays.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// The precision of the linear layers' products in a forward pass.
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// Single precision throughout.
    case fp32
    /// bf16 operands, fp32 sums (CKernels' VDPBF16PS kernel); only where `Precision.bf16Available`.
    case bf16
}

/// What a user asked for: a precision, or `auto` (bf16 for multi-pass work where it pays, fp32 otherwise).
public enum PrecisionChoice: String, Sendable, CaseIterable, Codable {
    case fp32, bf16, auto
}

extension Precision {
    /// Whether this CPU runs the bf16 kernel (AVX512-BF16, BW, VL); CDAM_LINEAR=blas turns it off with the
    /// fp32 kernel.
    public static let bf16Available: Bool = {
        if let choice = getenv("CDAM_LINEAR").map({ String(cString: $0) }), choice == "blas" { return false }
        return cdam_bf16_available() != 0
    }()

    /// The two instructions' peaks on one core, measured once (about 15 ms), when `auto` first needs them:
    /// coarse, but the threshold is far from both kinds of CPU (2x where VDPBF16PS runs at full rate, 0.5x
    /// where it does not).
    public static let measuredPeaks: InstructionPeaks = InstructionPeaks.measure(milliseconds: 3, rounds: 1)

    /// Whether bf16 is worth taking for work that can tolerate it: available, and its instruction's peak
    /// at least 1.3 times the fp32 FMA's on this CPU.
    public static var bf16Pays: Bool {
        guard bf16Available else { return false }
        let p = measuredPeaks
        return p.bf16 >= 1.3 * p.fp32
    }

    /// The choice in CDAM_PRECISION (fp32, bf16 or auto), nil when unset.
    /// - Throws: `PrecisionError` naming the variable when it holds anything else.
    public static func environmentChoice() throws -> PrecisionChoice? {
        guard let raw = getenv("CDAM_PRECISION").map({ String(cString: $0) }), !raw.isEmpty else { return nil }
        guard let choice = PrecisionChoice(rawValue: raw.lowercased()) else {
            throw PrecisionError("CDAM_PRECISION=\(raw): expected fp32, bf16 or auto")
        }
        return choice
    }

    /// The precision for a choice: `auto` is bf16 for multi-pass work (`multiPass`: indexing, embedding
    /// collections, TAM, averaged maps, faithfulness) when bf16 pays on this CPU, fp32 otherwise.
    /// - Throws: `PrecisionError` when bf16 is asked for on a CPU without AVX512-BF16.
    public static func resolve(_ choice: PrecisionChoice, multiPass: Bool) throws -> Precision {
        switch choice {
        case .fp32: return .fp32
        case .bf16:
            guard bf16Available else {
                throw PrecisionError("bf16 needs a CPU with AVX512-BF16, which this one lacks: use --precision fp32 or auto")
            }
            return .bf16
        case .auto: return multiPass && bf16Pays ? .bf16 : .fp32
        }
    }
}

/// A precision that cannot be had: the message says why and what to use instead.
public struct PrecisionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The peak rates of VDPBF16PS and fp32 FMA on one core (GFLOP/s, a multiply-add counting 2), from 24
/// independent chains on registers: the ceilings of the bf16 and fp32 linear kernels.
public struct InstructionPeaks: Sendable, Codable {
    /// GFLOP/s of VDPBF16PS (0 where the CPU lacks it) and of fp32 FMA (0 without AVX-512).
    public var bf16: Double, fp32: Double

    public init(bf16: Double, fp32: Double) { self.bf16 = bf16; self.fp32 = fp32 }

    /// Runs each loop for about `milliseconds` (after a short calibration run), the two in turn `rounds`
    /// times, and keeps each one's best rate.
    public static func measure(milliseconds: Double, rounds: Int = 3) -> InstructionPeaks {
        func rate(_ loop: (Int) -> Double) -> Double {
            // Calibrate on a short run, then time one of the requested length.
            var iterations = 20_000
            var best = 0.0
            for _ in 0..<2 {
                let start = monotonicSeconds()
                let flops = loop(iterations)
                let seconds = monotonicSeconds() - start
                guard flops > 0, seconds > 0 else { return 0 }
                best = max(best, flops / seconds / 1e9)
                iterations = max(1000, Int(Double(iterations) * milliseconds / 1000 / seconds))
            }
            return best
        }
        var peaks = InstructionPeaks(bf16: 0, fp32: 0)
        for _ in 0..<max(1, rounds) {
            peaks.bf16 = max(peaks.bf16, rate { cdam_bf16_peak_loop($0) })
            peaks.fp32 = max(peaks.fp32, rate { cdam_fp32_peak_loop($0) })
        }
        return peaks
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
