// The linear layers' precision as the commands choose it: --precision, else CDAM_PRECISION, else auto.

import TensorMath

public typealias Precision = TensorMath.Precision
public typealias PrecisionChoice = TensorMath.PrecisionChoice
public typealias InstructionPeaks = TensorMath.InstructionPeaks

/// Reads and resolves the precision a command runs the model at (README, bf16).
public enum PrecisionSetting {
    /// The choice from `--precision` when given, else from CDAM_PRECISION, else auto.
    /// - Throws: `WorkbenchError.usage` naming the option or variable when it is not fp32, bf16 or auto.
    public static func choice(flag: String?) throws -> PrecisionChoice {
        if let flag {
            guard let c = PrecisionChoice(rawValue: flag.lowercased()) else {
                throw WorkbenchError.usage("--precision \(flag): expected fp32, bf16 or auto")
            }
            return c
        }
        do { return try Precision.environmentChoice() ?? .auto } catch let error as PrecisionError {
            throw WorkbenchError.usage(error.description)
        }
    }

    /// The precision for `choice`: auto is bf16 for multi-pass work (embedding collections, TAM, averaged
    /// maps, faithfulness) where this CPU runs bf16 faster than fp32, else fp32.
    /// - Throws: `WorkbenchError.usage` when bf16 is asked for on a CPU without AVX512-BF16.
    public static func resolve(_ choice: PrecisionChoice, multiPass: Bool) throws -> Precision {
        do { return try Precision.resolve(choice, multiPass: multiPass) } catch let error as PrecisionError {
            throw WorkbenchError.usage(error.description)
        }
    }

    /// Whether this CPU runs the bf16 kernel at all.
    public static var bf16Available: Bool { Precision.bf16Available }
}
