// GELU with erf (Hendrycks & Gimpel 2016), the exact form DINOv2 and ViT use.

import CKernels

/// out = 0.5 x (1 + erf(x / sqrt 2)) over `count` floats (`out` may be `x`); in CKernels' 16-lane loop (the
/// same formula) on AVX-512 CPUs.
public func geluForward(_ x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
    if CPU.avx512, cdam_gelu(x, out, count) == 0 { return }
    for i in 0..<count {
        let v = x[i]
        out[i] = 0.5 * v * (1 + fastErf(v * 0.707_106_78))
    }
}

/// x = 0.5 x (1 + erf(x / sqrt 2)), in place.
public func geluForward(_ x: UnsafeMutablePointer<Float>, count: Int) {
    geluForward(UnsafePointer(x), out: x, count: count)
}

/// dInput = dOut * GELU'(input), where `input` is the pre-activation.
public func geluBackward(_ input: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                         dInput: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        let v = input[i]
        let cdf = 0.5 * (1 + fastErf(v * 0.707_106_78))
        let pdf = fastExp(-0.5 * v * v) * 0.398_942_28
        dInput[i] = dOut[i] * (cdf + v * pdf)
    }
}
