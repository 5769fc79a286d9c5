// The one renderer of map pictures, used by `query --out`, its panels and the report: each map drawn on
// the original image at its aspect ratio (through the region the model saw), neutral patches
// transparent, every tile labelled (target, kind, map, score, percentile, the colour scale's ends), a
// colour bar under each picture, panels as grids at most 6 tiles wide.
import Foundation
import Imaging

/// How map pictures are drawn.
public struct RenderOptions: Sendable {
    public var style: HeatmapStyle
    /// Opacity of the strongest scores over the image (0: image only); weaker ones fade as √|t|.
    public var opacity: Float
    /// Long side of each picture in pixels (the original's aspect ratio is kept).
    public var size: Int
    /// The bounds `size` must stay in.
    public static let sizeRange = 64...4096

    public init(style: HeatmapStyle = HeatmapStyle(), opacity: Float = 0.8, size: Int = 512) {
        self.style = style
        self.opacity = opacity
        self.size = size
    }
}

/// A file-name part for a target's name, unique per name: the name's file-safe characters (at most 60),
/// a dash, and the first 8 hex digits of the SHA-256 of the whole name, so that names which read the
/// same as file names (`猫` and `犬`, `a b` and `a_b`, two long names with one prefix) never share a file.
public func fileKey(_ name: String) -> String {
    String(slug(name).prefix(60)) + "-" + ImageFiles.sha256(Data(name.utf8)).prefix(8)
}

/// A file-name-safe version of a name (characters outside [A-Za-z0-9._-] become '_'); not unique: see `fileKey`.
func slug(_ s: String) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    let out = String(s.map { allowed.contains($0) ? $0 : "_" })
    return out.isEmpty ? "_" : out
}

/// Draws the maps of one image: create it once per image, then ask for tiles.
public struct OverlayRenderer {
    public let options: RenderOptions
    /// The original image at `options.size` on its long side.
    public let base: RGBImage
    /// The part of `base` the model saw (all of it unless the input was cropped).
    public let region: PixelRect
    /// The label font's scale.
    public let scale: Int
    /// Lines of text above every tile (so that tiles of a panel line up).
    public static let labelLines = 3

    /// - Parameters:
    ///   - original: the decoded image, orientation applied.
    ///   - preprocessing: how the model's input was made from it.
    public init(original: RGBImage, preprocessing: Preprocessing, options: RenderOptions) {
        self.options = options
        let side = min(max(options.size, RenderOptions.sizeRange.lowerBound), RenderOptions.sizeRange.upperBound)
        base = fitLongSide(original, side)
        let r = preprocessing.inputRegion(width: original.width, height: original.height)
        let fx = Double(base.width) / Double(max(original.width, 1)), fy = Double(base.height) / Double(max(original.height, 1))
        region = PixelRect(x: r.x * fx, y: r.y * fy, width: r.width * fx, height: r.height * fy)
        scale = labelScale(forWidth: base.width)
    }

    /// A prepared image's renderer.
    public init(_ image: PreparedImage, options: RenderOptions) {
        self.init(original: image.original, preprocessing: image.preprocessing, options: options)
    }

    /// The map (gh x gw, row-major) over the image, under `lines` of label; with `outlined` (row-major
    /// patch indices, e.g. the significant patches of `--significance`), the boundary of those patches drawn
    /// over it.
    public func tile(_ map: [Float], grid: [Int], lines: [String], outlined: [Int]? = nil) -> RGBImage {
        let t = scaledHeat(map, style: options.style)
        var heat = blendHeat(t, gridHeight: grid[0], gridWidth: grid[1], over: base, region: region,
                             opacity: options.opacity, upsampling: options.style.upsampling)
        if let outlined, !outlined.isEmpty { outline(patches: outlined, grid: grid, on: &heat) }
        return labelled(heat, lines: padded(lines), scale: scale)
    }

