// Checks against Pillow on real photos; they run only when the scripts in scripts/imaging
// set the environment (the photos are not in the repository).
import Foundation
import Testing
@testable import Imaging

private let compareDir = ProcessInfo.processInfo.environment["CDAM_PILLOW_COMPARE_DIR"]
private let benchDir = ProcessInfo.processInfo.environment["CDAM_BENCH_IMAGES"]

private func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }

private struct Stats {
    var n = 0, exact = 0
    var sumMAD = 0.0, maxMAD = 0.0, maxAbs = 0
    mutating func add(_ mad: Double, _ maxDiff: Int) {
        n += 1
        sumMAD += mad
        maxMAD = max(maxMAD, mad)
        maxAbs = max(maxAbs, maxDiff)
        if maxDiff == 0 { exact += 1 }
    }
}

/// Manifest rows written by compare_pillow.py: path, kind, width, height, crop (0/1), raw file.
@Test(.enabled(if: compareDir != nil))
func compareWithPillowOnSharedImages() throws {
    let dir = URL(fileURLWithPath: compareDir!)
    let rows = try String(contentsOf: dir.appendingPathComponent("manifest.tsv"), encoding: .utf8)
        .split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
    var stats: [String: Stats] = [:]
    var lines: [String] = []
    var decodedCache: (String, RGBImage)? = nil
    var failures: [String] = []
    for row in rows {
        let (path, kind, w, h) = (row[0], row[1], Int(row[2])!, Int(row[3])!)
        let reference = [UInt8](try Data(contentsOf: dir.appendingPathComponent(row[5])))
        let image: RGBImage
        if let cached = decodedCache, cached.0 == path {
            image = cached.1
        } else {
            do {
                image = try decodeImage(contentsOf: URL(fileURLWithPath: path)).image
            } catch {
                failures.append("\(error)")
                continue
            }
            decodedCache = (path, image)
        }
        let ours: RGBImage
        switch kind {
        case "decoded": ours = image
        default: ours = preprocessedImage(image, Preprocessing(height: h, width: w, crop: row[4] == "1"))
        }
        if kind == "resize-224x224", let scaled = try? decodeImage(contentsOf: URL(fileURLWithPath: path),
                                                                  options: DecodeOptions(jpegMinimumSide: 224)) {
            // The approximate path: libjpeg's DCT-domain downscaling before the resize.
            let approx = preprocessedImage(scaled.image, Preprocessing(size: 224))
            var sum = 0, mx = 0
            for i in 0..<reference.count {
                let d = abs(Int(approx.pixels[i]) - Int(reference[i]))
                sum += d
                mx = max(mx, d)
            }
            let group = (path as NSString).deletingLastPathComponent.split(separator: "/").last.map(String.init) ?? "."
            let mad = Double(sum) / Double(reference.count)
            stats["\(group)\tdct-scaled-224x224", default: Stats()].add(mad, mx)
            stats["APPROX\tdct-scaled-224x224", default: Stats()].add(mad, mx)
        }
        guard ours.pixels.count == reference.count else {
            failures.append("\(path) \(kind): size \(ours.width)x\(ours.height) vs \(w)x\(h)")
            continue
        }
        var sum = 0, mx = 0
        for i in 0..<reference.count {
            let d = abs(Int(ours.pixels[i]) - Int(reference[i]))
            sum += d
            mx = max(mx, d)
        }
        let mad = Double(sum) / Double(reference.count)
        let group = (path as NSString).deletingLastPathComponent.split(separator: "/").last.map(String.init) ?? "."
        stats["\(group)\t\(kind)", default: Stats()].add(mad, mx)
        stats["ALL\t\(kind)", default: Stats()].add(mad, mx)
        lines.append("\(path)\t\(kind)\t\(String(format: "%.4f", mad))\t\(mx)")
    }
    try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("per-image.tsv"), atomically: true, encoding: .utf8)
    var table = ["folder            output              images  exact  mean MAD  max MAD  max |d|   (8-bit units; limit 0.5)"]
    for key in stats.keys.sorted() {
        let s = stats[key]!
        let parts = key.split(separator: "\t").map(String.init)
        table.append(pad(parts[0], 17) + " " + pad(parts[1], 19)
                     + String(format: " %6d %6d  %8.4f %8.4f %6d", s.n, s.exact, s.sumMAD / Double(max(s.n, 1)), s.maxMAD, s.maxAbs))
    }
    table.append("decode failures: \(failures.count)")
    table += failures
    let text = table.joined(separator: "\n") + "\n"
    try text.write(to: dir.appendingPathComponent("table.txt"), atomically: true, encoding: .utf8)
    print(text)
    for (key, s) in stats where key.hasPrefix("ALL") {
        #expect(s.maxMAD <= 0.5, "\(key): max MAD \(s.maxMAD)")
    }
    #expect(failures.isEmpty)
}

@Test(.enabled(if: benchDir != nil))
func benchmarkOnSharedImages() throws {
    let dir = URL(fileURLWithPath: benchDir!)
    let paths = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        .sorted { $0.path < $1.path }
    let size = Int(ProcessInfo.processInfo.environment["CDAM_BENCH_SIZE"] ?? "224") ?? 224
    _ = benchmarkDecodePreprocess(paths: Array(paths.prefix(50)), size: size)
    var report: [String] = []
    for (label, options) in [("swift exact", DecodeOptions()),
                             ("swift dct-scaled", DecodeOptions(jpegMinimumSide: size))] {
        var best = Double.infinity
        var failures = 0
        for _ in 0..<3 {
            let r = benchmarkDecodePreprocess(paths: paths, size: size, options: options)
            best = min(best, r.seconds)
            failures = r.failures
        }
        report.append(pad(label, 18) + String(format: " %4d images  %7.3f s  %7.1f images/s  failures %d",
                                              paths.count, best, Double(paths.count) / best, failures))
    }
    print(report.joined(separator: "\n"))
}
