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

@Test func nearestAndBilinearUpsampling() {
    let map: [Float] = [1, -1, 0, 0.5]  // 2 x 2 grid
    let near = renderHeatmap(map, gridHeight: 2, gridWidth: 2, width: 4, height: 4, style: HeatmapStyle())
    #expect(near[0, 0] == heatmapColor(1) && near[1, 1] == heatmapColor(1))
    #expect(near[2, 0] == heatmapColor(-1) && near[3, 1] == heatmapColor(-1))
    #expect(near[0, 3] == heatmapColor(0) && near[3, 3] == heatmapColor(0.5))
    let bil = renderHeatmap(map, gridHeight: 2, gridWidth: 2, width: 4, height: 4,
                            style: HeatmapStyle(upsampling: .bilinear))
    // Corners sit on patch centres (clamped); the middle blends.
    #expect(bil[0, 0] == heatmapColor(1))
    #expect(bil[1, 0] == heatmapColor(0.5))
}

@Test func panelsOverlayLegendAndEncoding() throws {
    let a = RGBImage(width: 3, height: 2, fill: (200, 100, 50))
    let b = RGBImage(width: 2, height: 4, fill: (0, 0, 0))
    let s = sideBySide([a, b], gap: 1)
    #expect(s.width == 6 && s.height == 4)
    #expect(s[0, 0] == (255, 255, 255) && s[0, 1] == (200, 100, 50) && s[3, 0] == (255, 255, 255) && s[4, 0] == (0, 0, 0))
    let o = overlay(a, RGBImage(width: 3, height: 2, fill: (0, 0, 0)), opacity: 0.5)
    #expect(o[0, 0] == (100, 50, 25))
    let legend = colorLegend(width: 101, height: 10)
    #expect(legend[50, 0] == (0, 0, 0) && legend[0, 0] == heatmapColor(-1) && legend[100, 0] == heatmapColor(1))
    let png = try encodePNG(s)
    #expect(try decodeImage(data: png, name: "mem.png").image == s)
    let jpg = try encodeJPEG(RGBImage(width: 16, height: 16, fill: (10, 200, 30)), quality: 95)
    let back = try decodeImage(data: jpg, name: "mem.jpg").image
    #expect(maxAbsDiff(back.pixels, RGBImage(width: 16, height: 16, fill: (10, 200, 30)).pixels) <= 3)
    #expect(throws: ImageEncodeError.self) { try encodePNG(RGBImage(width: 0, height: 0, pixels: [])) }
}

/// Writes example renders over a real photo for a person to look at (env CDAM_HEATMAP_DEMO_DIR,
/// optional CDAM_HEATMAP_DEMO_IMAGE).
@Test(.enabled(if: ProcessInfo.processInfo.environment["CDAM_HEATMAP_DEMO_DIR"] != nil))
func renderDemoHeatmaps() throws {
    let env = ProcessInfo.processInfo.environment
    let dir = URL(fileURLWithPath: env["CDAM_HEATMAP_DEMO_DIR"]!)
    let photo = env["CDAM_HEATMAP_DEMO_IMAGE"] ?? "/work/shared/images/paper/elephant-zebra.jpg"
    let image = preprocessedImage(try decodeImage(contentsOf: URL(fileURLWithPath: photo)).image, Preprocessing(size: 224))
    // A synthetic signed 16 x 16 map: a positive blob on the left, a negative one on the right,
    // weak noise elsewhere.
    var map = [Float](repeating: 0, count: 256)
    for gy in 0..<16 {
        for gx in 0..<16 {
            let p = exp(-(pow(Float(gx) - 4, 2) + pow(Float(gy) - 8, 2)) / 6)
            let n = exp(-(pow(Float(gx) - 12, 2) + pow(Float(gy) - 7, 2)) / 4)
            map[gy * 16 + gx] = 1.0 * p - 0.6 * n + 0.03 * sin(Float(gx * 7 + gy * 3))
        }
    }
    var panels = [image]
    for style in [HeatmapStyle(), HeatmapStyle.paper, HeatmapStyle(upsampling: .bilinear)] {
        let heat = renderHeatmap(map, gridHeight: 16, gridWidth: 16, width: 224, height: 224, style: style)
        panels.append(heat)
        panels.append(overlay(image, heat, opacity: 0.6))
    }
    let sheet = sideBySide(panels)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try encodePNG(sheet).write(to: dir.appendingPathComponent("heatmap-demo.png"))
    try encodePNG(colorLegend(width: 256, height: 24)).write(to: dir.appendingPathComponent("legend.png"))
    try encodeJPEG(sheet).write(to: dir.appendingPathComponent("heatmap-demo.jpg"))
}
