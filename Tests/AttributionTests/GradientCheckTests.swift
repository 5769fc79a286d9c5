import Concepts
import Foundation
import Testing
import TensorMath
import ViT
import Attribution

/// The hand-written backward passes against central finite differences on a tiny random model.
struct GradientCheckTests {
    static func image(_ tiny: TinyModel, height: Int = 6, width: Int = 4, seed: UInt64 = 7) -> [Float] {
        var rng = SplitMix(seed: seed)
        return (0..<(3 * height * width)).map { _ in rng.normal() }
    }

    static func targets(width d: Int) -> [Target] {
        var rng = SplitMix(seed: 11)
        let w = (0..<d).map { _ in rng.normal() }, c = (0..<d).map { _ in rng.normal() }
        return [Target(name: "probe", kind: .probe, direction: w, bias: 0.3),
                Target(name: "cos", kind: .cosine, direction: c),
                Target(name: "mean", kind: .mean, direction: c)]
    }

    @Test(arguments: [ViTConfiguration.Family.dinov2, .vit], [false, true])
    func cdamGradientMatchesFiniteDifferences(family: ViTConfiguration.Family, allTokens: Bool) throws {
        let tiny = TinyModel(family: family)
        let model = tiny.model, d = tiny.config.hiddenSize
        let pixels = Self.image(tiny)
        let result = try model.forward(pixels: pixels, batch: 1, height: 6, width: 4,
                                       options: ForwardOptions(allTokens: allTokens, keep: .lastBlock))
        let targets = Self.targets(width: d)
        let out = cdam(model, result, image: 0, targets: targets, keepGradients: true)
        let cache = result.caches.last!!
        let n = result.tokens
        let ref = DoubleLastBlock(model)
        let t0 = (0..<n).map { i in (0..<d).map { Double(cache.norm1Out[i * d + $0]) } }
        let xCLS = (0..<d).map { Double(cache.input[$0]) }

        // The Double reference reproduces the Float forward pass.
        let eRef = ref.clsEmbedding(t: t0, xCLS: xCLS)
        let e = result.embedding(0)
        for j in 0..<d { #expect(abs(eRef[j] - Double(e[j])) < 1e-4) }

        for (k, target) in targets.enumerated() {
            func f(_ t: [[Double]]) -> Double {
                let e = ref.clsEmbedding(t: t, xCLS: xCLS)
                let w = target.direction.map(Double.init)
                let dot = zip(e, w).map(*).reduce(0, +)
                if target.isCosine {
                    return dot / (e.map { $0 * $0 }.reduce(0, +).squareRoot() * w.map { $0 * $0 }.reduce(0, +).squareRoot())
                }
                return dot + Double(target.bias)
            }
            var worst = 0.0, scale = 0.0
            var fdMap = [Double](repeating: 0, count: n - 1)
            for i in 0..<n {
                for j in 0..<d {
                    var tp = t0, tm = t0
                    let h = 1e-5
                    tp[i][j] += h; tm[i][j] -= h
                    let g = (f(tp) - f(tm)) / (2 * h)
                    let analytic = Double(out.gradients![(k * n + i) * d + j])
                    worst = max(worst, abs(g - analytic))
                    scale = max(scale, abs(g))
                    if i > 0 { fdMap[i - 1] += t0[i][j] * g }
                }
            }
            print("CDAM gradient \(family) allTokens=\(allTokens) \(target.name): max |G - FD| = \(worst) (max |G| \(scale))")
            #expect(worst <= 1e-3 * scale + 1e-6)
            for i in 0..<(n - 1) { #expect(abs(Double(out.maps[k][i]) - fdMap[i]) <= 1e-3 * scale + 1e-6) }
        }
    }

    /// The general block backward (used by RP) agrees with the multi-target CDAM path on G.
    @Test func blockBackwardAgreesWithMultiTargetPath() throws {
        let tiny = TinyModel()
        let model = tiny.model, d = tiny.config.hiddenSize
        let result = try model.forward(pixels: Self.image(tiny), batch: 1, height: 6, width: 4,
                                       options: ForwardOptions(keep: .allBlocks))
        let target = Self.targets(width: d)[0]
        let out = cdam(model, result, image: 0, targets: [target], keepGradients: true)
        let dCLS = FloatBuffer(target.gradient(result.embedding(0)))
        let dOut = model.finalNormBackward(result, dCLS: dCLS)
        let grads = model.blockBackward(1, cache: result.caches[1]!, dOutput: dOut)
        for i in 0..<grads.dNorm1Out.count {
            #expect(abs(grads.dNorm1Out[i] - out.gradients![i]) < 1e-4)
        }
    }

    /// The full backward through every block, against finite differences of the Float model over its input tokens.
    @Test func fullBackwardMatchesFiniteDifferences() throws {
        let tiny = TinyModel()
        let model = tiny.model, d = tiny.config.hiddenSize
        let tokens = Self.image(tiny).withUnsafeBufferPointer { model.embed(pixels: $0.baseAddress!, batch: 1, height: 6, width: 4) }
        let n = tokens.count / d
        let target = Self.targets(width: d)[0]
        let result = model.encode(tokens: tokens, batch: 1, count: n, gridHeight: 3, gridWidth: 2,
                                  options: ForwardOptions(keep: .allBlocks))
        var dX = model.finalNormBackward(result, dCLS: FloatBuffer(target.gradient(result.embedding(0))))
        for l in stride(from: 1, through: 0, by: -1) {
            dX = model.blockBackward(l, cache: result.caches[l]!, dOutput: dX).dInput
        }
        func f(_ t: FloatBuffer) -> Double {
            Double(target.score(model.encode(tokens: t, batch: 1, count: n, gridHeight: 3, gridWidth: 2).embedding(0)))
        }
        var worst: Double = 0, scale: Double = 0
        for i in 0..<tokens.count {
            let tp = FloatBuffer(tokens.array), tm = FloatBuffer(tokens.array)
            let h: Float = 1e-2
            tp[i] += h; tm[i] -= h
            let g = (f(tp) - f(tm)) / Double(2 * h)
            worst = max(worst, abs(g - Double(dX[i])))
            scale = max(scale, abs(g))
        }
        print("full backward: max |dX - FD| = \(worst) (max |dX| \(scale))")
        #expect(worst <= 2e-2 * scale)
    }
}
