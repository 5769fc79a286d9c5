// Content-sniffed decoding of JPEG, PNG and WebP into 8-bit RGB, with EXIF orientation.
import CImageCodecs
import Foundation

/// How `decodeImage` treats a file.
public struct DecodeOptions: Sendable {
    /// Images with more pixels than this are refused from their header, before allocation.
    public var maxPixels: Int = 100_000_000
    /// Accept a JPEG that libjpeg only half-decoded (truncated or damaged entropy data);
    /// the result then carries a warning. Refused by default: a partial image would
    /// silently poison whatever it is averaged into.
    public var allowTruncated = false
    /// Rotate and flip as the EXIF orientation tag says.
    public var applyOrientation = true
    /// The colour transparent pixels are composited on.
    public var background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)
    /// JPEG only: let libjpeg downscale in the DCT domain by 1/2, 1/4 or 1/8 while keeping
    /// both sides at least this long (0 = always full size). Faster and approximate: the
    /// result is no longer what Pillow computes.
    public var jpegMinimumSide: Int = 0

    /// The defaults: 100 megapixels, strict, oriented, white background, full size.
    public init(maxPixels: Int = 100_000_000, allowTruncated: Bool = false,
                applyOrientation: Bool = true,
                background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255),
                jpegMinimumSide: Int = 0) {
        self.maxPixels = maxPixels
        self.allowTruncated = allowTruncated
        self.applyOrientation = applyOrientation
        self.background = background
        self.jpegMinimumSide = jpegMinimumSide
    }
}

/// A decoded image, the format its bytes were in, and what the decoder warned about.
public struct DecodedImage: Sendable {
    /// The pixels, upright when orientation was applied.
    public var image: RGBImage
    /// The format found in the bytes (not the file name's).
    public var format: ImageFormat
    /// One-line warnings, each beginning with the file's name (damaged data that was
    /// accepted, an animation reduced to its first frame).
    public var warnings: [String]
    /// The EXIF orientation found (1 to 8; 1 when absent), whether or not it was applied.
    public var orientation: Int = 1
    /// True when the file had an alpha channel that was composited on the background.
    public var hadAlpha = false
}

/// Why an image could not be decoded; `description` is one line starting with the path.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, with the library's own words where there are some.
    public enum Reason: Sendable, Equatable {
        /// The file could not be read at all (missing, a directory, no permission).
        case unreadable(String)
        /// Zero bytes.
        case empty
        /// No signature of any image format we know.
        case unknownFormat
        /// A recognised image format that is not decoded here (GIF, TIFF, HEIC...).
        case unsupportedFormat(String)
        /// The data ends before the image does.
        case truncated(ImageFormat, String)
        /// The decoder refused the data (bad header, bad dimensions, damaged entropy data).
        case corrupt(ImageFormat, String)
        /// width * height is above `DecodeOptions.maxPixels`.
        case tooLarge(width: Int, height: Int, limit: Int)
        /// A valid file in a variant of the format the libraries do not decode (12-bit JPEG).
        case unsupportedVariant(ImageFormat, String)
        /// The pixels could not be allocated.
        case outOfMemory

        /// A short stable name of the case, for tests and JSON.
        public var kind: String {
            switch self {
            case .unreadable: return "unreadable"
            case .empty: return "empty"
            case .unknownFormat: return "unknownFormat"
            case .unsupportedFormat: return "unsupportedFormat"
            case .truncated: return "truncated"
            case .corrupt: return "corrupt"
            case .tooLarge: return "tooLarge"
            case .unsupportedVariant: return "unsupportedVariant"
            case .outOfMemory: return "outOfMemory"
            }
        }
    }

    /// The file (or the name given to `decodeImage(data:name:options:)`).
    public var path: String
    /// What is wrong with it.
    public var reason: Reason

    /// An error about the file at `path`.
    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// One line: the path, what is wrong, what to do.
    public var description: String {
        let text: String
        switch reason {
        case .unreadable(let why):
            text = "cannot read the file (\(why)); check the path and its permissions"
        case .empty:
            text = "the file is empty (0 bytes); copy or download it again"
        case .unknownFormat:
            text = "not a JPEG, PNG or WebP image (unknown signature); convert it to JPEG or PNG"
        case .unsupportedFormat(let name):
            text = "\(name.uppercased()) images are not read by this tool; convert it to PNG or JPEG"
        case .truncated(let format, let why):
            let hint = format == .jpeg ? ", or use --allow-truncated to accept the partial picture" : ""
            text = "truncated \(format.rawValue.uppercased()) file (\(why)); download it again\(hint)"
        case .corrupt(let format, let why):
            text = "corrupt \(format.rawValue.uppercased()) data (\(why)); the file is damaged, replace it"
        case .tooLarge(let w, let h, let limit):
            text = "\(w) x \(h) pixels is above the limit of \(limit) pixels; downscale it or raise the limit"
        case .unsupportedVariant(let format, let why):
            text = "a \(format.rawValue.uppercased()) variant this tool cannot decode (\(why)); convert it to an 8-bit JPEG or PNG"
        case .outOfMemory:
            text = "not enough memory for the pixels; close other programs or downscale the image"
        }
        return "\(path): \(oneLine(text))"
    }
}

