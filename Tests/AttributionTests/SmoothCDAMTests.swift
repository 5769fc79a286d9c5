import Concepts
import Foundation
import Testing
import TestSupport
import TensorMath
import ViT
import Attribution

/// Smooth CDAM and Integrated CDAM: properties on the tiny model, then the real model against PyTorch
/// autograd (scripts/reference/smooth_reference.py, the noise drawn there and read from the fixture).
struct SmoothCDAMTests {
    static func settings(_ change: (inout AveragedMapSettings) -> Void) -> AveragedMapSettings {
        var s = AveragedMapSettings()
        change(&s)
        return s
    }

    static func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
        zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    @Test func lastBlockForwardIsTheFunctionOfT() throws {
        let tiny = TinyModel()
        let model = tiny.model, d = tiny.config.hiddenSize
        let full = try model.forward(pixels: GradientCheckTests.image(tiny), batch: 1, height: 6, width: 4,
                                     options: ForwardOptions(keep: .lastBlock))
        let cache = full.caches.last!!
        let n = full.tokens
        // Unperturbed, the last block alone reproduces the whole pass.
        let same = model.lastBlockForward(input: cache.input, norm1Out: cache.norm1Out, batch: 1, gridHeight: 3, gridWidth: 2)
        #expect(zip(same.embedding(0), full.embedding(0)).allSatisfy { abs($0 - $1) < 1e-5 })
        // Two perturbed versions in one batch, against the Double last block with x fixed.
        var rng = SplitMix(seed: 4)
        let perturbed = FloatBuffer((0..<(2 * n * d)).map { cache.norm1Out[$0 % (n * d)] + 0.3 * rng.normal() })
        let r = model.lastBlockForward(input: cache.input, norm1Out: perturbed, batch: 2, gridHeight: 3, gridWidth: 2)
        let ref = DoubleLastBlock(model)
        let xCLS = (0..<d).map { Double(cache.input[$0]) }
        for b in 0..<2 {
            let t = (0..<n).map { i in (0..<d).map { Double(perturbed[(b * n + i) * d + $0]) } }
            let e = ref.clsEmbedding(t: t, xCLS: xCLS)
            #expect(zip(e, r.embedding(b)).allSatisfy { abs($0 - Double($1)) < 1e-4 })
        }
    }

    @Test(arguments: AveragedMapSettings.Perturbation.allCases)
    func smoothIsSeededAndIndependentOfTheBatch(_ perturb: AveragedMapSettings.Perturbation) throws {
        let tiny = TinyModel()
        let pixels = GradientCheckTests.image(tiny), targets = GradientCheckTests.targets(width: 8)
        func run(_ change: (inout AveragedMapSettings) -> Void) throws -> AveragedCDAMResult {
            try smoothCDAM(tiny.model, pixels: pixels, height: 6, width: 4, targets: targets,
                           settings: Self.settings { $0.samples = 5; $0.perturb = perturb; change(&$0) })
        }
        let batched = try run { $0.batchSize = 16 }
        let unbatched = try run { $0.batchSize = 1 }
        let split = try run { $0.batchSize = 2 }
        #expect(Self.maxDifference(batched.maps, unbatched.maps) < 1e-4)
        #expect(Self.maxDifference(batched.maps, split.maps) < 1e-4)
        #expect(batched.maps.count == 3 && batched.maps[0].count == 6)
        #expect(perturb == .pixels ? batched.fullPasses == 5 : batched.lastBlockPasses == 5 && batched.fullPasses == 1)
        let otherSeed = try run { $0.seed = 1 }
        #expect(Self.maxDifference(batched.maps, otherSeed.maps) > 1e-4)
        // No noise: every copy is the image, and the mean is its CDAM map.
        let plain = cdam(tiny.model, try tiny.model.forward(pixels: pixels, batch: 1, height: 6, width: 4,
                                                            options: ForwardOptions(keep: .lastBlock)), image: 0, targets: targets)
        let noiseless = try run { $0.sigma = 0 }
        #expect(Self.maxDifference(noiseless.maps, plain.maps) < 1e-4)
    }

    @Test(arguments: AveragedMapSettings.Perturbation.allCases, AveragedMapSettings.Integration.allCases)
    func integratedOnAFlatPathIsCDAM(_ perturb: AveragedMapSettings.Perturbation, _ rule: AveragedMapSettings.Integration) throws {
        // A one-colour image is its own mean baseline: every point of the path is the image, the weights sum to 1.
        let tiny = TinyModel()
        let pixels = (0..<72).map { Float([0.3, -0.7, 1.1][$0 / 24]) }, targets = GradientCheckTests.targets(width: 8)
        let s = Self.settings { $0.steps = 3; $0.baseline = .mean; $0.integration = rule; $0.perturb = perturb; $0.batchSize = 2 }
        let integrated = try integratedCDAM(tiny.model, pixels: pixels, height: 6, width: 4, targets: targets, settings: s)
        let plain = cdam(tiny.model, try tiny.model.forward(pixels: pixels, batch: 1, height: 6, width: 4,
                                                            options: ForwardOptions(keep: .lastBlock)), image: 0, targets: targets)
        #expect(Self.maxDifference(integrated.maps, plain.maps) < 1e-4)
        let passes = rule == .trapezoid ? 4 : 3
        #expect(perturb == .pixels ? integrated.fullPasses == passes : integrated.lastBlockPasses == passes)
    }

