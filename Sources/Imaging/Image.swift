// Image values shared by the decoders, the resampler and the heatmap renderer.

/// An 8-bit RGB image: interleaved, row-major, `pixels.count == width * height * 3`.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    /// Wraps existing pixels; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width) x \(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A uniform image of one colour.
    public init(width: Int, height: Int, fill: (r: UInt8, g: UInt8, b: UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: p.count, by: 3) {
            p[i] = fill.r; p[i + 1] = fill.g; p[i + 2] = fill.b
        }
        self.pixels = p
    }

    /// The pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// The rectangle at (`x`, `y`) of the given size; it must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop outside the image")
        var out = [UInt8](repeating: 0, count: w * h * 3)
        out.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for row in 0..<h {
                    let s = ((y + row) * width + x) * 3
                    for i in 0..<(w * 3) { dst[row * w * 3 + i] = src[s + i] }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// The formats the decoder reads.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg, png, webp
}
