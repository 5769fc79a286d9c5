import Concepts
import Foundation
import Testing
import TestSupport
import TensorMath
import ViT
import Attribution

/// Concepts at an earlier block: the network truncated after block L (its CLS, and CDAM at the tokens
/// entering block L's attention) against PyTorch autograd on the same truncation,
/// fixture from scripts/reference/layers_reference.py.
@Suite(.enabled(if: Reference.available, "the real model is not installed (run `cdam model fetch`)"))
struct TruncatedNetworkTests {
    @Test(arguments: [11, 10, 6])
    func cdamAtAnEarlierBlockMatchesAutograd(_ block: Int) throws {
        let model = try Reference.model().truncated(after: block)
        #expect(model.config.layers == block)
        let f = try Reference.fixture("layers_chelsea.safetensors", in: "AttributionTests")
        let input = try Reference.fixture("forward_chelsea.safetensors").floats("input")
        let targets = [
            Target(name: "probe", kind: .probe, direction: try f.floats("probe.w"), bias: try f.floats("probe.b")[0], block: block),
            Target(name: "cosine", kind: .cosine, direction: try f.floats("block\(block).cosine.c"), block: block),
        ]
        let result = try model.forward(pixels: input, batch: 1, height: 224, width: 224, options: ForwardOptions(keep: .lastBlock))
        let cls = try f.floats("block\(block).cls")
        let (clsWorst, clsScale) = worstDifference(result.embedding(0), cls)
        #expect(clsWorst <= 1e-3 * clsScale, "block \(block) CLS: \(clsWorst) of \(clsScale)")
        let out = cdam(model, result, image: 0, targets: targets)
        for (k, t) in targets.enumerated() {
            let score = try f.floats("block\(block).\(t.name).score")[0]
            #expect(abs(out.scores[k] - score) <= 1e-4 * max(1, abs(score)), "block \(block) \(t.name) score \(out.scores[k]) vs \(score)")
            ReferenceMapTests.check("block \(block) \(t.name) CDAM", out.maps[k], try f.floats("block\(block).\(t.name).cdam"), relative: 1e-3)
        }
    }

    @Test func truncationSharesWeightsAndRefusesMissingBlocks() throws {
        let model = try Reference.model()
        #expect(try model.truncated(after: model.config.layers) === model)
        #expect(try model.truncated(after: 11) === model.truncated(after: 11))
        #expect(throws: ModelError.self) { try model.truncated(after: 0) }
        #expect(throws: ModelError.self) { try model.truncated(after: 13) }
    }
}
