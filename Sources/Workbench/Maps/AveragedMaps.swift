import Attribution
import Foundation
import Concepts
import Imaging
import ViT

/// Which settings produced the Smooth and Integrated CDAM maps of a document (`mapSettings` in JSON):
/// only the maps that were computed appear.
public struct MapSettings: Codable, Sendable, Equatable {
    public struct Smooth: Codable, Sendable, Equatable {
        public var samples: Int
        /// The noise's standard deviation as a fraction of the input's range.
        public var sigma: Float
        public var seed: UInt64
        public var perturb: AveragedMapSettings.Perturbation
        /// Passes through the whole model and through the last block only, per image.
        public var fullPasses: Int
        public var lastBlockPasses: Int
    }
    public struct Integrated: Codable, Sendable, Equatable {
        public var steps: Int
        public var baseline: AveragedMapSettings.Baseline
        public var integration: AveragedMapSettings.Integration
        public var perturb: AveragedMapSettings.Perturbation
        public var fullPasses: Int
        public var lastBlockPasses: Int
    }
    public var scdam: Smooth?
    public var icdam: Integrated?

    /// The settings of the averaged maps among `maps`; nil when there are none.
    public init?(maps: [MapKind], settings s: AveragedMapSettings) {
        let cost = Self.passes(maps: maps, settings: s)
        if maps.contains(.scdam) {
            scdam = Smooth(samples: s.samples, sigma: s.sigma, seed: s.seed, perturb: s.perturb,
                           fullPasses: cost.scdam.full, lastBlockPasses: cost.scdam.lastBlock)
        }
        if maps.contains(.icdam) {
            icdam = Integrated(steps: s.steps, baseline: s.baseline, integration: s.integration, perturb: s.perturb,
                               fullPasses: cost.icdam.full, lastBlockPasses: cost.icdam.lastBlock)
        }
        if scdam == nil && icdam == nil { return nil }
    }

    /// What each averaged map costs per image beyond the query's own forward pass (which `tokens` reuses).
    public static func passes(maps: [MapKind], settings s: AveragedMapSettings)
        -> (scdam: (full: Int, lastBlock: Int), icdam: (full: Int, lastBlock: Int)) {
        let points = s.pathPoints.count
        let smooth = s.perturb == .pixels ? (s.samples, 0) : (0, s.samples)
        let integrated = s.perturb == .pixels ? (points, 0) : (1, points)   // tokens: the baseline image's pass
        return (maps.contains(.scdam) ? smooth : (0, 0), maps.contains(.icdam) ? integrated : (0, 0))
    }

    /// One line for stderr saying what the averaged maps will cost, or nil when none is asked for.
    public static func costNote(maps: [MapKind], settings s: AveragedMapSettings, images: Int) -> String? {
        let cost = passes(maps: maps, settings: s)
        let full = cost.scdam.full + cost.icdam.full, last = cost.scdam.lastBlock + cost.icdam.lastBlock
        guard full + last > 0 else { return nil }
        let lastText = last > 0 ? " and \(last) last-block pass\(last == 1 ? "" : "es") (about 1/12 of one each)" : ""
        return "note: smooth/integrated CDAM run \(full) extra forward pass\(full == 1 ? "" : "es")\(lastText) per image"
            + (images > 1 ? " (\(images) images)" : "") + (s.perturb == .pixels && full >= 8 ? "; --perturb tokens needs only the last block" : "")
    }
}

extension AveragedMapSettings {
    /// The defaults, with black taken from the preprocessing's normalisation.
    public static var workbench: AveragedMapSettings {
        var s = AveragedMapSettings()
        s.blackPixel = zip(Preprocessing.mean, Preprocessing.std).map { Float(-$0 / $1) }
        return s
    }
}

/// Smooth and Integrated CDAM for `targets` of one prepared image, as `explain` asks for them.
/// `forward` is the image's pass that kept the last block (reused by `tokens`).
func averagedMaps(_ kinds: Set<MapKind>, image: PreparedImage, targets: [Target], settings: AveragedMapSettings,
                  model: VisionTransformer, forward: ForwardResult) throws -> [MapKind: [[Float]]] {
    let h = image.resized.height, w = image.resized.width
    var out: [MapKind: [[Float]]] = [:]
    if kinds.contains(.scdam) {
        out[.scdam] = try smoothCDAM(model, pixels: image.pixels, height: h, width: w, targets: targets, settings: settings,
                                     forward: forward).maps
    }
    if kinds.contains(.icdam) {
        out[.icdam] = try integratedCDAM(model, pixels: image.pixels, height: h, width: w, targets: targets, settings: settings,
                                         forward: forward).maps
    }
    return out
}
