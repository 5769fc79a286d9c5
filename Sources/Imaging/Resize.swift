// Bicubic resampling that reproduces Pillow's Image.resize(..., Image.BICUBIC) bit for bit
// (Pillow's libImaging/Resample.c: a = -0.5, support widened by the scale when shrinking,
// separable, 8-bit rounding between the passes, 22-bit fixed point, Pillow 13's pass order).

/// Fixed-point precision Pillow uses for 8-bit images.
private let precisionBits: Int32 = 22

private func bicubic(_ x0: Double) -> Double {
    let a = -0.5
    let x = x0 < 0 ? -x0 : x0
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
}

/// Filter taps for one axis: output index i reads inputs bounds[2i] ..< bounds[2i] + bounds[2i+1]
/// with weights k[i * ksize ..< i * ksize + bounds[2i+1]].
struct ResampleAxis {
    var ksize: Int
    var bounds: [Int]
    var k: [Int32]

    /// The arithmetic follows Pillow's precompute_coeffs and normalize_coeffs_8bpc step by
    /// step, in Double, so the rounded integer weights come out identical.
    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var kk = [Double](repeating: 0, count: outSize * ksize)
        let ss = 1.0 / filterScale
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            var ww = 0.0
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0..<max(xmax, 0) {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                kk[xx * ksize + x] = w
                ww += w
            }
            if ww != 0 {
                for x in 0..<max(xmax, 0) { kk[xx * ksize + x] /= ww }
            }
            bounds[xx * 2] = xmin
            bounds[xx * 2 + 1] = max(xmax, 0)
        }
        let one = Double(Int32(1) << precisionBits)
        self.k = kk.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) }
        self.ksize = ksize
        self.bounds = bounds
    }
}

@inline(__always) private func clip8(_ v: Int32) -> UInt8 {
    let s = v >> precisionBits
    return s < 0 ? 0 : s > 255 ? 255 : UInt8(truncatingIfNeeded: s)
}

/// Which of the two separable passes runs first; the 8-bit rounding between them makes
/// the order visible in the last bit.
public enum ResizePassOrder: Sendable {
    /// Pillow 13 and later: vertical first when the height shrinks by more than twice as
    /// many pixels as the width does, horizontal first otherwise.
    case pillow13
    /// Pillow up to 12 (and the CDAM paper's notebook): always horizontal first.
    case horizontalFirst
}

/// Resizes with Pillow's antialiased bicubic filter; the result equals Pillow's
/// `Image.resize((width, height), Image.BICUBIC)` on the same RGB pixels (Pillow 13's pass
/// order by default).
public func resizeBicubic(_ image: RGBImage, width: Int, height: Int,
                          passOrder: ResizePassOrder = .pillow13) -> RGBImage {
    precondition(width > 0 && height > 0, "resizeBicubic: target \(width) x \(height)")
    if width == image.width && height == image.height { return image }
    // Nothing to sample: Pillow refuses empty images; black keeps callers simple.
    if image.width == 0 || image.height == 0 { return RGBImage(width: width, height: height) }
    let needHorizontal = width != image.width, needVertical = height != image.height
    let shrinkY = image.height - height, shrinkX = image.width - width
    let verticalFirst = passOrder == .pillow13 && shrinkY > 0 && shrinkY > 2 * shrinkX
    let vertical = ResampleAxis(inSize: image.height, outSize: height)
    if verticalFirst {
        let rows = verticalPass(image.pixels, width: image.width, rowOffset: 0, outHeight: height, axis: vertical)
        guard needHorizontal else { return RGBImage(width: width, height: height, pixels: rows) }
        let out = horizontalPass(rows, inWidth: image.width, firstRow: 0, rowCount: height, outWidth: width,
                                 axis: ResampleAxis(inSize: image.width, outSize: width))
        return RGBImage(width: width, height: height, pixels: out)
    }
    // Only the source rows some output row reads go through the horizontal pass.
    let firstRow = vertical.bounds[0]
    let lastRow = vertical.bounds[height * 2 - 2] + vertical.bounds[height * 2 - 1]
    guard needHorizontal else {
        let out = verticalPass(image.pixels, width: image.width, rowOffset: 0, outHeight: height, axis: vertical)
        return RGBImage(width: width, height: height, pixels: out)
    }
    let horizontal = ResampleAxis(inSize: image.width, outSize: width)
    let rows = horizontalPass(image.pixels, inWidth: image.width, firstRow: firstRow,
                              rowCount: lastRow - firstRow, outWidth: width, axis: horizontal)
    guard needVertical else { return RGBImage(width: width, height: height, pixels: rows) }
    let out = verticalPass(rows, width: width, rowOffset: firstRow, outHeight: height, axis: vertical)
    return RGBImage(width: width, height: height, pixels: out)
}

private func horizontalPass(_ src: [UInt8], inWidth: Int, firstRow: Int, rowCount: Int,
                            outWidth: Int, axis: ResampleAxis) -> [UInt8] {
    let half = Int32(1) << (precisionBits - 1)
    let ksize = axis.ksize
    return [UInt8](unsafeUninitializedCapacity: rowCount * outWidth * 3) { dst, n in
        src.withUnsafeBufferPointer { s in
            axis.k.withUnsafeBufferPointer { k in
                axis.bounds.withUnsafeBufferPointer { bounds in
                    for row in 0..<rowCount {
                        let sRow = s.baseAddress! + (row + firstRow) * inWidth * 3
                        let dRow = dst.baseAddress! + row * outWidth * 3
                        for xx in 0..<outWidth {
                            let xmin = bounds[xx * 2], taps = bounds[xx * 2 + 1]
                            let kp = k.baseAddress! + xx * ksize
                            var r = half, g = half, b = half
                            var p = sRow + xmin * 3
                            for t in 0..<taps {
                                let w = kp[t]
                                r &+= Int32(p[0]) &* w
                                g &+= Int32(p[1]) &* w
                                b &+= Int32(p[2]) &* w
                                p += 3
                            }
                            dRow[xx * 3] = clip8(r)
                            dRow[xx * 3 + 1] = clip8(g)
                            dRow[xx * 3 + 2] = clip8(b)
                        }
                    }
                }
            }
        }
        n = rowCount * outWidth * 3
    }
}

private func verticalPass(_ src: [UInt8], width: Int, rowOffset: Int, outHeight: Int,
                          axis: ResampleAxis) -> [UInt8] {
    let half = Int32(1) << (precisionBits - 1)
    let ksize = axis.ksize
    let stride = width * 3
    var acc = [Int32](repeating: 0, count: stride)
    return [UInt8](unsafeUninitializedCapacity: outHeight * stride) { dst, n in
        src.withUnsafeBufferPointer { s in
            axis.k.withUnsafeBufferPointer { k in
                acc.withUnsafeMutableBufferPointer { a in
                    for yy in 0..<outHeight {
                        let ymin = axis.bounds[yy * 2] - rowOffset, taps = axis.bounds[yy * 2 + 1]
                        for i in 0..<stride { a[i] = half }
                        for t in 0..<taps {
                            let w = k[yy * ksize + t]
                            let row = s.baseAddress! + (ymin + t) * stride
                            for i in 0..<stride { a[i] &+= Int32(row[i]) &* w }
                        }
                        let d = dst.baseAddress! + yy * stride
                        for i in 0..<stride { d[i] = clip8(a[i]) }
                    }
                }
            }
        }
        n = outHeight * stride
    }
}
