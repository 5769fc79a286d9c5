import Concepts
import Foundation
import Store
import Testing
@testable import Workbench

/// Figures a user can trust (issue 12): examples never pass for matches, contrast is "A and not B",
/// the background is guarded, held-out positives are measured, and percentiles make kinds comparable.
@Suite struct HonestFiguresTests {
    /// dogs/ (6), cats/ (6) and a collection "street" of 5 dogs, 5 cats and 10 cars, plus the examples
    /// themselves indexed into it (as a user who indexes everything would have them).
    func world(examplesInCollection: Bool = true) throws -> (Scratch, Store, FakeEmbedder) {
        let scratch = Scratch()
        for i in 0..<6 { scratch.image("dogs/d\(i).png", label: "dog", id: i) }
        for i in 0..<6 { scratch.image("cats/c\(i).png", label: "cat", id: i) }
        for i in 0..<5 { scratch.image("street/dog\(i).png", label: "dog", id: 100 + i) }
        for i in 0..<5 { scratch.image("street/cat\(i).png", label: "cat", id: 100 + i) }
        for i in 0..<10 { scratch.image("street/car\(i).png", label: "car", id: i) }
        for i in 0..<4 { scratch.image("held/h\(i).png", label: "dog", id: 200 + i) }
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        _ = try indexImages(directory: scratch.url.appendingPathComponent("street"), collection: "street", embedder: embedder, store: store)
        if examplesInCollection {
            _ = try indexImages(directory: scratch.url.appendingPathComponent("dogs"), collection: "street", embedder: embedder, store: store)
        }
        return (scratch, store, embedder)
    }

    @Test func searchLeavesExamplesOutAndMarksThemWhenAsked() throws {
        let (scratch, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                              embedder: embedder, store: store)
        let found = try searchConcept("dog", collection: "street", top: 10, store: store)
        #expect(found.excludedExamples == 6)
        #expect(found.results.allSatisfy { !$0.example && !$0.image.contains("/dogs/") })
        #expect(found.results.prefix(5).allSatisfy { $0.image.contains("/street/dog") })
        #expect(found.results.map(\.rank) == Array(1...10))
        let all = try searchConcept("dog", collection: "street", top: 26, includeExamples: true, store: store)
        #expect(all.excludedExamples == 0)
        #expect(all.results.filter(\.example).count == 6)
        #expect(all.results.filter(\.example).allSatisfy { $0.image.contains("/dogs/") })
        // Percentiles are among the searched images: the best is near 100.
        #expect((all.results.first?.percentile ?? 0) > 95)
        #expect(zip(all.results, all.results.dropFirst()).allSatisfy { ($0.percentile ?? 0) >= ($1.percentile ?? 0) })
    }

