import Foundation
import Imaging
import Testing
@testable import Workbench

@Test func fileKeysAreUniquePerName() {
    let names = ["猫", "犬", "a b", "a_b", "a/b", "dog", "Dog", String(repeating: "x", count: 5000), String(repeating: "x", count: 4999) + "y"]
    let keys = names.map(fileKey)
    #expect(Set(keys).count == names.count, "\(keys)")
    for key in keys {
        #expect(key.count <= 60 + 9)
        #expect(key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }, "\(key)")
    }
    #expect(fileKey("dog").hasPrefix("dog-") && fileKey("dog") == fileKey("dog"))
}

/// A 400 x 200 image: left half dark, right half light.
private func wideImage() -> RGBImage {
    var img = RGBImage(width: 400, height: 200, fill: (40, 40, 40))
    img.fill(x0: 200, y0: 0, x1: 400, y1: 200, color: (220, 220, 220))
    return img
}

@Test func picturesKeepTheAspectRatioAndAreLabelled() {
    let renderer = OverlayRenderer(original: wideImage(), preprocessing: Preprocessing(size: 224), options: RenderOptions(size: 512))
    #expect(renderer.base.width == 512 && renderer.base.height == 256)
    #expect(renderer.region == PixelRect(x: 0, y: 0, width: 512, height: 256))
    var map = [Float](repeating: 0, count: 256)
    map[0] = 2; map[255] = -1
    let lines = renderer.lines(target: "dog", kind: "centred", map: .cdam, values: map, score: 12.5, percentile: 97.25)
    #expect(lines == ["dog (centred)", "CDAM  score 12.5  97.2%ile", "scale +-2"])
    let tile = renderer.tile(map, grid: [16, 16], lines: lines)
    let strip = tile.height - 256
    #expect(tile.width == 512 && strip > 0)
    // Neutral patches: the photo as it was; the strongest patch: coloured.
    #expect(tile[100, strip + 100] == (40, 40, 40) && tile[300, strip + 100] == (220, 220, 220))
    #expect(tile[5, strip + 5] != (40, 40, 40))
    // Some dark label text in the strip.
    #expect((0..<strip).contains { y in (0..<200).contains { x in tile[x, y] == (0, 0, 0) } })
    let single = renderer.withBar(tile, map: map)
    #expect(single.width == 512 && single.height > tile.height)
    // Panels: at most 6 tiles a row.
    let panel = renderer.panel(Array(repeating: tile, count: 8))
    #expect(panel.width == 6 * 512 + 5 * 2 * renderer.scale && panel.height > 2 * tile.height)
}

@Test func croppedInputsAreDrawnWhereTheModelLooked() {
    let renderer = OverlayRenderer(original: wideImage(), preprocessing: Preprocessing(size: 224, crop: true), options: RenderOptions(size: 400))
    // The centre 200 x 200 of the 400 x 200 image.
    #expect(abs(renderer.region.x - 100) < 1e-9 && abs(renderer.region.width - 200) < 1e-9)
    let tile = renderer.tile([Float](repeating: 1, count: 256), grid: [16, 16], lines: [])
    let strip = tile.height - 200
    #expect(tile[50, strip + 100] == (40, 40, 40))    // outside the crop: untouched
    #expect(tile[150, strip + 100] != (40, 40, 40))   // inside: evidence everywhere
}

@Test func queryPicturesGetOneFilePerTargetAndMap() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-overlays-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let original = wideImage()
    let image = PreparedImage(url: URL(fileURLWithPath: "/photos/a scene.jpg"), sha256: String(repeating: "ab", count: 32), format: .jpeg,
                              original: original, resized: preprocessedImage(original, Preprocessing(size: 224)), pixels: [], warnings: [])
    let map = (0..<256).map { Float($0 % 7) - 3 }
    let targets = ["猫", "犬", "a b", "a_b"].map {
        QueryTarget(name: $0, kind: "mean", score: 1, percentile: 50, maps: ["cdam": map, "am": map.map(abs), "rp": map.map(abs)])
    }
    var entry = QueryImage(image: image.url.path, sha256: image.sha256, size: [200, 400], grid: [16, 16], targets: targets)
    try renderQueryImages(&entry, image: image, directory: dir, render: RenderOptions(size: 256))
    let cdam = entry.targets.compactMap { $0.overlays?["cdam"] }
    #expect(Set(cdam).count == 4)
    #expect(Set(entry.targets.compactMap { $0.overlays?["am"] }).count == 1)   // AM is the same for every target: once
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(files.count == 4 + 4 + 1 + 1, "\(files.sorted())")                 // cdam and rp per target, am, the panel
    #expect(files.allSatisfy { $0.hasPrefix("a_scene-abababab-") && $0.hasSuffix(".png") })
    let panel = try decodeImage(contentsOf: URL(fileURLWithPath: try #require(entry.panel))).image
    // The photo, AM, then 4 x (CDAM, RP): 10 tiles, 6 to a row.
    #expect(panel.width == 6 * 256 + 5 * 2)
    let one = try decodeImage(contentsOf: URL(fileURLWithPath: cdam[0])).image
    #expect(one.width == 256)
}

@Test func significantPatchesAreOutlinedAndBlocksNamed() {
    // A 320 x 320 photo (label scale 1: 1 px lines), 16 x 16 patches of 20 px: patches (5, 5) and (5, 6) significant.
    let photo = RGBImage(width: 320, height: 320, fill: (128, 128, 128))
    let renderer = OverlayRenderer(original: photo, preprocessing: Preprocessing(size: 224), options: RenderOptions(size: 320))
    let map = [Float](repeating: 0, count: 256)
    let plain = renderer.tile(map, grid: [16, 16], lines: [])
    let outlined = renderer.tile(map, grid: [16, 16], lines: [], outlined: [5 * 16 + 5, 5 * 16 + 6])
    let strip = outlined.height - 320
    #expect(plain == renderer.tile(map, grid: [16, 16], lines: [], outlined: []))
    // The boundary of the pair: x 100...140, y 100...120; a white line on black, the inside untouched.
    #expect(outlined[120, strip + 100] == (255, 255, 255))     // top edge, between the two patches
    #expect(outlined[100, strip + 110] == (255, 255, 255))     // left edge
    #expect(outlined[140, strip + 110] == (255, 255, 255))     // right edge
    #expect(outlined[120, strip + 99] == (0, 0, 0) && outlined[120, strip + 101] == (0, 0, 0))   // black on both sides of it
    #expect(outlined[120, strip + 110] == (128, 128, 128))     // the shared edge (5,5)|(5,6) is not drawn
    #expect(outlined[60, strip + 60] == (128, 128, 128))       // far away: the photo
    // Labels: the significance note and a concept at an earlier block.
    #expect(significanceNote([1, 2]) == "outlined: 2 significant" && significanceNote([]) == "no patch significant")
    let lines = renderer.lines(target: "dog", kind: "centred", map: .cdam, values: map, score: 1, percentile: nil, block: 11)
    #expect(lines[0] == "dog @block11 (centred)")
}
