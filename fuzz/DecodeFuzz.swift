// libFuzzer entry point for the image decoders: every input must come back as a decoded
// image or an ImageError, never a crash, a hang or a leak. Built by fuzz/run.sh together
// with Sources/Imaging (same module) and the C shim.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func decodeFuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    // Small limit: a fuzzed header may declare any size, and libFuzzer's memory cap is 2 GB.
    for allowTruncated in [false, true] {
        let options = DecodeOptions(maxPixels: 4_000_000, allowTruncated: allowTruncated)
        guard let decoded = try? decodeImage(data: data, name: "fuzz", options: options) else { continue }
        let image = decoded.image
        precondition(image.pixels.count == image.width * image.height * 3, "pixel count")
        if image.width > 0 && image.height > 0 {
            _ = preprocess(image, Preprocessing(height: 14, width: 28, crop: allowTruncated))
        }
    }
    _ = sniffFormat(data)
    return 0
}