    @Test func contrastWithNegativesIsAAndNotB() throws {
        let (scratch, store, embedder) = try world()
        let contrast = try defineConcept(ConceptDefinition(name: "dog-not-cat", kind: .contrast, examples: ["dogs"], negatives: ["cats"],
                                                           background: "street", randomConcepts: 0, base: scratch.url.path),
                                         embedder: embedder, store: store)
        let centred = try defineConcept(ConceptDefinition(name: "dog-centred", kind: .centred, examples: ["dogs"], negatives: ["cats"],
                                                          background: "street", randomConcepts: 0, base: scratch.url.path),
                                        embedder: embedder, store: store)
        #expect(contrast.warnings == nil || !(contrast.warnings ?? []).contains { $0.contains("ranks exactly as") })
        let model = try #require(try store.model(named: "fake"))
        let c = try #require(try store.concept(named: "dog-not-cat", modelID: model.id))
        let z = try #require(try store.concept(named: "dog-centred", modelID: model.id))
        // The direction is mean(dogs) - mean(cats), not mean(dogs) - mean(background).
        let dogs = try (0..<6).map { try #require(embedder.embed([scratch.url.appendingPathComponent("dogs/d\($0).png")]).first?.get().embedding) }
        let cats = try (0..<6).map { try #require(embedder.embed([scratch.url.appendingPathComponent("cats/c\($0).png")]).first?.get().embedding) }
        func mean(_ rows: [[Float]], _ j: Int) -> Float { rows.reduce(Float(0)) { $0 + $1[j] } / Float(rows.count) }
        let expected: [Float] = (0..<16).map { j in mean(dogs, j) - mean(cats, j) }
        #expect(zip(c.direction, expected).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(zip(c.direction, z.direction).contains { abs($0 - $1) > 1e-3 })
        // Their quality figures differ too (the same ranks were the symptom).
        #expect(contrast.quality?.leaveOneOutRanks != nil)
        // Without negatives, a contrast says it ranks as centred.
        let alone = try defineConcept(ConceptDefinition(name: "dog-bg", kind: .contrast, examples: ["dogs"], background: "street",
                                                        randomConcepts: 0, base: scratch.url.path),
                                      embedder: embedder, store: store)
        #expect((alone.warnings ?? []).contains { $0.contains("ranks exactly as --kind centred") })
    }

    @Test func theBackgroundIsGuarded() throws {
        let (scratch, store, embedder) = try world(examplesInCollection: false)
        let plain = try defineConcept(ConceptDefinition(name: "dog", kind: .centred, examples: ["dogs"], background: "street",
                                                        randomConcepts: 0, base: scratch.url.path),
                                      embedder: embedder, store: store)
        // Some street dogs pass for near-duplicates of the fake embedder's tight dog cluster and are left out, said so.
        #expect(plain.backgroundImages <= 20)
        if plain.backgroundImages < 20 { #expect((plain.warnings ?? []).contains { $0.contains("near-duplicate") }) }
        // The other street dogs look more like the concept than the weakest example: the user is told.
        #expect((plain.warnings ?? []).contains { $0.contains("--exclude-similar") && $0.contains("collection 'street'") })
        let guarded = try defineConcept(ConceptDefinition(name: "dog", kind: .centred, examples: ["dogs"], background: "street",
                                                          randomConcepts: 0, base: scratch.url.path, excludeSimilar: 5),
                                        embedder: embedder, store: store, replace: true)
        #expect(guarded.backgroundImages == plain.backgroundImages - 5)
        #expect((guarded.warnings ?? []).contains { $0.contains("left the 5 background images most similar") })
        // The five left out are the street dogs.
        let model = try #require(try store.model(named: "fake"))
        let record = try #require(try store.concept(named: "dog", modelID: model.id))
        let background = try store.conceptExamples(conceptID: record.id).filter { $0.example.role == .background }.compactMap(\.path)
        #expect(background.count == guarded.backgroundImages && !background.contains { $0.contains("/street/dog") })
        // Searching the collection it was fitted against warns.
        let found = try searchConcept("dog", collection: "street", top: 3, store: store)
        #expect((found.warnings ?? []).contains { $0.contains("fitted against collection 'street'") })
    }

    @Test func redefiningNeedsReplace() throws {
        let (scratch, store, embedder) = try world()
        let definition = ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path)
        _ = try defineConcept(definition, embedder: embedder, store: store)
        #expect { try defineConcept(definition, embedder: embedder, store: store) } throws: {
            guard case WorkbenchError.usage(let m) = $0 else { return false }
            return m.contains("already exists") && m.contains("--replace")
        }
        #expect(try defineConcept(definition, embedder: embedder, store: store, replace: true).status == "defined")
    }

    @Test func heldOutPositivesAreMeasured() throws {
        let (scratch, store, embedder) = try world(examplesInCollection: false)
        _ = try defineConcept(ConceptDefinition(name: "dog", kind: .centred, examples: ["dogs"], background: "street",
                                                randomConcepts: 10, base: scratch.url.path),
                              embedder: embedder, store: store)
        let held = scratch.url.appendingPathComponent("held").path
        let evaluation = try evaluateConcept("dog", collection: "street", randomConcepts: 10,
                                             positives: [held, scratch.url.appendingPathComponent("dogs/d0.png").path],
                                             embedder: embedder, store: store)
        let h = try #require(evaluation.heldOut)
        #expect(h.positives == 4)            // d0 is an example: left out, with a warning
        #expect(h.backgroundCount == 20)   // evaluation against a collection ranks all of it
        #expect(h.auc > 0.7)
        #expect(h.ranks.count == 4 && h.ranks.allSatisfy { $0.image.hasPrefix("h") })
        #expect((evaluation.warnings ?? []).contains { $0.contains("examples of the concept") || $0.contains("an example") })
        #expect(evaluation.exampleNames.count == 6 && evaluation.exampleNames.allSatisfy { $0.hasPrefix("d") })
        // Without an embedder of the concept's model, held-out positives are refused.
        #expect(throws: WorkbenchError.self) {
            try evaluateConcept("dog", positives: [held], embedder: FakeEmbedder(name: "other", weights: String(repeating: "o", count: 64)),
                                store: store)
        }
    }

    @Test func summariesNameExamplesAndGiveAVerdict() throws {
        let (scratch, store, embedder) = try world(examplesInCollection: false)
        let summary = try defineConcept(ConceptDefinition(name: "dog", kind: .centred, examples: ["dogs"], negatives: ["cats"],
                                                          background: "street", randomConcepts: 20, base: scratch.url.path,
                                                          excludeSimilar: 5),
                                        embedder: embedder, store: store)
        #expect(summary.exampleNames == (0..<6).map { "d\($0).png" })
        let verdict = try #require(summary.verdict)
        #expect(verdict.level == .usable, "\(verdict.text)")
        #expect(verdict.text.hasPrefix("usable"))
        // JSON carries them.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(summary)) as! [String: Any]
        #expect((json["verdict"] as? [String: Any])?["level"] as? String == "usable")
        #expect((json["exampleNames"] as? [String])?.count == 6)
    }
}
