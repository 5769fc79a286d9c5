// EXIF orientation (TIFF tag 0x0112) read from JPEG APP1, PNG eXIf and WebP EXIF chunks.
import Foundation

/// The EXIF orientation (1...8) stored in `data`, or 1 when there is none or it is unreadable.
public func exifOrientation(_ data: Data, format: ImageFormat) -> Int {
    data.withUnsafeBytes { raw in
        let bytes = raw.bindMemory(to: UInt8.self)
        guard let tiff = exifPayload(bytes, format: format) else { return 1 }
        return tiffOrientation(bytes, start: tiff.lowerBound, end: tiff.upperBound) ?? 1
    }
}

private func be16(_ b: Bytes, _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
private func be32(_ b: Bytes, _ i: Int) -> Int { be16(b, i) << 16 | be16(b, i + 2) }
private func le32(_ b: Bytes, _ i: Int) -> Int {
    Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
}

private typealias Bytes = UnsafeBufferPointer<UInt8>

private let exifHeader: [UInt8] = Array("Exif".utf8) + [0, 0]

/// The byte range of the TIFF structure holding the EXIF data, if the file has one.
private func exifPayload(_ b: Bytes, format: ImageFormat) -> Range<Int>? {
    switch format {
    case .jpeg:
        var pos = 2
        while pos + 4 <= b.count {
            guard b[pos] == 0xFF else { return nil }
            let marker = b[pos + 1]
            if marker == 0xFF { pos += 1; continue }
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { pos += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }
            let length = be16(b, pos + 2)
            let start = pos + 4, end = pos + 2 + length
            guard length >= 2, end <= b.count else { return nil }
            if marker == 0xE1 && end - start > 6 && Array(b[start..<(start + 6)]) == exifHeader {
                return (start + 6)..<end
            }
            pos = end
        }
        return nil
    case .png:
        var pos = 8
        while pos + 12 <= b.count {
            let length = be32(b, pos)
            let type = String(decoding: b[(pos + 4)..<(pos + 8)], as: UTF8.self)
            let start = pos + 8
            guard length >= 0, start + length <= b.count else { return nil }
            if type == "eXIf" { return stripExifHeader(b, start..<(start + length)) }
            if type == "IEND" { return nil }
            pos = start + length + 4
        }
        return nil
    case .webp:
        var pos = 12
        while pos + 8 <= b.count {
            let type = String(decoding: b[pos..<(pos + 4)], as: UTF8.self)
            let length = le32(b, pos + 4)
            let start = pos + 8
            guard start + length <= b.count else { return nil }
            if type == "EXIF" { return stripExifHeader(b, start..<(start + length)) }
            pos = start + length + (length & 1)
        }
        return nil
    }
}

/// Some writers keep the JPEG-style "Exif\0\0" prefix in PNG and WebP chunks.
private func stripExifHeader(_ b: Bytes, _ r: Range<Int>) -> Range<Int> {
    if r.count > 6 && Array(b[r.lowerBound..<(r.lowerBound + 6)]) == exifHeader {
        return (r.lowerBound + 6)..<r.upperBound
    }
    return r
}

/// Reads tag 0x0112 from IFD0 of the TIFF structure in b[start..<end].
private func tiffOrientation(_ b: Bytes, start: Int, end: Int) -> Int? {
    guard end - start >= 8 else { return nil }
    let little: Bool
    switch (b[start], b[start + 1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ o: Int) -> Int? {
        guard o >= 0, start + o + 2 <= end else { return nil }
        let i = start + o
        return little ? Int(b[i]) | Int(b[i + 1]) << 8 : Int(b[i]) << 8 | Int(b[i + 1])
    }
    func u32(_ o: Int) -> Int? {
        guard let lo = u16(little ? o : o + 2), let hi = u16(little ? o + 2 : o) else { return nil }
        return hi << 16 | lo
    }
    guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
    for k in 0..<min(count, 1000) {
        let entry = ifd + 2 + k * 12
        guard let tag = u16(entry) else { return nil }
        if tag == 0x0112 {
            guard let type = u16(entry + 2), type == 3, let value = u16(entry + 8) else { return nil }
            return (1...8).contains(value) ? value : nil
        }
    }
    return nil
}

/// Turns a stored image into its upright view for EXIF orientation 1...8.
public func applyOrientation(_ image: RGBImage, _ orientation: Int) -> RGBImage {
    guard (2...8).contains(orientation) else { return image }
    let w = image.width, h = image.height
    let swaps = orientation >= 5
    let ow = swaps ? h : w, oh = swaps ? w : h
    var out = [UInt8](repeating: 0, count: ow * oh * 3)
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for y in 0..<oh {
                for x in 0..<ow {
                    let sx: Int, sy: Int
                    switch orientation {
                    case 2: (sx, sy) = (w - 1 - x, y)
                    case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                    case 4: (sx, sy) = (x, h - 1 - y)
                    case 5: (sx, sy) = (y, x)
                    case 6: (sx, sy) = (y, h - 1 - x)
                    case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                    default: (sx, sy) = (w - 1 - y, x)
                    }
                    let s = (sy * w + sx) * 3, d = (y * ow + x) * 3
                    dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                }
            }
        }
    }
    return RGBImage(width: ow, height: oh, pixels: out)
}
