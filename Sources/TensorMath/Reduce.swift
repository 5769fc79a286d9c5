// Sum and max over a run of floats with explicit SIMD: without fast-math the compiler keeps a
// floating-point reduction in order, one element at a time.

/// Sum of x[0..<n], eight lanes at a time.
@inline(__always)
public func simdSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i + 8 <= n {
        acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += x[i]; i += 1 }
    return s
}

/// Maximum of x[0..<n] (n > 0), four 8-lane accumulators so consecutive comparisons do not wait on each other.
@inline(__always)
public func simdMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0
    var m = -Float.infinity
    if n >= 32 {
        let raw = UnsafeRawPointer(x)
        var acc0 = raw.loadUnaligned(as: SIMD8<Float>.self), acc1 = acc0, acc2 = acc0, acc3 = acc0
        while i + 32 <= n {
            let v0 = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let v1 = raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
            let v2 = raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD8<Float>.self)
            let v3 = raw.loadUnaligned(fromByteOffset: (i + 24) * 4, as: SIMD8<Float>.self)
            acc0.replace(with: v0, where: v0 .> acc0)
            acc1.replace(with: v1, where: v1 .> acc1)
            acc2.replace(with: v2, where: v2 .> acc2)
            acc3.replace(with: v3, where: v3 .> acc3)
            i += 32
        }
        acc0.replace(with: acc1, where: acc1 .> acc0)
        acc2.replace(with: acc3, where: acc3 .> acc2)
        acc0.replace(with: acc2, where: acc2 .> acc0)
        for lane in 0..<8 { m = max(m, acc0[lane]) }
    }
    while i < n { m = max(m, x[i]); i += 1 }
    return m
}

/// Dot product of x[0..<n] and y[0..<n], two 8-lane accumulators so consecutive multiply-adds do not wait
/// on each other.
@inline(__always)
public func simdDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
    var i = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
    while i + 16 <= n {
        acc0 += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        acc1 += rx.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
        i += 16
    }
    if i + 8 <= n {
        acc0 += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += x[i] * y[i]; i += 1 }
    return s
}