    @Test func quadratureAndBaselines() {
        var s = AveragedMapSettings()
        s.steps = 4
        s.integration = .riemann
        #expect(s.pathPoints.map(\.alpha) == [0.25, 0.5, 0.75, 1])
        s.integration = .trapezoid
        #expect(s.pathPoints.map(\.weight) == [0.125, 0.25, 0.25, 0.25, 0.125])
        // A blur keeps a constant plane and the mean of a symmetric one; black is the normalised 0.
        let flat = [Float](repeating: 2, count: 3 * 8 * 8)
        #expect(baselineImage(.blurred, pixels: flat, height: 8, width: 8, black: s.blackPixel).allSatisfy { abs($0 - 2) < 1e-5 })
        #expect(abs(baselineImage(.black, pixels: flat, height: 8, width: 8, black: s.blackPixel)[64] - Float(-0.456 / 0.224)) < 1e-6)
    }
}

/// Against PyTorch autograd on the real model at 112 x 112: the fixture's noise, the targets of attr_chelsea.
@Suite(.enabled(if: Reference.available, "the real model is not installed (run `cdam model fetch`)"))
struct SmoothReferenceTests {
    static func compare(_ label: String, _ ours: [[Float]], _ f: SafetensorsFile, _ key: (String) -> String,
                        _ targets: [Target]) throws {
        for (k, t) in targets.enumerated() {
            let theirs = try f.floats(key(t.name))
            let r = pearson(ours[k], theirs)
            let (worst, scale) = worstDifference(ours[k], theirs)
            print("\(label) \(t.name): r = \(r), max |swift - torch| = \(worst / max(scale, .leastNormalMagnitude)) of max |map|")
            #expect(r >= 0.999, "\(label) \(t.name): r = \(r)")
            #expect(worst <= 1e-3 * scale, "\(label) \(t.name): \(worst) > 1e-3 x \(scale)")
        }
    }

    static func setup() throws -> (VisionTransformer, SafetensorsFile, [Float], [Target], AveragedMapSettings) {
        let f = try Reference.fixture("smooth_chelsea112.safetensors", in: "AttributionTests")
        let targets = try ReferenceMapTests.targets(try Reference.fixture("attr_chelsea.safetensors", in: "AttributionTests"))
        var s = AveragedMapSettings()
        s.sigma = try f.floats("settings.sigma")[0]
        s.steps = Int(try f.floats("settings.steps")[0])
        return (try Reference.model(), f, try f.floats("input"), targets, s)
    }

    @Test(arguments: AveragedMapSettings.Perturbation.allCases)
    func smoothMatchesAutograd(_ perturb: AveragedMapSettings.Perturbation) throws {
        var (model, f, input, targets, s) = try Self.setup()
        let noise = try f.floats("noise.\(perturb.rawValue)")
        s.samples = f.entries["noise.\(perturb.rawValue)"]!.shape[0]
        s.perturb = perturb
        s.batchSize = 2   // two forward passes: the batches' seam is covered too
        let out = try smoothCDAM(model, pixels: input, height: 112, width: 112, targets: targets, settings: s, noise: noise)
        try Self.compare("smooth \(perturb.rawValue)", out.maps, f, { "smooth.\(perturb.rawValue).\($0)" }, targets)
        // The plain map differs: the smoothing is not a no-op at this sigma.
        #expect(pearson(out.maps[0], try f.floats("cdam.mean")) < 0.999)
    }

    @Test(arguments: AveragedMapSettings.Perturbation.allCases, AveragedMapSettings.Integration.allCases)
    func integratedMatchesAutograd(_ perturb: AveragedMapSettings.Perturbation, _ rule: AveragedMapSettings.Integration) throws {
        var (model, f, input, targets, s) = try Self.setup()
        s.perturb = perturb
        s.integration = rule
        for baseline in AveragedMapSettings.Baseline.allCases {
            s.baseline = baseline
            let out = try integratedCDAM(model, pixels: input, height: 112, width: 112, targets: targets, settings: s)
            let label = "integrated \(perturb.rawValue) \(rule.rawValue) \(baseline.rawValue)"
            try Self.compare(label, out.maps, f, { "integrated.\(perturb.rawValue).\(rule.rawValue).\(baseline.rawValue).\($0)" }, targets)
        }
    }
}
