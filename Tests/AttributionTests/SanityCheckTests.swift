import Concepts
import Foundation
import Testing
import TensorMath
import ViT
import Attribution

/// The paper's evaluation figures (issue 14): randomisation, contrastivity, per-patch significance.
struct SanityCheckTests {
    @Test func randomizingTheLastBlockChangesOnlyItAndTheMap() throws {
        let tiny = TinyModel()
        let random = randomizedLastBlock(tiny.model, seed: 3)
        #expect(random.weights.blocks[0].qkv === tiny.model.weights.blocks[0].qkv)
        let before = tiny.model.weights.blocks[1].qkv.weight, after = random.weights.blocks[1].qkv.weight
        #expect((0..<before.count).contains { before.ptr[$0] != after.ptr[$0] })
        // Seeded: the same seed, the same weights.
        let again = randomizedLastBlock(tiny.model, seed: 3).weights.blocks[1].fc2.weight
        let first = random.weights.blocks[1].fc2.weight
        #expect((0..<first.count).allSatisfy { first.ptr[$0] == again.ptr[$0] })

        let pixels = GradientCheckTests.image(tiny)
        let targets = GradientCheckTests.targets(width: 8)
        let options = ForwardOptions(keep: .lastBlock)
        let original = cdam(tiny.model, try tiny.model.forward(pixels: pixels, batch: 1, height: 6, width: 4, options: options),
                            image: 0, targets: targets)
        let randomized = cdam(random, try random.forward(pixels: pixels, batch: 1, height: 6, width: 4, options: options),
                              image: 0, targets: targets)
        #expect(zip(original.maps[0], randomized.maps[0]).contains { abs($0 - $1) > 1e-4 })
    }

    @Test func spearmanRanks() {
        #expect(spearman([1, 2, 3, 4], [10, 20, 30, 400]) == 1)
        #expect(spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
        #expect(abs(spearman([1, 1, 2, 3], [1, 2, 3, 4]) - 0.9487) < 1e-3)   // ties share their mean rank
        #expect(spearman([1, 1, 1], [1, 2, 3]) == 0)
    }

    @Test func benjaminiHochbergRejectsTheRightOnes() {
        // m = 5, q = 0.05: thresholds 0.01, 0.02, 0.03, 0.04, 0.05; the largest k with p_(k) <= kq/m is 3.
        #expect(benjaminiHochberg([0.001, 0.5, 0.015, 0.029, 0.2], q: 0.05) == [0, 2, 3])
        #expect(benjaminiHochberg([0.3, 0.5], q: 0.05).isEmpty)
    }

    @Test func patchSignificance() {
        // 20 patches; the concept puts strong evidence on patches 0-4; random concepts are noise.
        var rng = SplitMix(seed: 5)
        let map: [Float] = (0..<20).map { $0 < 5 ? 10 : rng.normal() }
        let randoms = (0..<199).map { _ in (map: (0..<20).map { _ in rng.normal() * 2 }, norm: Float(2)) }
        let s = PatchSignificance(map: map.map { $0 * 3 }, norm: 3, randomMaps: randoms, q: 0.05)
        #expect(s.pValues.count == 20 && s.randomConcepts == 199)
        #expect(s.significant == [0, 1, 2, 3, 4])
        #expect(s.pValues[0] == 1.0 / 200)
    }

    @Test func contrastOfTwoMaps() {
        let a: [Float] = [1, 2, 0, -1], b: [Float] = [0, 0, 3, 1]
        let same = MapContrast(a: "a", b: "a", mapA: a, mapB: a)
        #expect(abs(same.correlation - 1) < 1e-6 && abs(same.evidenceOverlap - 1) < 1e-6)
        let apart = MapContrast(a: "a", b: "b", mapA: a, mapB: b)
        #expect(apart.evidenceOverlap == 0)
        #expect(apart.correlation < 0)
    }

    @Test func randomConceptsAreBuiltFromTheBackground() {
        var rng = SplitMix(seed: 9)
        let background = (0..<30).map { _ in (0..<6).map { _ in rng.normal() } }
        let randoms = ConceptBuilder.randomConcepts(kind: .centred, exampleCount: 4, background: background, count: 10, seed: 1)
        #expect(randoms.count == 10 && randoms.allSatisfy { $0.kind == .centred && $0.direction.count == 6 })
        #expect(ConceptBuilder.randomConcepts(kind: .centred, exampleCount: 4, background: background, count: 10, seed: 1) == randoms)
        #expect(ConceptBuilder.randomConcepts(kind: .mean, exampleCount: 40, background: background, count: 5).isEmpty)
    }
}
