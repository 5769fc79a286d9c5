// Throughput of the embed input path: decode, resize, normalize.
import Foundation

/// Decodes and preprocesses every file (size x size, no crop, the default pipeline) on the
/// calling thread and returns the wall time and the number of files that failed to decode.
public func benchmarkDecodePreprocess(paths: [URL], size: Int) -> (seconds: Double, failures: Int) {
    benchmarkDecodePreprocess(paths: paths, size: size, options: DecodeOptions())
}

/// As `benchmarkDecodePreprocess(paths:size:)` with explicit decode options (for example
/// `jpegMinimumSide` to measure libjpeg's DCT-domain downscaling).
public func benchmarkDecodePreprocess(paths: [URL], size: Int, options: DecodeOptions) -> (seconds: Double, failures: Int) {
    let p = Preprocessing(size: size)
    var failures = 0
    var checksum: Float = 0
    let start = ContinuousClock.now
    for url in paths {
        do {
            let image = try decodeImage(contentsOf: url, options: options).image
            let t = preprocess(image, p)
            checksum += t[t.count / 2]
        } catch {
            failures += 1
        }
    }
    let elapsed = ContinuousClock.now - start
    // Keeps the optimizer from dropping the work.
    if checksum.isNaN { failures += 0 }
    let c = elapsed.components
    return (Double(c.seconds) + Double(c.attoseconds) * 1e-18, failures)
}
