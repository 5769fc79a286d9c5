// Composing the pictures: a signed map blended over the original image (neutral patches transparent),
// labelled tiles, grids of tiles and the colour bar. Workbench/Overlays.swift puts them together.

/// A rectangle in pixels (fractional: a patch grid need not fall on whole pixels).
public struct PixelRect: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}

/// The colour a scaled score `t` in -1...1 is drawn in over a photo: the heatmap colours from their
/// first anchor on (deep red / deep blue, rising to yellow / cyan), since the photo, not black, shows
/// where the map is neutral.
public func overlayColor(_ t: Float) -> (r: UInt8, g: UInt8, b: UInt8) {
    guard t.isFinite, t != 0 else { return (0, 0, 0) }
    let m = min(abs(t), 1)
    return heatmapColor((t > 0 ? 1 : -1) * (1 / 3 + 2 / 3 * m))
}

/// How opaque the colour of a scaled score `t` is: `opacity` · √|t|, so neutral patches stay
/// transparent and weak evidence still shows.
public func overlayAlpha(_ t: Float, opacity: Float) -> Float {
    guard t.isFinite else { return 0 }
    return min(max(opacity, 0), 1) * min(abs(t), 1).squareRoot()
}

/// `image` resized (bicubic) so that its longer side is `side` pixels, the aspect ratio kept.
public func fitLongSide(_ image: RGBImage, _ side: Int) -> RGBImage {
    guard image.width > 0, image.height > 0 else { return image }
    let long = max(image.width, image.height)
    let w = max(1, Int((Double(image.width) * Double(side) / Double(long)).rounded()))
    let h = max(1, Int((Double(image.height) * Double(side) / Double(long)).rounded()))
    return (w == image.width && h == image.height) ? image : resizeBicubic(image, width: w, height: h)
}

/// The scale of the bitmap font for a picture `width` pixels wide: 1 below 360 px, 2 below 600, 3 from there
/// (rounded, so a portrait tile 400 px wide reads at the size of a landscape one 512 px wide).
public func labelScale(forWidth width: Int) -> Int { max(1, min(3, Int((Double(width) / 240).rounded()))) }

/// A row-major gridHeight x gridWidth map already scaled to -1...1 (`scaledHeat`) blended over `base`
/// inside `region` (the part of `base` the model saw); the rest of `base` is left as it is, with a thin
/// white outline around the region when it is not the whole image.
public func blendHeat(_ scaled: [Float], gridHeight gh: Int, gridWidth gw: Int, over base: RGBImage, region: PixelRect,
                      opacity: Float, upsampling: HeatmapStyle.Upsampling = .nearest) -> RGBImage {
    precondition(scaled.count == gh * gw && gh > 0 && gw > 0, "blendHeat: \(scaled.count) scores for a \(gh) x \(gw) grid")
    let steps = 1024
    var red = [Float](repeating: 0, count: 2 * steps + 1), green = red, blue = red, alpha = red
    for i in 0...(2 * steps) {
        let t = Float(i - steps) / Float(steps)
        let c = overlayColor(t)
        red[i] = Float(c.r); green[i] = Float(c.g); blue[i] = Float(c.b)
        alpha[i] = overlayAlpha(t, opacity: opacity)
    }
    var out = base
    let w = base.width, h = base.height
    let x0 = max(0, Int(region.x.rounded())), x1 = min(w, Int((region.x + region.width).rounded()))
    let y0 = max(0, Int(region.y.rounded())), y1 = min(h, Int((region.y + region.height).rounded()))
    guard x1 > x0, y1 > y0 else { return out }
    let sx = Double(gw) / region.width, sy = Double(gh) / region.height
    // Grid coordinates of each pixel centre.
    let fx = (x0..<x1).map { (Double($0) + 0.5 - region.x) * sx }
    let fy = (y0..<y1).map { (Double($0) + 0.5 - region.y) * sy }
    scaled.withUnsafeBufferPointer { t in
        out.pixels.withUnsafeMutableBufferPointer { px in
            for (j, gyf) in fy.enumerated() {
                let y = y0 + j
                for (i, gxf) in fx.enumerated() {
                    let v: Float
                    switch upsampling {
                    case .nearest:
                        let gx = min(max(Int(gxf), 0), gw - 1), gy = min(max(Int(gyf), 0), gh - 1)
                        v = t[gy * gw + gx]
                    case .bilinear:
                        let cx = Float(min(max(gxf - 0.5, 0), Double(gw - 1))), cy = Float(min(max(gyf - 0.5, 0), Double(gh - 1)))
                        let ax0 = Int(cx), ay0 = Int(cy)
                        let ax1 = min(ax0 + 1, gw - 1), ay1 = min(ay0 + 1, gh - 1)
                        let ax = cx - Float(ax0), ay = cy - Float(ay0)
                        let top = t[ay0 * gw + ax0] * (1 - ax) + t[ay0 * gw + ax1] * ax
                        let bottom = t[ay1 * gw + ax0] * (1 - ax) + t[ay1 * gw + ax1] * ax
                        v = top * (1 - ay) + bottom * ay
                    }
                    let k = v.isFinite ? Int((min(max(v, -1), 1) * Float(steps)).rounded()) + steps : steps
                    let a = alpha[k]
                    guard a > 0 else { continue }
                    let p = (y * w + x0 + i) * 3
                    px[p] = UInt8(Float(px[p]) * (1 - a) + red[k] * a + 0.5)
                    px[p + 1] = UInt8(Float(px[p + 1]) * (1 - a) + green[k] * a + 0.5)
                    px[p + 2] = UInt8(Float(px[p + 2]) * (1 - a) + blue[k] * a + 0.5)
                }
            }
        }
    }
    if x0 > 0 || y0 > 0 || x1 < w || y1 < h { out.outline(x0: x0, y0: y0, x1: x1, y1: y1, color: (255, 255, 255)) }
    return out
}

