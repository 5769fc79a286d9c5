import Foundation
import Testing
@testable import Imaging

@Test func colormapIsBlackAtZeroWarmForEvidenceColdForCounterEvidence() {
    #expect(heatmapColor(0) == (0, 0, 0))
    for t: Float in [0.2, 0.5, 1] {
        let p = heatmapColor(t), n = heatmapColor(-t)
        #expect(p.r > p.b && n.b > n.r, "t = \(t): \(p) vs \(n)")
    }
    // Brighter with |t| on both sides.
    func luma(_ c: (r: UInt8, g: UInt8, b: UInt8)) -> Int { 299 * Int(c.r) + 587 * Int(c.g) + 114 * Int(c.b) }
    for k in 1...10 {
        let a = Float(k - 1) / 10, b = Float(k) / 10
        #expect(luma(heatmapColor(b)) > luma(heatmapColor(a)))
        #expect(luma(heatmapColor(-b)) > luma(heatmapColor(-a)))
    }
}

@Test func scalingSymmetricAndAsymmetric() {
    let map: [Float] = [2, -1, 0, 1]
    #expect(scaledHeat(map, style: HeatmapStyle(scaling: .symmetric)) == [1, -0.5, 0, 0.5])
    #expect(scaledHeat(map, style: HeatmapStyle(scaling: .asymmetric)) == [1, -1, 0, 0.5])
    #expect(scaledHeat([0, 0], style: HeatmapStyle()) == [0, 0])
    #expect(scaledHeat([.nan, 1], style: HeatmapStyle()) == [0, 1])
    // Clipping at the 25% / 75% quantiles of 0...100 (numpy: 25 and 75).
    let ramp = (0...100).map(Float.init)
    let clipped = scaledHeat(ramp, style: HeatmapStyle(scaling: .symmetric, clipQuantile: 0.25))
    #expect(clipped.first == 25.0 / 75 && clipped.last == 1)
}

@Test func heatRangeFollowsTheScaling() {
    let map: [Float] = [2, -1, 0, 1]
    let symmetric = heatRange(map, style: HeatmapStyle()), asymmetric = heatRange(map, style: HeatmapStyle(scaling: .asymmetric))
    #expect(symmetric.low == -2 && symmetric.high == 2)
    #expect(asymmetric.low == -1 && asymmetric.high == 2)
    let positive = heatRange([1, 2], style: HeatmapStyle(scaling: .asymmetric))
    #expect(positive.low == 0 && positive.high == 2)
}

@Test func pngAndJPEGEncoding() throws {
    var s = RGBImage(width: 6, height: 4, fill: (200, 100, 50))
    s.fill(x0: 2, y0: 1, x1: 5, y1: 3, color: (0, 10, 250))
    let png = try encodePNG(s)
    #expect(try decodeImage(data: png, name: "mem.png").image == s)
    let jpg = try encodeJPEG(RGBImage(width: 16, height: 16, fill: (10, 200, 30)), quality: 95)
    let back = try decodeImage(data: jpg, name: "mem.jpg").image
    #expect(maxAbsDiff(back.pixels, RGBImage(width: 16, height: 16, fill: (10, 200, 30)).pixels) <= 3)
    #expect(throws: ImageEncodeError.self) { try encodePNG(RGBImage(width: 0, height: 0, pixels: [])) }
}