    /// Draws the boundary between a set of patches and the rest: each edge of a patch in the set whose
    /// neighbour across it is not in the set, a black line with a white one inside it (seen on any colour).
    func outline(patches: [Int], grid: [Int], on image: inout RGBImage) {
        let gh = grid[0], gw = grid[1]
        var inSet = [Bool](repeating: false, count: gh * gw)
        for i in patches where i >= 0 && i < inSet.count { inSet[i] = true }
        func x(_ c: Int) -> Int { Int((region.x + Double(c) * region.width / Double(gw)).rounded()) }
        func y(_ r: Int) -> Int { Int((region.y + Double(r) * region.height / Double(gh)).rounded()) }
        let line = max(1, scale)
        for (pass, color) in [(0, (r: UInt8(0), g: UInt8(0), b: UInt8(0))), (1, (r: UInt8(255), g: UInt8(255), b: UInt8(255)))] {
            // The black line is 3 widths wide around the edge, the white one 1 width at its centre.
            let half = pass == 0 ? line + line / 2 : line / 2
            let thick = pass == 0 ? 3 * line : line
            for r in 0..<gh { for c in 0..<gw where inSet[r * gw + c] {
                let x0 = x(c), x1 = x(c + 1), y0 = y(r), y1 = y(r + 1)
                if r == 0 || !inSet[(r - 1) * gw + c] { image.fill(x0: x0 - half, y0: y0 - half, x1: x1 + half, y1: y0 - half + thick, color: color) }
                if r == gh - 1 || !inSet[(r + 1) * gw + c] { image.fill(x0: x0 - half, y0: y1 - half, x1: x1 + half, y1: y1 - half + thick, color: color) }
                if c == 0 || !inSet[r * gw + c - 1] { image.fill(x0: x0 - half, y0: y0 - half, x1: x0 - half + thick, y1: y1 + half, color: color) }
                if c == gw - 1 || !inSet[r * gw + c + 1] { image.fill(x0: x1 - half, y0: y0 - half, x1: x1 - half + thick, y1: y1 + half, color: color) }
            } }
        }
    }

    /// The image itself, labelled, for the first tile of a panel.
    public func photoTile(lines: [String]) -> RGBImage {
        var photo = base
        if region.width < Double(base.width) - 0.5 || region.height < Double(base.height) - 0.5 {
            photo.outline(x0: Int(region.x.rounded()), y0: Int(region.y.rounded()),
                          x1: Int((region.x + region.width).rounded()), y1: Int((region.y + region.height).rounded()),
                          color: (255, 255, 255))
        }
        return labelled(photo, lines: padded(lines), scale: scale)
    }

    /// A tile with the colour bar of its map under it, the bar's ends labelled with the scores they stand for.
    public func withBar(_ tile: RGBImage, map: [Float]) -> RGBImage {
        let (low, high) = heatRange(map, style: options.style)
        let bar = colorBar(width: tile.width, scale: scale, opacity: options.opacity,
                           left: Self.number(low), centre: "0", right: "+" + Self.number(high))
        return stacked([tile, bar], gap: 0)
    }

    /// Tiles in a grid at most 6 wide, with one colour bar for all under it.
    public func panel(_ tiles: [RGBImage]) -> RGBImage {
        let grid = tileGrid(tiles, columns: 6, gap: 2 * scale)
        let width = min(grid.width, max(3 * base.width, 360))
        let bar = colorBar(width: width, scale: scale, opacity: options.opacity,
                           left: "counter-evidence", centre: "0: transparent", right: "evidence")
        var note = RGBImage(width: width, height: BitmapFont.lineHeight(scale: scale) + 3 * scale, fill: (255, 255, 255))
        note.draw(text: BitmapFont.fit("each tile scaled by its own largest |value| (its label's 'scale')", maxWidth: width - 6 * scale, scale: scale),
                  x: 3 * scale, y: 0, scale: scale, color: (70, 70, 70))
        return stacked([grid, bar, note], gap: 0)
    }

    func padded(_ lines: [String]) -> [String] {
        Array((lines + Array(repeating: "", count: Self.labelLines)).prefix(Self.labelLines))
    }

    /// A score in at most 4 significant digits.
    public static func number(_ x: Float) -> String {
        guard x.isFinite else { return "n/a" }
        return String(format: "%.4g", x)
    }

    /// The label of a target's map: target (with its block when not the last: "dog @block11") and kind;
    /// map, score and percentile; the colour scale.
    public func lines(target name: String, kind: String, map: MapKind, values: [Float], score: Float?,
                      percentile: Double?, note: String? = nil, block: Int? = nil) -> [String] {
        var second = map.title
        if let score { second += "  score \(Self.number(score))" }
        if let percentile { second += String(format: "  %.1f%%ile", percentile) }
        let shown = block.map { "\(name) @block\($0)" } ?? name
        return ["\(shown) (\(kind))" + (note.map { "  " + $0 } ?? ""), second, scaleLine(values)]
    }

    /// The label of a map that does not depend on the target (AM, rollout).
    public func lines(targetFree map: MapKind, values: [Float]) -> [String] {
        [map.title, map == .am ? "last block, CLS row, mean of heads" : "attention through all blocks", scaleLine(values)]
    }

    func scaleLine(_ values: [Float]) -> String {
        let (low, high) = heatRange(values, style: options.style)
        return options.style.scaling == .symmetric ? "scale +-\(Self.number(high))"
            : "scale \(Self.number(low)) .. +\(Self.number(high))"
    }
}

