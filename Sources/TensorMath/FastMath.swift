// Vectorizable exp and erf for the elementwise kernels (softmax, GELU).
//
// glibc's expf/erff are scalar calls; at 257 tokens x 1536 features x 12 blocks they would
// cost as much as the matrix products. These are branch-free so LLVM vectorizes the loops.

/// e^x for x in float range, relative error below 1e-7 (Cody-Waite reduction, degree-7 Taylor).
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87.0), 88.0)
    // Round to nearest by adding and subtracting 1.5 * 2^23: a libm rintf call would stop vectorization.
    let n = (x * 1.442_695_04 + 12_582_912) - 12_582_912
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6   // ln 2 split in two for exactness
    var p: Float = 1.0 / 5040
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let scale = Float(bitPattern: UInt32(bitPattern: Int32(n) + 127) << 23)
    return p * scale
}

/// erf(x), absolute error below 6e-7 (Abramowitz & Stegun 7.1.26 with `fastExp`).
@inline(__always)
public func fastErf(_ x: Float) -> Float {
    let a = abs(x)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p: Float = 1.061_405_429
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * fastExp(-a * a)
    return x < 0 ? -y : y
}
