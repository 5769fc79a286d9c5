import Concepts
import Foundation
import Testing
import TestSupport
import TensorMath
import ViT
import Attribution

/// CDAM, AM, rollout, RP and TAM on the real model against PyTorch autograd (the paper's hook on the
/// last block's norm1), fixtures from scripts/reference/make_fixtures.py.
@Suite(.enabled(if: Reference.available, "the real model is not installed (run `cdam model fetch`)"))
struct ReferenceMapTests {
    static let inputs = [("attr_random224", "forward_random224"), ("attr_chelsea", "forward_chelsea")]

    static func targets(_ f: SafetensorsFile) throws -> [Target] {
        [Target(name: "mean", kind: .mean, direction: try f.floats("targets.mean.c")),
         Target(name: "contrast", kind: .contrast, direction: try f.floats("targets.contrast.c")),
         Target(name: "probe", kind: .probe, direction: try f.floats("targets.probe.w"), bias: try f.floats("targets.probe.b")[0]),
         Target(name: "cosine", kind: .cosine, direction: try f.floats("targets.cosine.c"))]
    }

    static func check(_ label: String, _ ours: [Float], _ theirs: [Float], relative: Float) {
        let (worst, scale) = worstDifference(ours, theirs)
        print("\(label): max |swift - torch| = \(worst), \(worst / max(scale, .leastNormalMagnitude)) of max |map| \(scale)")
        #expect(worst <= relative * scale, "\(label): \(worst) > \(relative * scale)")
    }

    /// All four targets in ONE batched backward; each map is compared with its own PyTorch reference.
    @Test(arguments: inputs)
    func cdamMatchesAutograd(_ attr: String, _ forward: String) throws {
        let model = try Reference.model()
        let f = try Reference.fixture("\(attr).safetensors", in: "AttributionTests")
        let input = try Reference.fixture("\(forward).safetensors").floats("input")
        let targets = try Self.targets(f)
        let result = try model.forward(pixels: input, batch: 1, height: 224, width: 224, options: ForwardOptions(keep: .lastBlock))
        let out = cdam(model, result, image: 0, targets: targets, keepGradients: true)
        let n = result.tokens, d = model.config.hiddenSize
        for (k, t) in targets.enumerated() {
            let score = try f.floats("\(t.name).score")[0]
            #expect(abs(out.scores[k] - score) <= 1e-4 * max(1, abs(score)), "\(attr) \(t.name) score \(out.scores[k]) vs \(score)")
            if f.entries["\(t.name).G"] != nil {
                Self.check("\(attr) \(t.name) G", out.gradients!.slice(k * n * d, n * d), try f.floats("\(t.name).G"), relative: 1e-3)
            }
            Self.check("\(attr) \(t.name) CDAM", out.maps[k], try f.floats("\(t.name).cdam"), relative: 1e-3)
        }
    }

    @Test(arguments: inputs)
    func attentionMapsMatch(_ attr: String, _ forward: String) throws {
        let model = try Reference.model()
        let f = try Reference.fixture("\(attr).safetensors", in: "AttributionTests")
        let input = try Reference.fixture("\(forward).safetensors").floats("input")
        let result = try model.forward(pixels: input, batch: 1, height: 224, width: 224,
                                       options: ForwardOptions(keep: .lastBlock, attentions: true))
        Self.check("\(attr) AM", attentionMap(model, result, image: 0), try f.floats("am"), relative: 1e-4)
        Self.check("\(attr) rollout", attentionRollout(model, result, image: 0), try f.floats("rollout"), relative: 1e-4)
    }

    @Test(arguments: inputs)
    func relevancePropagationMatches(_ attr: String, _ forward: String) throws {
        let model = try Reference.model()
        let f = try Reference.fixture("\(attr).safetensors", in: "AttributionTests")
        let input = try Reference.fixture("\(forward).safetensors").floats("input")
        let targets = try Self.targets(f)
        let result = try model.forward(pixels: input, batch: 1, height: 224, width: 224, options: ForwardOptions(keep: .allBlocks))
        let maps = relevancePropagation(model, result, image: 0, targets: targets)
        for (k, t) in targets.enumerated() {
            Self.check("\(attr) \(t.name) RP", maps[k], try f.floats("\(t.name).rp"), relative: 1e-3)
        }
    }

    @Test func tokenAblationMatches() throws {
        let model = try Reference.model()
        let f = try Reference.fixture("attr_chelsea.safetensors", in: "AttributionTests")
        let input = try Reference.fixture("forward_chelsea.safetensors").floats("input")
        let targets = try Self.targets(f)
        let full = try model.forward(pixels: input, batch: 1, height: 224, width: 224)
        let scorer = TokenSubsetScorer(model: model, pixels: input, height: 224, width: 224, targets: targets)
        // Every 8th patch keeps the test short; `cdam bench tam` times the whole map.
        let patches = Array(stride(from: 3, to: 256, by: 8))
        let maps = scorer.tokenAblationMaps(fullScores: targets.map { $0.score(full.embedding(0)) }, patches: patches)
        for (k, t) in targets.enumerated() {
            let all = try f.floats("\(t.name).tam")
            let ref = patches.map { all[$0] }
            // f(all) - f(without i) cancels most digits of f: compare against the scale of f itself too.
            let (worst, scale) = worstDifference(maps[k], ref)
            let score = abs(try f.floats("\(t.name).score")[0])
            print("attr_chelsea \(t.name) TAM: max |swift - torch| = \(worst) (max |map| \(scale), |f| \(score)), r = \(pearson(maps[k], ref))")
            #expect(worst <= 1e-2 * scale + 2e-6 * score)
            #expect(pearson(maps[k], ref) > 0.999)
        }
    }
}
