// Signed heatmaps for CDAM maps (Brocki & Chung 2023): diverging colormap with black at 0,
// warm hues for evidence, cold hues for counter-evidence; nearest (the paper's) or bilinear
// upsampling of the patch grid.

/// How a signed patch map becomes colours.
public struct HeatmapStyle: Sendable, Equatable {
    /// How scores are brought to -1...1.
    public enum Scaling: Sendable, Equatable {
        /// Both signs divided by the largest |s|: colours compare across signs.
        case symmetric
        /// Positive scores divided by the maximum, negative ones by |minimum| (the paper's):
        /// each side uses its full colour range.
        case asymmetric
    }
    /// How the patch grid is stretched to pixels.
    public enum Upsampling: Sendable, Equatable {
        /// Each patch a flat square (the paper's).
        case nearest
        /// Bilinear between patch centres.
        case bilinear
    }

    /// How scores are brought to -1...1.
    public var scaling: Scaling
    /// Clip scores at this lower quantile and at 1 minus it before scaling (0.001 clips at
    /// 0.1% / 99.9%), so a few extreme patches do not wash out the rest; nil: no clipping.
    public var clipQuantile: Float?
    /// How the patch grid is stretched to pixels.
    public var upsampling: Upsampling

    /// A style; the default is symmetric, unclipped, nearest.
    public init(scaling: Scaling = .symmetric, clipQuantile: Float? = nil, upsampling: Upsampling = .nearest) {
        self.scaling = scaling
        self.clipQuantile = clipQuantile
        self.upsampling = upsampling
    }

    /// The CDAM notebook's rendering: asymmetric scaling, 0.1% clipping, nearest upsampling.
    public static let paper = HeatmapStyle(scaling: .asymmetric, clipQuantile: 0.001, upsampling: .nearest)
}

/// Colour anchors from 0 to 1 for each sign; lightness rises monotonically on both sides, so
/// strength reads the same way for evidence and counter-evidence.
private let evidenceAnchors: [(Float, Float, Float)] = [(0, 0, 0), (178, 12, 0), (255, 128, 0), (255, 240, 90)]
private let counterAnchors: [(Float, Float, Float)] = [(0, 0, 0), (0, 44, 190), (0, 150, 255), (150, 250, 255)]