extension RGBImage {
    /// Fills the rectangle [x0, x1) x [y0, y1), clipped to the image.
    public mutating func fill(x0: Int, y0: Int, x1: Int, y1: Int, color: (r: UInt8, g: UInt8, b: UInt8)) {
        let w = width
        let xa = max(0, x0), xb = min(width, x1), ya = max(0, y0), yb = min(height, y1)
        guard xb > xa, yb > ya else { return }
        pixels.withUnsafeMutableBufferPointer { px in
            for y in ya..<yb { for x in xa..<xb {
                let i = (y * w + x) * 3
                px[i] = color.r; px[i + 1] = color.g; px[i + 2] = color.b
            } }
        }
    }

    /// A one-pixel frame just inside the rectangle [x0, x1) x [y0, y1).
    public mutating func outline(x0: Int, y0: Int, x1: Int, y1: Int, color: (r: UInt8, g: UInt8, b: UInt8)) {
        fill(x0: x0, y0: y0, x1: x1, y1: y0 + 1, color: color)
        fill(x0: x0, y0: y1 - 1, x1: x1, y1: y1, color: color)
        fill(x0: x0, y0: y0, x1: x0 + 1, y1: y1, color: color)
        fill(x0: x1 - 1, y0: y0, x1: x1, y1: y1, color: color)
    }

    /// Copies `source` with its top-left corner at (`x`, `y`), clipped to the image.
    public mutating func paste(_ source: RGBImage, x: Int, y: Int) {
        let w = width
        for row in 0..<source.height {
            let ty = y + row
            guard ty >= 0, ty < height else { continue }
            let xa = max(0, x), xb = min(width, x + source.width)
            guard xb > xa else { continue }
            let d = (ty * w + xa) * 3, s = (row * source.width + (xa - x)) * 3
            pixels.replaceSubrange(d..<(d + (xb - xa) * 3), with: source.pixels[s..<(s + (xb - xa) * 3)])
        }
    }
}

/// `image` under a white strip holding `lines` of dark text (the first in black, the others grey), cut
/// with ".." to the image's width.
public func labelled(_ image: RGBImage, lines: [String], scale: Int) -> RGBImage {
    let pad = 3 * scale, line = BitmapFont.lineHeight(scale: scale)
    let strip = lines.isEmpty ? 0 : pad + lines.count * line
    var out = RGBImage(width: image.width, height: image.height + strip, fill: (255, 255, 255))
    for (i, text) in lines.enumerated() {
        let fitted = BitmapFont.fit(text, maxWidth: image.width - 2 * pad, scale: scale)
        out.draw(text: fitted, x: pad, y: pad + i * line, scale: scale, color: i == 0 ? (0, 0, 0) : (70, 70, 70))
    }
    out.paste(image, x: 0, y: strip)
    return out
}