private func oneLine(_ s: String) -> String {
    String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
}

/// Names the image format of `data` from its magic bytes ("jpeg", "png", "webp", "gif",
/// "tiff", "bmp", "heic", "avif", "jpeg2000", "jxl", "ico", "psd", "qoi", "pdf", "svg"), or nil.
public func sniffFormat(_ data: Data) -> String? {
    let b = [UInt8](data.prefix(32))
    func starts(_ bytes: [UInt8], at offset: Int = 0) -> Bool {
        b.count >= offset + bytes.count && Array(b[offset..<(offset + bytes.count)]) == bytes
    }
    func ascii(_ s: String, at offset: Int = 0) -> Bool { starts(Array(s.utf8), at: offset) }
    if starts([0xFF, 0xD8, 0xFF]) { return "jpeg" }
    if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "png" }
    if ascii("RIFF") && ascii("WEBP", at: 8) { return "webp" }
    if ascii("GIF87a") || ascii("GIF89a") { return "gif" }
    if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
        || starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) { return "tiff" }
    if ascii("BM") && b.count >= 14 { return "bmp" }
    if ascii("ftyp", at: 4) && b.count >= 12 {
        let brand = String(decoding: b[8..<12], as: UTF8.self)
        if brand.hasPrefix("avi") { return "avif" }
        if ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"].contains(brand) { return "heic" }
        if brand == "jp2 " || brand == "jpx " { return "jpeg2000" }
    }
    if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) {
        return "jpeg2000"
    }
    if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return "jxl" }
    if starts([0x00, 0x00, 0x01, 0x00]) && b.count >= 6 { return "ico" }
    if ascii("8BPS") { return "psd" }
    if ascii("qoif") { return "qoi" }
    if ascii("%PDF") { return "pdf" }
    if ascii("<svg") || (ascii("<?xml") && String(decoding: data.prefix(512), as: UTF8.self).contains("<svg")) {
        return "svg"
    }
    return nil
}

/// Reads and decodes the image file at `url`, deciding the format from its content.
/// - Throws: `ImageError` naming the file: unreadable, empty, unknown or unsupported
///   format, truncated, corrupt, too large, or out of memory.
public func decodeImage(contentsOf url: URL, options: DecodeOptions = .init()) throws -> DecodedImage {
    let data: Data
    do {
        data = try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
        let why: String
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) {
            why = "no such file"
        } else if isDir.boolValue {
            why = "it is a directory"
        } else {
            why = oneLine((error as NSError).localizedDescription)
        }
        throw ImageError(path: url.path, reason: .unreadable(why))
    }
    return try decodeImage(data: data, name: url.path, options: options)
}

