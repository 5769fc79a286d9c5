// Position embeddings resized to the input's patch grid, as PyTorch's
// `interpolate(mode="bicubic", align_corners=False)` does (Keys cubic convolution, a = -0.75,
// half-pixel source coordinates, no antialiasing, edge indices clamped).
//
// Shapes: stored (1 + G0*G0, D); result (1 + gh*gw, D). Row 0 (CLS) is copied unchanged.

import TensorMath

/// Keys' cubic convolution weights for the four taps around a sample at fractional offset t.
@inline(__always)
func cubicWeights(_ t: Float, a: Float = -0.75) -> (Float, Float, Float, Float) {
    func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }          // |x| <= 1
    func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }      // 1 < |x| < 2
    return (far(t + 1), near(t), near(1 - t), far(2 - t))
}

/// Resizes the stored position grid to gh x gw.
public func interpolatePositions(_ stored: FloatBuffer, grid g0: Int, width d: Int, to gh: Int, _ gw: Int) -> FloatBuffer {
    let out = FloatBuffer(count: (1 + gh * gw) * d)
    out.ptr.update(from: stored.ptr, count: d)
    if gh == g0 && gw == g0 {
        (out.ptr + d).update(from: stored.ptr + d, count: g0 * g0 * d)
        return out
    }
    // Separable: resize along x into (g0, gw), then along y into (gh, gw).
    func taps(_ outSize: Int) -> [(index: [Int], weight: [Float])] {
        let scale = Float(g0) / Float(outSize)
        return (0..<outSize).map { o in
            let real = scale * (Float(o) + 0.5) - 0.5
            let i0 = Int(real.rounded(.down))
            let (w0, w1, w2, w3) = cubicWeights(real - Float(i0))
            let idx = (-1...2).map { min(max(i0 + $0, 0), g0 - 1) }
            return (idx, [w0, w1, w2, w3])
        }
    }
    let tx = taps(gw), ty = taps(gh)
    let src = stored.ptr + d
    var rowsX = [Float](repeating: 0, count: g0 * gw * d)
    for y in 0..<g0 {
        for x in 0..<gw {
            let (idx, w) = tx[x]
            for c in 0..<d {
                var s: Float = 0
                for k in 0..<4 { s += w[k] * src[(y * g0 + idx[k]) * d + c] }
                rowsX[(y * gw + x) * d + c] = s
            }
        }
    }
    let dst = out.ptr + d
    for y in 0..<gh {
        let (idx, w) = ty[y]
        for x in 0..<gw {
            for c in 0..<d {
                var s: Float = 0
                for k in 0..<4 { s += w[k] * rowsX[(idx[k] * gw + x) * d + c] }
                dst[(y * gw + x) * d + c] = s
            }
        }
    }
    return out
}
