// Vectorizable exp and erf for the elementwise kernels (softmax, GELU).
//
// glibc's expf/erff are scalar calls; at 257 tokens x 1536 features x 12 blocks they would
// cost as much as the matrix products. These are branch-free so LLVM vectorizes the loops.

/// e^x for x in float range, relative error below 1e-7 (Cody-Waite reduction, degree-7 Taylor).
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    // From -86 up the result is a normal float: under it the last step would make a denormal, which costs
    // every multiply it enters a microcode assist.
    let x = min(max(x, -86.0), 88.0)
    // Round to nearest by adding and subtracting 1.5 * 2^23: a libm rintf call would stop vectorization.
    let n = (x * 1.442_695_04 + 12_582_912) - 12_582_912
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6   // ln 2 split in two for exactness
    // Horner steps as fused multiply-adds: half the instructions of separate multiplies and adds.
    var p: Float = 1.0 / 5040
    p = (1.0 / 720 as Float).addingProduct(p, r)
    p = (1.0 / 120 as Float).addingProduct(p, r)
    p = (1.0 / 24 as Float).addingProduct(p, r)
    p = (1.0 / 6 as Float).addingProduct(p, r)
    p = (0.5 as Float).addingProduct(p, r)
    p = (1 as Float).addingProduct(p, r)
    p = (1 as Float).addingProduct(p, r)
    let scale = Float(bitPattern: UInt32(bitPattern: Int32(n) + 127) << 23)
    return p * scale
}

/// erf(x), absolute error below 6e-7 (Abramowitz & Stegun 7.1.26 with `fastExp`).
@inline(__always)
public func fastErf(_ x: Float) -> Float {
    let a = abs(x)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p: Float = 1.061_405_429
    p = (-1.453_152_027 as Float).addingProduct(p, t)
    p = (1.421_413_741 as Float).addingProduct(p, t)
    p = (-0.284_496_736 as Float).addingProduct(p, t)
    p = (0.254_829_592 as Float).addingProduct(p, t)
    let y = 1 - p * t * fastExp(-a * a)
    return x < 0 ? -y : y
}