/// Decodes an image held in memory; `name` is used in errors (usually the file's path).
/// - Throws: `ImageError` as `decodeImage(contentsOf:options:)` does.
public func decodeImage(data: Data, name: String, options: DecodeOptions = .init()) throws -> DecodedImage {
    if data.isEmpty { throw ImageError(path: name, reason: .empty) }
    guard let sniffed = sniffFormat(data) else { throw ImageError(path: name, reason: .unknownFormat) }
    guard let format = ImageFormat(rawValue: sniffed) else {
        throw ImageError(path: name, reason: .unsupportedFormat(sniffed))
    }
    var raw = cic_image()
    let limit = Int64(max(0, options.maxPixels))
    let status: Int32 = data.withUnsafeBytes { buffer -> Int32 in
        let p = buffer.bindMemory(to: UInt8.self).baseAddress!
        switch format {
        case .jpeg:
            return cic_jpeg_decode(p, buffer.count, limit, options.allowTruncated ? 1 : 0,
                                   jpegScaleDenominator(p, buffer.count, options.jpegMinimumSide), &raw)
        case .png:
            return cic_png_decode(p, buffer.count, limit, &raw)
        case .webp:
            return cic_webp_decode(p, buffer.count, limit, &raw)
        }
    }
    defer { cic_free(raw.pixels) }
    let message = oneLine(withUnsafeBytes(of: raw.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
    let library = format == .jpeg ? "libjpeg" : format == .png ? "libpng" : "libwebp"
    let detail = message.hasPrefix("Corrupt JPEG data: ") ? String(message.dropFirst(19)) : message
    switch Int(status) {
    case Int(CIC_OK.rawValue): break
    case Int(CIC_TRUNCATED.rawValue):
        throw ImageError(path: name, reason: .truncated(format, "\(library): \(detail)"))
    case Int(CIC_TOO_LARGE.rawValue):
        throw ImageError(path: name, reason: .tooLarge(width: Int(raw.width), height: Int(raw.height),
                                                      limit: options.maxPixels))
    case Int(CIC_UNSUPPORTED.rawValue):
        throw ImageError(path: name, reason: .unsupportedVariant(format, "\(library): \(message)"))
    case Int(CIC_NO_MEMORY.rawValue):
        throw ImageError(path: name, reason: .outOfMemory)
    default:
        throw ImageError(path: name, reason: .corrupt(format, "\(library): \(detail.isEmpty ? "unreadable data" : detail)"))
    }

    let w = Int(raw.width), h = Int(raw.height)
    let channels = Int(raw.channels)
    let src = UnsafeBufferPointer(start: raw.pixels, count: w * h * channels)
    var hadAlpha = false
    var pixels: [UInt8]
    switch raw.color {
    case Int32(CIC_COLOR_RGBA.rawValue):
        hadAlpha = true
        pixels = compositeRGBA(src, count: w * h, background: options.background)
    case Int32(CIC_COLOR_CMYK.rawValue):
        pixels = cmykToRGB(src, count: w * h, inverted: raw.adobe != 0)
    default:
        pixels = Array(src)
    }
    var warnings: [String] = []
    if raw.warnings > 0 {
        let kind = raw.truncated != 0 ? "truncated" : raw.damaged != 0 ? "damaged" : "warning"
        warnings.append("\(name): \(kind): \(library) reported \(raw.warnings) warning(s), first: \(message)")
    }
    if raw.animated != 0 { warnings.append("\(name): animated WebP, only the first frame was decoded") }

    let orientation = exifOrientation(data, format: format)
    var image = RGBImage(width: w, height: h, pixels: pixels)
    if options.applyOrientation && orientation != 1 {
        image = applyOrientation(image, orientation)
    }
    return DecodedImage(image: image, format: format, warnings: warnings,
                        orientation: orientation, hadAlpha: hadAlpha)
}

/// The largest libjpeg downscale (1, 2, 4, 8) that keeps both sides at least `minimumSide`.
private func jpegScaleDenominator(_ p: UnsafePointer<UInt8>, _ count: Int, _ minimumSide: Int) -> Int32 {
    guard minimumSide > 0 else { return 1 }
    var header = cic_image()
    guard cic_jpeg_header(p, count, &header) == Int32(CIC_OK.rawValue) else { return 1 }
    let shorter = Int(min(header.width, header.height))
    var denom = 8
    // libjpeg rounds scaled sizes up, so ceil(side / denom) is what it will produce.
    while denom > 1 && (shorter + denom - 1) / denom < minimumSide { denom /= 2 }
    return Int32(denom)
}

/// Straight-alpha RGBA over a solid background, rounding as 8-bit compositing usually does.
private func compositeRGBA(_ src: UnsafeBufferPointer<UInt8>, count: Int,
                           background: (r: UInt8, g: UInt8, b: UInt8)) -> [UInt8] {
    let bg = [Int(background.r), Int(background.g), Int(background.b)]
    return [UInt8](unsafeUninitializedCapacity: count * 3) { dst, n in
        for i in 0..<count {
            let a = Int(src[i * 4 + 3])
            for c in 0..<3 {
                let v = Int(src[i * 4 + c]) * a + bg[c] * (255 - a)
                dst[i * 3 + c] = UInt8((v + 127) / 255)
            }
        }
        n = count * 3
    }
}

/// CMYK to RGB as Pillow converts it (r = (255 - c)(255 - k)/255 with its rounding);
/// Adobe files store the inks inverted.
private func cmykToRGB(_ src: UnsafeBufferPointer<UInt8>, count: Int, inverted: Bool) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count * 3) { dst, n in
        for i in 0..<count {
            var ink = (Int(src[i * 4]), Int(src[i * 4 + 1]), Int(src[i * 4 + 2]), Int(src[i * 4 + 3]))
            if inverted { ink = (255 - ink.0, 255 - ink.1, 255 - ink.2, 255 - ink.3) }
            let nk = 255 - ink.3
            func mulDiv255(_ a: Int, _ b: Int) -> Int {
                let t = a * b + 128
                return ((t >> 8) + t) >> 8
            }
            dst[i * 3] = UInt8(clamping: nk - mulDiv255(ink.0, nk))
            dst[i * 3 + 1] = UInt8(clamping: nk - mulDiv255(ink.1, nk))
            dst[i * 3 + 2] = UInt8(clamping: nk - mulDiv255(ink.2, nk))
        }
        n = count * 3
    }
}
