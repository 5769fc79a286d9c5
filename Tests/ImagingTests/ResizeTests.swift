import Foundation
import Testing
@testable import Imaging

struct ResizeCase: CustomTestStringConvertible, Sendable {
    var file: String, width: Int, height: Int
    var testDescription: String { "\(width)x\(height)" }
}

private let resizeCases = tsv("resize/resize.tsv").map { ResizeCase(file: $0[0], width: Int($0[1])!, height: Int($0[2])!) }

@Test(arguments: resizeCases)
func resizeMatchesPillowExactly(_ c: ResizeCase) throws {
    let source = try decodeImage(contentsOf: fixtures.appendingPathComponent("resize/source.png")).image
    let out = resizeBicubic(source, width: c.width, height: c.height)
    let expected = bytes("resize/\(c.file)")
    #expect(out.pixels.count == expected.count)
    let diff = maxAbsDiff(out.pixels, expected)
    #expect(diff == 0, "\(c.width)x\(c.height): max |diff| \(diff) against Pillow")
}

@Test func preprocessingIdsAndShapes() {
    #expect(Preprocessing(size: 224).id == "pil-bicubic-224x224")
    #expect(Preprocessing(size: 224, crop: true).id == "pil-bicubic-crop-224x224")
    #expect(Preprocessing(height: 154, width: 210).id == "pil-bicubic-154x210")
    let img = RGBImage(width: 30, height: 20, fill: (255, 0, 128))
    let t = preprocess(img, Preprocessing(height: 14, width: 28))
    #expect(t.count == 3 * 14 * 28)
    // Channel planes: red is 1.0 everywhere, normalized.
    #expect(abs(t[0] - Float((1.0 - 0.485) / 0.229)) < 1e-6)
    #expect(abs(t[14 * 28] - Float((0.0 - 0.456) / 0.224)) < 1e-6)
}

@Test func cropKeepsTheCentre() {
    // A wide image: left third red, middle green, right third blue.
    var img = RGBImage(width: 90, height: 30)
    for y in 0..<30 {
        for x in 0..<90 {
            let i = (y * 90 + x) * 3
            img.pixels[i + x / 30] = 255
        }
    }
    let out = preprocessedImage(img, Preprocessing(size: 10, crop: true))
    #expect(out.width == 10 && out.height == 10)
    #expect(out[5, 5] == (0, 255, 0))
}