extension MapKind {
    /// The map's name in a label.
    public var title: String {
        switch self {
        case .cdam: return "CDAM"
        case .am: return "AM (attention, any target)"
        case .rollout: return "rollout (any target)"
        case .rp: return "RP (relevance)"
        case .tam: return "TAM (token ablation)"
        case .scdam: return "Smooth CDAM"
        case .icdam: return "Integrated CDAM"
        }
    }
}

/// Writes one picture per target and map (AM and rollout, the same for every target, once) and the
/// panel: the photo, AM and rollout when computed, then every target's CDAM, RP and TAM, in a grid.
/// The pictures are drawn and written on all cores, one picture a core.
/// - Throws: `WorkbenchError.failed` naming a file that cannot be written.
func renderQueryImages(_ entry: inout QueryImage, image: PreparedImage, directory: URL, render: RenderOptions) throws {
    let stem = String(slug(image.url.deletingPathExtension().lastPathComponent).prefix(60)) + "-" + image.sha256.prefix(8)
    let renderer = OverlayRenderer(image, options: render)
    let seen = image.preprocessing.crop ? "the model saw the outlined part" : "grid \(entry.grid[0])x\(entry.grid[1]) over the whole image"
    var jobs: [(map: [Float], lines: [String], url: URL, outlined: [Int]?)] = []
    var shared: [MapKind: String] = [:]
    if let first = entry.targets.first {
        for kind in [MapKind.am, .rollout] {
            guard let map = first.maps[kind.rawValue] else { continue }
            let url = directory.appendingPathComponent("\(stem)-\(kind.rawValue).png")
            jobs.append((map, renderer.lines(targetFree: kind, values: map), url, nil))
            shared[kind] = url.path
        }
    }
    for k in entry.targets.indices {
        let t = entry.targets[k]
        var overlays: [String: String] = [:]
        for (kind, path) in shared { overlays[kind.rawValue] = path }
        for kind in [MapKind.cdam, .rp, .tam] {
            guard let map = t.maps[kind.rawValue] else { continue }
            let url = directory.appendingPathComponent("\(stem)-\(fileKey(t.name))-\(kind.rawValue).png")
            // The significant patches of --significance are outlined on the CDAM map they were tested on.
            let significant = kind == .cdam ? t.significance?.significant : nil
            jobs.append((map, renderer.lines(target: t.name, kind: t.kind, map: kind, values: map, score: t.score,
                                             percentile: t.percentile, note: significant.map(significanceNote), block: t.block),
                         url, significant))
            overlays[kind.rawValue] = url.path
        }
        entry.targets[k].overlays = overlays
    }
    // One picture a core: each is drawn, written with one thread, and kept for the panel.
    var tiles = [RGBImage?](repeating: nil, count: jobs.count)
    var failure: Error? = nil
    let lock = NSLock()
    let grid = entry.grid
    DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
        let job = jobs[i]
        let tile = renderer.tile(job.map, grid: grid, lines: job.lines, outlined: job.outlined)
        let result = Result { try writePNG(renderer.withBar(tile, map: job.map), to: job.url, threads: 1) }
        lock.lock()
        tiles[i] = tile
        if case .failure(let error) = result, failure == nil { failure = error }
        lock.unlock()
    }
    if let failure { throw failure }
    let photo = renderer.photoTile(lines: [image.url.lastPathComponent, "\(image.original.width)x\(image.original.height)", seen])
    let panelURL = directory.appendingPathComponent("\(stem)-panel.png")
    try writePNG(renderer.panel([photo] + tiles.compactMap { $0 }), to: panelURL)
    entry.panel = panelURL.path
}

/// The label note of a map with its significant patches outlined.
func significanceNote(_ significant: [Int]) -> String {
    significant.isEmpty ? "no patch significant" : "outlined: \(significant.count) significant"
}

/// Encodes and writes a PNG atomically, compressing on up to `threads` cores.
/// - Throws: `WorkbenchError.failed` naming the file.
public func writePNG(_ image: RGBImage, to url: URL, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
    let data: Data
    do { data = try encodePNG(image, threads: threads) } catch {
        throw WorkbenchError.failed("\(url.path): cannot encode the image (\(error))")
    }
    try SafeWrite.write(data, to: url, what: "image", createFolder: true)
}

/// Encodes and writes a JPEG atomically (the report's thumbnails).
/// - Throws: `WorkbenchError.failed` naming the file.
public func writeJPEG(_ image: RGBImage, to url: URL, quality: Int = 90) throws {
    let data: Data
    do { data = try encodeJPEG(image, quality: quality) } catch {
        throw WorkbenchError.failed("\(url.path): cannot encode the image (\(error))")
    }
    try SafeWrite.write(data, to: url, what: "image", createFolder: true)
}
