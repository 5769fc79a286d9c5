import Foundation
import Testing
@testable import Imaging


@Test(arguments: [(1, 1), (2, 1), (4, 1), (7, 6), (3, 9)])
func fastPNGDecodesToTheSamePixels(threads: Int, level: Int) throws {
    // 700 rows: bands of unequal sizes; the first row is stored unfiltered, the others with Up.
    let image = photoLike(width: 333, height: 700)
    let png = try encodePNG(image, level: level, threads: threads)
    #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    #expect(try decodeImage(data: png, name: "fast.png").image == image)
    // Tiny images (fewer rows than a band) too.
    let tiny = photoLike(width: 1, height: 3)
    #expect(try decodeImage(data: try encodePNG(tiny, level: level, threads: threads), name: "tiny.png").image == tiny)
}

@Test func fastPNGIsNotMuchLargerThanLibpng() throws {
    let image = photoLike(width: 512, height: 384)
    let fast = try encodePNG(image), reference = try encodePNGLibpng(image)
    #expect(try decodeImage(data: reference, name: "ref.png").image == image)
    #expect(Double(fast.count) < 1.6 * Double(reference.count), "fast \(fast.count) bytes, libpng \(reference.count)")
}

@Test func inputRegionMapsTheGridBackOntoTheOriginal() {
    let plain = Preprocessing(size: 224).inputRegion(width: 400, height: 200)
    #expect(plain.x == 0 && plain.y == 0 && plain.width == 400 && plain.height == 200)
    // Crop: 400 x 200 is resized to 448 x 224, and the centre 224 columns (from 112) are kept: columns 100-300 of the original.
    let crop = Preprocessing(size: 224, crop: true).inputRegion(width: 400, height: 200)
    #expect(abs(crop.x - 100) < 1e-9 && crop.y == 0 && abs(crop.width - 200) < 1e-9 && abs(crop.height - 200) < 1e-9)
    let tall = Preprocessing(height: 224, width: 224, crop: true).inputRegion(width: 100, height: 300)
    #expect(tall.x == 0 && abs(tall.width - 100) < 1e-9 && abs(tall.y - 100) < 1.5 && abs(tall.height - 100) < 1e-9)
}

@Test func overlayLeavesNeutralPatchesAndTheUnseenPartAlone() {
    let base = photoLike(width: 40, height: 20)
    // 2 x 4 grid over the right half only: evidence in the top-left cell, counter-evidence in the bottom-right one.
    var map = [Float](repeating: 0, count: 8)
    map[0] = 1; map[7] = -1
    let region = PixelRect(x: 20, y: 0, width: 20, height: 20)
    let out = blendHeat(map, gridHeight: 2, gridWidth: 4, over: base, region: region, opacity: 0.8)
    #expect(out[5, 5] == base[5, 5])            // outside the region
    #expect(out[32, 4] == base[32, 4])          // a neutral cell: transparent, not black
    let p = out[22, 4], b = base[22, 4], c = overlayColor(1)
    #expect(abs(Int(p.r) - Int((Float(b.r) * 0.2 + Float(c.r) * 0.8).rounded())) <= 1)
    let n = out[38, 15]
    #expect(n.b > n.r)                          // counter-evidence is blue
    // Alpha grows with |t| as its square root.
    #expect(overlayAlpha(0, opacity: 0.8) == 0 && abs(overlayAlpha(0.25, opacity: 0.8) - 0.4) < 1e-6)
    #expect(overlayAlpha(-1, opacity: 0.8) == 0.8)
}

@Test func textLabelsGridsAndColourBar() {
    var img = RGBImage(width: 20, height: 10, fill: (255, 255, 255))
    img.draw(text: "I", x: 0, y: 0, scale: 1, color: (0, 0, 0))
    // 'I' is the middle column, rows 0-6, with serifs at the top and bottom.
    #expect(img[2, 3] == (0, 0, 0) && img[0, 3] == (255, 255, 255) && img[1, 0] == (0, 0, 0) && img[2, 8] == (255, 255, 255))
    #expect(BitmapFont.width("abc", scale: 2) == 34)
    #expect(BitmapFont.fit("abcdefghij", maxWidth: 6 * 6 - 1, scale: 1) == "abcd..")
    #expect(BitmapFont.fit("abc", maxWidth: 100, scale: 1) == "abc")

    let tile = RGBImage(width: 30, height: 20, fill: (9, 9, 9))
    let l = labelled(tile, lines: ["dog", "cdam"], scale: 1)
    #expect(l.width == 30 && l.height == 20 + 3 + 2 * 10 && l[29, l.height - 1] == (9, 9, 9))
    let g = tileGrid(Array(repeating: tile, count: 7), columns: 6, gap: 2)
    #expect(g.width == 6 * 30 + 5 * 2 && g.height == 2 * 20 + 2)
    #expect(g[31, 0] == (255, 255, 255) && g[32, 0] == (9, 9, 9) && g[35, 25] == (255, 255, 255))
    let s = stacked([tile, RGBImage(width: 10, height: 5, fill: (1, 2, 3))], gap: 1)
    #expect(s.width == 30 && s.height == 26 && s[0, 21] == (1, 2, 3) && s[20, 21] == (255, 255, 255))

    let bar = colorBar(width: 203, scale: 1, opacity: 0.8, left: "-1", centre: "0", right: "+1")
    // The bar's middle is transparent: the checkerboard shows; its ends carry the full colours.
    let mid = bar[3 + 98, 3 + 1], left = bar[3, 3 + 1], right = bar[3 + 196, 3 + 1]
    #expect(mid.r == mid.g && mid.g == mid.b)
    #expect(left.b > left.r && right.r > right.b)
}
