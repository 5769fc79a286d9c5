// Signed heatmaps for CDAM maps (Brocki & Chung 2023): diverging colormap with black at 0,
// warm hues for evidence, cold hues for counter-evidence; nearest (the paper's) or bilinear
// upsampling of the patch grid. Compose.swift blends them over the photo.

/// How a signed patch map becomes colours.
public struct HeatmapStyle: Sendable, Equatable {
    /// How scores are brought to -1...1.
    public enum Scaling: String, Sendable, Equatable, CaseIterable {
        /// Both signs divided by the largest |s|: colours compare across signs.
        case symmetric
        /// Positive scores divided by the maximum, negative ones by |minimum| (the paper's):
        /// each side uses its full colour range.
        case asymmetric
    }
    /// How the patch grid is stretched to pixels.
    public enum Upsampling: String, Sendable, Equatable, CaseIterable {
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
    let v = clipped(map, style: style)
    switch style.scaling {
    case .symmetric:
        let m = v.reduce(0) { max($0, abs($1)) }
        return m > 0 ? v.map { $0 / m } : v.map { _ in 0 }
    case .asymmetric:
        let hi = v.max() ?? 0, lo = v.min() ?? 0
        return v.map { $0 > 0 ? (hi > 0 ? $0 / hi : 0) : $0 < 0 ? (lo < 0 ? -$0 / lo : 0) : 0 }
    }
}

/// The map with non-finite scores as 0, clipped at `style`'s quantiles.
func clipped(_ map: [Float], style: HeatmapStyle) -> [Float] {
    let v = map.map { $0.isFinite ? $0 : 0 }
    guard let q = style.clipQuantile, q > 0, !v.isEmpty else { return v }
    let lo = quantile(v, Double(q)), hi = quantile(v, 1 - Double(q))
    return v.map { min(max($0, lo), hi) }
}

/// Linear-interpolated quantile, as numpy's default.
func quantile(_ values: [Float], _ q: Double) -> Float {
    let s = values.sorted()
    let pos = q * Double(s.count - 1)
    let i = Int(pos.rounded(.down)), j = min(i + 1, s.count - 1)
    let f = Float(pos - Double(i))
    return s[i] + (s[j] - s[i]) * f
}

/// The scores that the ends of the colour scale stand for after `style`'s clipping: (-m, +m) with m the
/// largest |s| for symmetric scaling, (min, max) for asymmetric (0 for a side without scores).
public func heatRange(_ map: [Float], style: HeatmapStyle) -> (low: Float, high: Float) {
    let v = clipped(map, style: style)
    switch style.scaling {
    case .symmetric:
        let m = v.reduce(0) { max($0, abs($1)) }
        return (-m, m)
    case .asymmetric:
        return (min(v.min() ?? 0, 0), max(v.max() ?? 0, 0))
    }
}
