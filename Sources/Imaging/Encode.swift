// PNG and JPEG output through libpng and libjpeg.
import CImageCodecs
import Foundation

/// An image could not be encoded; `description` is one line.
public struct ImageEncodeError: Error, CustomStringConvertible {
    /// The library's message.
    public var message: String
    /// One line saying that encoding failed and why.
    public var description: String { "cannot encode the image: \(message)" }
}

private func encode(_ image: RGBImage, _ body: (UnsafePointer<UInt8>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
                                                UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> Int32) throws -> Data {
    guard image.width > 0, image.height > 0 else { throw ImageEncodeError(message: "empty image (\(image.width) x \(image.height))") }
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var message = [CChar](repeating: 0, count: 256)
    let status = image.pixels.withUnsafeBufferPointer { px in
        message.withUnsafeMutableBufferPointer { m in body(px.baseAddress!, &out, &size, m.baseAddress!) }
    }
    guard status == Int32(CIC_OK.rawValue), let bytes = out else {
        throw ImageEncodeError(message: String(cString: message))
    }
    defer { cic_free(bytes) }
    return Data(bytes: bytes, count: size)
}

/// The image as a PNG file's bytes: the Up filter and zlib at `level` (1, the default, is the fastest;
/// 9 the smallest), the rows compressed in parallel bands on up to `threads` cores (png_fast.c).
/// - Throws: `ImageEncodeError` when the image is empty or zlib fails.
public func encodePNG(_ image: RGBImage, level: Int = 1,
                      threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> Data {
    try encode(image) { px, out, size, message in
        cic_png_encode_fast(px, Int32(image.width), Int32(image.height), Int32(min(max(level, 0), 9)),
                            Int32(min(max(threads, 1), 64)), out, size, message)
    }
}

/// The image as a PNG through libpng with its defaults (level 6, adaptive filters, one thread): the
/// writer before `encodePNG`, kept for `cdam bench pictures`.
/// - Throws: `ImageEncodeError` when the image is empty or libpng fails.
public func encodePNGLibpng(_ image: RGBImage) throws -> Data {
    try encode(image) { px, out, size, message in
        cic_png_encode(px, Int32(image.width), Int32(image.height), out, size, message)
    }
}

/// The image as a baseline JPEG file's bytes at `quality` (1...100).
/// - Throws: `ImageEncodeError` when the image is empty or libjpeg fails.
public func encodeJPEG(_ image: RGBImage, quality: Int = 90) throws -> Data {
    try encode(image) { px, out, size, message in
        cic_jpeg_encode(px, Int32(image.width), Int32(image.height), Int32(min(max(quality, 1), 100)), out, size, message)
    }
}
