// Attention without its N x N probability matrix, for the blocks whose probabilities no map reads.
//
// The kernel (Sources/CKernels/attention.c) runs on CPUs with AVX-512 and 64-wide heads (every DINOv2
// and ViT size from S up); elsewhere callers take the BLAS route: two products around a softmax.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

public enum FusedAttention {
    /// Whether the fused kernel runs on this CPU; CDAM_FUSED_ATTENTION=0 turns it off (for comparisons).
    public static let available: Bool = {
        if let flag = getenv("CDAM_FUSED_ATTENTION"), String(cString: flag) == "0" { return false }
        return CPU.avx512
    }()

    /// Whether the kernel runs for heads `headSize` wide on this CPU.
    public static func runs(headSize: Int) -> Bool { available && headSize == 64 }

    /// o[r] = softmax(scale * q[r] k^T) v for `rows` query rows over `keys` keys, one head of width `headSize`.
    /// q, k, v rows at stride `ld`, o rows at stride `ldOut`. Returns false, having written nothing, when the
    /// kernel cannot run (no AVX-512, a head width other than 64, no memory for its scratch).
    public static func run(rows: Int, keys: Int, headSize: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                           v: UnsafePointer<Float>, ld: Int, scale: Float,
                           out: UnsafeMutablePointer<Float>, ldOut: Int) -> Bool {
        guard runs(headSize: headSize) else { return false }
        return cdam_attention64(Int32(rows), Int32(keys), q, k, v, Int32(ld), scale, out, Int32(ldOut)) == 0
    }
}