/// The colour of a scaled score `t` in -1...1: black at 0, red to yellow for t > 0 (evidence),
/// blue to cyan for t < 0 (counter-evidence). Values outside -1...1 are clamped.
public func heatmapColor(_ t: Float) -> (r: UInt8, g: UInt8, b: UInt8) {
    guard t.isFinite else { return (0, 0, 0) }
    let anchors = t >= 0 ? evidenceAnchors : counterAnchors
    let x = min(abs(t), 1) * Float(anchors.count - 1)
    let i = min(Int(x), anchors.count - 2)
    let f = x - Float(i)
    let a = anchors[i], b = anchors[i + 1]
    func mix(_ u: Float, _ v: Float) -> UInt8 { UInt8((u + (v - u) * f).rounded()) }
    return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The map clipped and scaled to -1...1 as `style` says (non-finite scores count as 0).
public func scaledHeat(_ map: [Float], style: HeatmapStyle) -> [Float] {
    var v = map.map { $0.isFinite ? $0 : 0 }
    if let q = style.clipQuantile, q > 0, !v.isEmpty {
        let lo = quantile(v, Double(q)), hi = quantile(v, 1 - Double(q))
        v = v.map { min(max($0, lo), hi) }
    }
    switch style.scaling {
    case .symmetric:
        let m = v.reduce(0) { max($0, abs($1)) }
        return m > 0 ? v.map { $0 / m } : v.map { _ in 0 }
    case .asymmetric:
        let hi = v.max() ?? 0, lo = v.min() ?? 0
        return v.map { $0 > 0 ? (hi > 0 ? $0 / hi : 0) : $0 < 0 ? (lo < 0 ? -$0 / lo : 0) : 0 }
    }
}

/// Linear-interpolated quantile, as numpy's default.
func quantile(_ values: [Float], _ q: Double) -> Float {
    let s = values.sorted()
    let pos = q * Double(s.count - 1)
    let i = Int(pos.rounded(.down)), j = min(i + 1, s.count - 1)
    let f = Float(pos - Double(i))
    return s[i] + (s[j] - s[i]) * f
}

/// Renders a row-major gridHeight x gridWidth signed map as a width x height colour image.
public func renderHeatmap(_ map: [Float], gridHeight: Int, gridWidth: Int, width: Int, height: Int,
                          style: HeatmapStyle) -> RGBImage {
    precondition(map.count == gridHeight * gridWidth && gridHeight > 0 && gridWidth > 0,
                 "renderHeatmap: \(map.count) scores for a \(gridHeight) x \(gridWidth) grid")
    let t = scaledHeat(map, style: style)
    var out = [UInt8](repeating: 0, count: width * height * 3)
    // A 1024-entry colour table: finer than 8-bit output needs.
    let steps = 1024
    let table = (0...(2 * steps)).map { heatmapColor(Float($0 - steps) / Float(steps)) }
    func color(_ v: Float) -> (r: UInt8, g: UInt8, b: UInt8) {
        table[Int((min(max(v, -1), 1) * Float(steps)).rounded()) + steps]
    }
    let sx = Float(gridWidth) / Float(width), sy = Float(gridHeight) / Float(height)
    for y in 0..<height {
        for x in 0..<width {
            let v: Float
            switch style.upsampling {
            case .nearest:
                let gx = min(Int(Float(x) * sx), gridWidth - 1), gy = min(Int(Float(y) * sy), gridHeight - 1)
                v = t[gy * gridWidth + gx]
            case .bilinear:
                let fx = min(max((Float(x) + 0.5) * sx - 0.5, 0), Float(gridWidth - 1))
                let fy = min(max((Float(y) + 0.5) * sy - 0.5, 0), Float(gridHeight - 1))
                let x0 = Int(fx), y0 = Int(fy)
                let x1 = min(x0 + 1, gridWidth - 1), y1 = min(y0 + 1, gridHeight - 1)
                let ax = fx - Float(x0), ay = fy - Float(y0)
                let top = t[y0 * gridWidth + x0] * (1 - ax) + t[y0 * gridWidth + x1] * ax
                let bottom = t[y1 * gridWidth + x0] * (1 - ax) + t[y1 * gridWidth + x1] * ax
                v = top * (1 - ay) + bottom * ay
            }
            let c = color(v)
            let i = (y * width + x) * 3
            out[i] = c.r; out[i + 1] = c.g; out[i + 2] = c.b
        }
    }
    return RGBImage(width: width, height: height, pixels: out)
}

/// Blends `heat` over `image` (same size): opacity 0 shows the image, 1 the heatmap.
public func overlay(_ image: RGBImage, _ heat: RGBImage, opacity: Float) -> RGBImage {
    precondition(image.width == heat.width && image.height == heat.height,
                 "overlay: image \(image.width) x \(image.height), heatmap \(heat.width) x \(heat.height)")
    let a = min(max(opacity, 0), 1)
    var out = image.pixels
    for i in 0..<out.count {
        out[i] = UInt8((Float(image.pixels[i]) * (1 - a) + Float(heat.pixels[i]) * a).rounded())
    }
    return RGBImage(width: image.width, height: image.height, pixels: out)
}

/// Panels left to right, vertically centred on a white background, `gap` pixels apart.
public func sideBySide(_ panels: [RGBImage], gap: Int = 4) -> RGBImage {
    guard !panels.isEmpty else { return RGBImage(width: 0, height: 0, pixels: []) }
    let height = panels.map(\.height).max()!
    let width = panels.map(\.width).reduce(0, +) + gap * (panels.count - 1)
    var out = RGBImage(width: width, height: height, fill: (255, 255, 255))
    var left = 0
    for p in panels {
        let top = (height - p.height) / 2
        for y in 0..<p.height {
            let d = ((top + y) * width + left) * 3, s = y * p.width * 3
            out.pixels.replaceSubrange(d..<(d + p.width * 3), with: p.pixels[s..<(s + p.width * 3)])
        }
        left += p.width + gap
    }
    return out
}

/// The colour scale from -1 (left, counter-evidence) through 0 (black) to +1 (right,
/// evidence), with small white ticks at both ends and the centre along the bottom edge.
public func colorLegend(width: Int, height: Int) -> RGBImage {
    var out = RGBImage(width: width, height: height)
    let tickRows = max(1, height / 5)
    for x in 0..<width {
        let t = width > 1 ? Float(x) / Float(width - 1) * 2 - 1 : 0
        let c = heatmapColor(t)
        let tick = x == 0 || x == width - 1 || x == width / 2
        for y in 0..<height {
            let i = (y * width + x) * 3
            let white = tick && y >= height - tickRows
            out.pixels[i] = white ? 255 : c.r
            out.pixels[i + 1] = white ? 255 : c.g
            out.pixels[i + 2] = white ? 255 : c.b
        }
    }
    return out
}
