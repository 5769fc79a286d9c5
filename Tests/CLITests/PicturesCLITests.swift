import Foundation
import Testing

/// The pictures of `query --out` (issue 12, "Pictures"; issue 11 item 4): one file per target and map,
/// names unique per target, the photo's aspect ratio, the requested size, a grid panel.
@Suite struct PicturesCLITests {
    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ path: String) throws -> (width: Int, height: Int) {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(data.count > 24 && Array(data[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(path) is not a PNG")
        func be32(_ i: Int) -> Int { data[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }

    @Test func queryOutWritesLabelledPicturesWithUniqueNames() throws {
        guard CLI.modelInstalled else { return }
        let dir = try CLI.temporaryDirectory()
        // A landscape photo (548 x 342) under a name with a space; four concepts whose names read alike as file names.
        let photos = dir.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        let photo = photos.appendingPathComponent("match day.jpg")
        try FileManager.default.copyItem(atPath: "\(CLI.photos)/messi5.jpg", toPath: photo.path)
        var arguments = ["query", photo.path]
        for (name, files) in [("猫", ["apple.jpg"]), ("犬", ["baboon.jpg"]), ("a b", ["orange.jpg"]), ("a_b", ["butterfly.jpg"])] {
            arguments += ["--examples", try CLI.folder(files, in: dir, named: name).path]
        }
        let out = dir.appendingPathComponent("maps")
        let r = try CLI.run(arguments + ["--maps", "cdam,am", "--out", out.path, "--overlay-size", "300", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let result = try #require((r.json?["results"] as? [[String: Any]])?.first)
        let targets = try #require(result["targets"] as? [[String: Any]])
        #expect(targets.map { $0["name"] as? String } == ["猫", "犬", "a b", "a_b"])
        let cdam = targets.compactMap { ($0["overlays"] as? [String: String])?["cdam"] }
        #expect(cdam.count == 4 && Set(cdam).count == 4, "\(cdam)")
        let am = Set(targets.compactMap { ($0["overlays"] as? [String: String])?["am"] })
        #expect(am.count == 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files.count == 6, "\(files)")   // 4 CDAM, AM once, the panel
        #expect(files.allSatisfy { $0.hasPrefix("match_day-") && $0.hasSuffix(".png") })
        for path in cdam + Array(am) {
            // 300 wide (the long side of a landscape photo), and taller than the photo's 187 rows: label and colour bar.
            let size = try Self.pngSize(path)
            #expect(size.width == 300 && size.height > 187, "\(path): \(size)")
        }
        // The panel: the photo, AM and 4 CDAM tiles, 6 in a row.
        let panel = try Self.pngSize(try #require(result["panel"] as? String))
        #expect(panel.width == 6 * 300 + 5 * 2, "\(panel)")
        #expect(panel.height < 2 * 300)

        // Text output names each target's picture.
        let text = try CLI.run(arguments + ["--out", out.path])
        #expect(text.status == 0)
        for path in cdam { #expect(text.stdout.contains(path)) }
    }

    @Test func overlaySizeOutOfRangeIsAUsageError() throws {
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", CLI.photos, "--out", "/tmp/x", "--overlay-size", "10"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--overlay-size") && r.stderr.contains("64"))
    }
}
