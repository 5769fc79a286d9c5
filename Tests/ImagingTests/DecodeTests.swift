import Foundation
import Testing
@testable import Imaging

struct ValidCase: CustomTestStringConvertible, Sendable {
    var name: String, width: Int, height: Int
    var testDescription: String { name }
}

struct MalformedCase: CustomTestStringConvertible, Sendable {
    var name: String, kind: String
    var testDescription: String { "\(name) -> \(kind)" }
}

private let validCases = tsv("valid/expected.tsv").map { ValidCase(name: $0[0], width: Int($0[1])!, height: Int($0[2])!) }
private let malformedCases = tsv("malformed/expected.tsv").map { MalformedCase(name: $0[0], kind: $0[1]) }

@Test func fixtureManifestsAreThere() {
    #expect(validCases.count >= 20)
    #expect(malformedCases.count >= 30)
}

@Test(arguments: validCases)
func decodesLikePillow(_ c: ValidCase) throws {
    let decoded = try decodeImage(contentsOf: fixtures.appendingPathComponent("valid/\(c.name)"))
    #expect(decoded.image.width == c.width && decoded.image.height == c.height,
            "\(c.name): got \(decoded.image.width) x \(decoded.image.height)")
    let expected = bytes("valid/\(c.name).expected.rgb")
    #expect(decoded.image.pixels.count == expected.count)
    // Lossy formats may differ by a step across libjpeg-turbo / libwebp builds.
    let lossy = c.name.hasSuffix(".jpg") || c.name == "lossy.webp"
    let diff = maxAbsDiff(decoded.image.pixels, expected)
    #expect(diff <= (lossy ? 2 : 0), "\(c.name): max |diff| \(diff)")
}

@Test(arguments: malformedCases)
func refusesMalformed(_ c: MalformedCase) {
    let url = fixtures.appendingPathComponent("malformed/\(c.name)")
    do {
        let d = try decodeImage(contentsOf: url)
        Issue.record("\(c.name) decoded to \(d.image.width) x \(d.image.height), expected \(c.kind)")
    } catch let error as ImageError {
        if ProcessInfo.processInfo.environment["CDAM_PRINT_ERRORS"] != nil { print(error) }
        #expect(error.reason.kind == c.kind, "\(c.name): \(error)")
        #expect(error.description.hasPrefix(url.path))
        #expect(!error.description.contains("\n"))
    } catch {
        Issue.record("\(c.name): unexpected error type \(error)")
    }
}

@Test func truncatedJPEGAcceptedWhenAllowed() throws {
    let url = fixtures.appendingPathComponent("malformed/jpeg-cut-75.jpg")
    let d = try decodeImage(contentsOf: url, options: DecodeOptions(allowTruncated: true))
    #expect(d.image.width == 64 && d.image.height == 48)
    #expect(d.warnings.count == 1)
    #expect(d.warnings.first?.contains("truncated") == true)
}

@Test func formatIsSniffedNotTakenFromTheName() throws {
    // A PNG renamed .jpg, a WebP renamed .png.
    let png = try Data(contentsOf: fixtures.appendingPathComponent("valid/rgb8.png"))
    let webp = try Data(contentsOf: fixtures.appendingPathComponent("valid/lossless.webp"))
    #expect(try decodeImage(data: png, name: "photo.jpg").format == .png)
    #expect(try decodeImage(data: webp, name: "photo.png").format == .webp)
    #expect(sniffFormat(Data("GIF89a....".utf8)) == "gif")
    #expect(sniffFormat(Data([0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0])) == "tiff")
    #expect(sniffFormat(Data("hello".utf8)) == nil)
}

@Test func pixelLimitIsCheckedFromTheHeader() {
    let url = fixtures.appendingPathComponent("valid/baseline.jpg")
    #expect(throws: ImageError(path: url.path, reason: .tooLarge(width: 8, height: 6, limit: 40))) {
        try decodeImage(contentsOf: url, options: DecodeOptions(maxPixels: 40))
    }
}

@Test func orientationCanBeLeftAlone() throws {
    let url = fixtures.appendingPathComponent("valid/orientation6.png")
    let d = try decodeImage(contentsOf: url, options: DecodeOptions(applyOrientation: false))
    #expect(d.orientation == 6)
    #expect(d.image.width == 8 && d.image.height == 6)
}

@Test func alphaUsesTheStatedBackground() throws {
    let url = fixtures.appendingPathComponent("valid/alpha.png")
    let d = try decodeImage(contentsOf: url, options: DecodeOptions(background: (0, 0, 0)))
    #expect(d.hadAlpha)
    // The first pixel is fully transparent.
    #expect(d.image[0, 0] == (0, 0, 0))
}

@Test func missingFileIsUnreadable() {
    let url = URL(fileURLWithPath: "/nonexistent/cat.jpg")
    do {
        _ = try decodeImage(contentsOf: url)
        Issue.record("decoded a missing file")
    } catch let e as ImageError {
        #expect(e.reason == .unreadable("no such file"))
        #expect(e.description.hasPrefix("/nonexistent/cat.jpg: "))
    } catch { Issue.record("\(error)") }
}

@Test(arguments: 1...8)
func bigEndianExifOrientationInJPEG(_ orientation: Int) throws {
    let jpeg = [UInt8](try Data(contentsOf: fixtures.appendingPathComponent("valid/baseline.jpg")))
    // APP1 "Exif\0\0" + Motorola-order TIFF with one IFD entry: 0x0112 SHORT 1 = orientation.
    var tiff: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1]
    tiff += [0, UInt8(orientation), 0, 0, 0, 0, 0, 0]
    let payload = Array("Exif".utf8) + [0, 0] + tiff
    let length = payload.count + 2
    let app1: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    let tagged = Data(jpeg[0..<2] + app1 + jpeg[2...])
    let plain = try decodeImage(data: Data(jpeg), name: "plain.jpg").image
    let d = try decodeImage(data: tagged, name: "tagged.jpg")
    #expect(d.orientation == orientation)
    #expect(d.image == applyOrientation(plain, orientation))
    #expect(d.image.width == (orientation >= 5 ? 6 : 8))
}