/// Tiles in rows of `columns` (left to right, top to bottom), `gap` pixels apart on a white ground;
/// each cell as large as the largest tile, tiles at its top left.
public func tileGrid(_ tiles: [RGBImage], columns: Int, gap: Int) -> RGBImage {
    guard !tiles.isEmpty else { return RGBImage(width: 0, height: 0, pixels: []) }
    let cols = max(1, min(columns, tiles.count)), rows = (tiles.count + cols - 1) / cols
    let cw = tiles.map(\.width).max()!, ch = tiles.map(\.height).max()!
    var out = RGBImage(width: cols * cw + (cols - 1) * gap, height: rows * ch + (rows - 1) * gap, fill: (255, 255, 255))
    for (i, tile) in tiles.enumerated() {
        out.paste(tile, x: (i % cols) * (cw + gap), y: (i / cols) * (ch + gap))
    }
    return out
}

/// Images one under another, left-aligned, `gap` pixels apart on a white ground.
public func stacked(_ images: [RGBImage], gap: Int) -> RGBImage {
    let parts = images.filter { $0.width > 0 && $0.height > 0 }
    guard !parts.isEmpty else { return RGBImage(width: 0, height: 0, pixels: []) }
    var out = RGBImage(width: parts.map(\.width).max()!, height: parts.map(\.height).reduce(0, +) + gap * (parts.count - 1),
                       fill: (255, 255, 255))
    var top = 0
    for p in parts { out.paste(p, x: 0, y: top); top += p.height + gap }
    return out
}

/// The colour scale as the overlays draw it, from -1 (left) through transparent 0 to +1 (right), over
/// a light and dark checkerboard so that the transparency shows; `left`, `centre` and `right` are
/// written under its ends and middle.
public func colorBar(width: Int, scale: Int, opacity: Float, left: String, centre: String, right: String) -> RGBImage {
    let pad = 3 * scale, barHeight = 12 * scale, line = BitmapFont.lineHeight(scale: scale)
    let barWidth = max(1, width - 2 * pad)
    var out = RGBImage(width: width, height: pad + barHeight + scale * 3 + line, fill: (255, 255, 255))
    let cell = 4 * scale
    for x in 0..<barWidth {
        let t = barWidth > 1 ? Float(x) / Float(barWidth - 1) * 2 - 1 : 0
        let c = overlayColor(t), a = overlayAlpha(t, opacity: opacity)
        for y in 0..<barHeight {
            let ground: Float = ((x / cell) + (y / cell)) % 2 == 0 ? 225 : 110
            let i = ((pad + y) * width + pad + x) * 3
            out.pixels[i] = UInt8(ground * (1 - a) + Float(c.r) * a + 0.5)
            out.pixels[i + 1] = UInt8(ground * (1 - a) + Float(c.g) * a + 0.5)
            out.pixels[i + 2] = UInt8(ground * (1 - a) + Float(c.b) * a + 0.5)
        }
    }
    // Ticks at both ends and at 0.
    for x in [0, barWidth / 2, barWidth - 1] {
        out.fill(x0: pad + x, y0: pad + barHeight, x1: pad + x + 1, y1: pad + barHeight + 2 * scale, color: (0, 0, 0))
    }
    let textY = pad + barHeight + 3 * scale
    let room = barWidth / 3
    let l = BitmapFont.fit(left, maxWidth: room, scale: scale), c = BitmapFont.fit(centre, maxWidth: room, scale: scale)
    let r = BitmapFont.fit(right, maxWidth: room, scale: scale)
    out.draw(text: l, x: pad, y: textY, scale: scale, color: (0, 0, 0))
    out.draw(text: c, x: pad + (barWidth - BitmapFont.width(c, scale: scale)) / 2, y: textY, scale: scale, color: (0, 0, 0))
    out.draw(text: r, x: pad + barWidth - BitmapFont.width(r, scale: scale), y: textY, scale: scale, color: (0, 0, 0))
    return out
}

/// A photo-like synthetic image, for tests and benchmarks: smooth gradients, a few edges and noise (compresses like a photo, not like a flat fill).
public func photoLike(width: Int, height: Int, seed: UInt64 = 7) -> RGBImage {
    var state = seed
    var img = RGBImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Int(state >> 59) - 16
            let i = (y * width + x) * 3
            img.pixels[i] = UInt8(clamping: x * 255 / max(width, 1) + noise)
            img.pixels[i + 1] = UInt8(clamping: (x / 40 + y / 40) % 2 == 0 ? 180 + noise : 60 + noise)
            img.pixels[i + 2] = UInt8(clamping: y * 255 / max(height, 1) - noise)
        }
    }
    return img
}
