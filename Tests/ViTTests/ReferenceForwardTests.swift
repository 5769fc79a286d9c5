import Foundation
import Testing
import TestSupport
import ViT

/// The forward pass on the real model against PyTorch (transformers Dinov2Model), fixtures from
/// scripts/reference/make_fixtures.py.
@Suite(.enabled(if: Reference.available, "the real model is not installed (run `cdam model fetch`)"))
struct ReferenceForwardTests {
    @Test(arguments: ["forward_random224", "forward_random224x336", "forward_chelsea"])
    func forwardMatchesPyTorch(_ name: String) throws {
        let model = try Reference.model()
        let f = try Reference.fixture("\(name).safetensors")
        let shape = f.entries["input"]!.shape   // [1, 3, H, W]
        let h = shape[2], w = shape[3]
        let result = try model.forward(pixels: try f.floats("input"), batch: 1, height: h, width: w,
                                       options: ForwardOptions(allTokens: true, keep: .lastBlock))
        var checks: [(String, [Float], [Float], Float, Bool)] = [
            ("cls", result.cls.array, try f.floats("cls"), 1e-4, true),
            ("tokens", result.finalTokens!.array, try f.floats("tokens"), 1e-4, true),
        ]
        if f.entries["norm1_last"] != nil {
            checks.append(("norm1_last", result.lastNorm1!.array, try f.floats("norm1_last"), 1e-4, true))
        }
        let probs = result.caches.last!!.probs, n = result.tokens
        if f.entries["attn_last"] != nil {
            checks.append(("attn_last", probs.array, try f.floats("attn_last"), 1e-5, false))
        }
        if f.entries["attn_last_cls"] != nil {
            let clsRows = (0..<model.config.heads).flatMap { hd in probs.slice(hd * n * n, n) }
            checks.append(("attn_last_cls", clsRows, try f.floats("attn_last_cls"), 1e-5, false))
        }
        for (tensor, ours, theirs, tolerance, relative) in checks {
            let (worst, scale) = worstDifference(ours, theirs)
            let limit = relative ? tolerance * scale : tolerance
            print("\(name) \(tensor): max |swift - torch| = \(worst) (limit \(limit))")
            #expect(worst <= limit, "\(name) \(tensor): \(worst) > \(limit)")
        }
    }

    /// Batching does not change the result: image i of a batch equals image i run alone.
    @Test func batchedEqualsSingle() throws {
        let model = try Reference.model()
        let a = try Reference.fixture("forward_random224.safetensors").floats("input")
        let b = try Reference.fixture("forward_chelsea.safetensors").floats("input")
        let batched = try model.forward(pixels: a + b, batch: 2, height: 224, width: 224)
        let single = try model.forward(pixels: b, batch: 1, height: 224, width: 224)
        let (worst, scale) = worstDifference(batched.embedding(1), single.embedding(0))
        #expect(worst <= 1e-5 * scale)
    }
}
