// Localisation against boxes: the energy-based pointing game (positive mass inside the box, Wang et al.
// 2020, "Score-CAM", section 4.3) and the pointing game (Zhang et al. 2018, "Top-down Neural Attention by
// Excitation Backprop": is the map's maximum inside the box).
//
// Letters: P patches (gh * gw), row-major.

/// A rectangle in pixels of some image: x0 <= x < x1, y0 <= y < y1.
public struct PixelBox: Codable, Sendable, Equatable {
    public var x0: Double, y0: Double, x1: Double, y1: Double

    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }

    func contains(x: Double, y: Double) -> Bool { x >= x0 && x < x1 && y >= y0 && y < y1 }
}

/// Where one or more boxes (their union) fall on a patch grid.
public struct BoxCoverage: Sendable, Equatable {
    /// Per patch: the fraction of its area inside the union of the boxes, 0...1. (P)
    public var fraction: [Float]
    /// Per patch: whether its centre is inside a box. (P)
    public var centreInside: [Bool]
    /// The fraction of the grid's area inside the boxes: what a uniform map puts in them (chance).
    public var share: Float { fraction.isEmpty ? 0 : fraction.reduce(0, +) / Float(fraction.count) }

    public init(fraction: [Float], centreInside: [Bool]) {
        self.fraction = fraction
        self.centreInside = centreInside
    }

    /// The coverage of `boxes` on a gh x gw grid laid over `region` (the part of the image the model saw,
    /// in the boxes' pixels). Each patch is sampled at 16 x 16 points, so a union of overlapping boxes
    /// counts once.
    public init(boxes: [PixelBox], gridHeight gh: Int, gridWidth gw: Int,
                region: (x: Double, y: Double, width: Double, height: Double)) {
        let samples = 16
        let pw = region.width / Double(gw), ph = region.height / Double(gh)
        var fraction = [Float](repeating: 0, count: gh * gw)
        var centre = [Bool](repeating: false, count: gh * gw)
        for r in 0..<gh {
            for c in 0..<gw {
                let left = region.x + Double(c) * pw, top = region.y + Double(r) * ph
                var inside = 0
                for sy in 0..<samples {
                    let y = top + (Double(sy) + 0.5) * ph / Double(samples)
                    for sx in 0..<samples {
                        let x = left + (Double(sx) + 0.5) * pw / Double(samples)
                        if boxes.contains(where: { $0.contains(x: x, y: y) }) { inside += 1 }
                    }
                }
                fraction[r * gw + c] = Float(inside) / Float(samples * samples)
                centre[r * gw + c] = boxes.contains { $0.contains(x: left + pw / 2, y: top + ph / 2) }
            }
        }
        self.init(fraction: fraction, centreInside: centre)
    }
}

/// How well one map points at a box.
public struct BoxLocalisation: Codable, Sendable, Equatable {
    /// The share of the map's positive mass (sum of max(s, 0)) inside the boxes, each patch counted by the
    /// fraction of it inside; 0 when the map has no positive value.
    public var massInBox: Float
    /// The pointing game: the patch of largest (positive) value has its centre inside a box. False when
    /// the map has no positive value.
    public var pointingHit: Bool
    /// The boxes' share of the grid: the mass a uniform map would put inside (chance level).
    public var boxShare: Float

    /// - Parameters:
    ///   - map: P values, row-major; signed maps count only their evidence (positive values).
    ///   - coverage: the boxes on the same grid.
    public init(map: [Float], coverage: BoxCoverage) {
        precondition(map.count == coverage.fraction.count, "map and coverage must have one grid")
        var total: Float = 0, inside: Float = 0
        var best = -1
        for i in map.indices where map[i].isFinite && map[i] > 0 {
            total += map[i]
            inside += map[i] * coverage.fraction[i]
            if best < 0 || map[i] > map[best] { best = i }
        }
        massInBox = total > 0 ? inside / total : 0
        pointingHit = best >= 0 && coverage.centreInside[best]
        boxShare = coverage.share
    }
}
