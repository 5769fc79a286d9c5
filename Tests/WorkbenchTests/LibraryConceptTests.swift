import Concepts
import Foundation
import Store
import Testing
@testable import Workbench

@Suite struct LibraryConceptTests {
    /// dogs/ (6), cats/ (6) and a mixed collection "street" of 5 dogs, 5 cats and 10 cars.
    func world() throws -> (Scratch, Store, FakeEmbedder) {
        let scratch = Scratch()
        for i in 0..<6 { scratch.image("dogs/d\(i).png", label: "dog", id: i) }
        for i in 0..<6 { scratch.image("cats/c\(i).png", label: "cat", id: i) }
        for i in 0..<5 { scratch.image("street/dog\(i).png", label: "dog", id: 100 + i) }
        for i in 0..<5 { scratch.image("street/cat\(i).png", label: "cat", id: 100 + i) }
        for i in 0..<10 { scratch.image("street/car\(i).png", label: "car", id: i) }
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        _ = try indexImages(directory: scratch.url.appendingPathComponent("street"), embedder: embedder, store: store)
        return (scratch, store, embedder)
    }

    @Test func aMeanConceptIsDefinedCachedAndSearchable() throws {
        let (scratch, store, embedder) = try world()
        let before = embedder.embedded.count
        let definition = ConceptDefinition(name: "dog", description: "dogs", examples: ["dogs"], background: "street",
                                           randomConcepts: 10, base: scratch.url.path)
        let summary = try defineConcept(definition, embedder: embedder, store: store)
        #expect(summary.status == "defined" && summary.kind == "mean" && summary.examples == 6)
        // Street dogs that the fake embedder makes near-duplicates of the examples are left out of the background.
        #expect(summary.backgroundImages <= 20 && summary.background == "collection:street")
        #expect(summary.quality?.exampleCount == 6 && summary.quality?.randomConcepts == 10)
        #expect(summary.quality?.coherence ?? 0 > 0.5)
        #expect(embedder.embedded.count == before + 6)

        // Redefining embeds nothing: examples are cached by content.
        _ = try defineConcept(definition, embedder: embedder, store: store, replace: true)
        #expect(embedder.embedded.count == before + 6)

        let found = try searchConcept("dog", collection: "street", top: 5, store: store)
        #expect(found.model == "fake" && found.concept == "dog")
        #expect(found.results.map(\.rank) == [1, 2, 3, 4, 5])
        #expect(found.results.allSatisfy { $0.image.contains("/street/dog") })
        #expect(zip(found.results, found.results.dropFirst()).allSatisfy { $0.score >= $1.score })
        // The scores are Target.score of the stored embeddings.
        let stored = try store.embeddings(for: [found.results[0].sha256], modelID: 1, preprocessingID: "fake-224")
        let t = try target(of: try #require(try store.concept(named: "dog", modelID: 1)))
        #expect(abs(t.score(stored[found.results[0].sha256]!) - found.results[0].score) < 1e-4)
        // Without a collection every stored image is searched; the examples only when asked for.
        #expect(try searchConcept("dog", top: 100, store: store).results.count == 20)
        #expect(try searchConcept("dog", top: 100, includeExamples: true, store: store).results.count == 26)
        try expectSound(store)
    }

    @Test func searchJSONIsExactlyTheInterface() throws {
        let (scratch, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "cat", kind: .cosine, examples: ["cats"], randomConcepts: 0, base: scratch.url.path),
                              embedder: embedder, store: store)
        let output = try searchConcept("cat", collection: "street", top: 2, store: store)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(output)) as! [String: Any]
        // INTERFACE.md's keys, and the documented extensions.
        #expect(Set(json.keys) == ["model", "concept", "results", "excludedExamples"])
        let first = (json["results"] as! [[String: Any]])[0]
        #expect(Set(first.keys) == ["rank", "image", "sha256", "score", "percentile", "example"])
        #expect((first["image"] as! String).contains("/street/cat"))
        // A cosine concept scores at most 1.
        #expect(output.results.allSatisfy { $0.score <= 1.0001 })
    }

    @Test(arguments: [Target.Kind.centred, .probe, .whitened, .contrast])
    func kindsNeedingABackgroundRefuseWithoutOne(_ kind: Target.Kind) throws {
        let (scratch, store, embedder) = try world()
        let before = embedder.embedded.count
        #expect {
            try defineConcept(ConceptDefinition(name: "dog", kind: kind, examples: ["dogs"], base: scratch.url.path),
                              embedder: embedder, store: store)
        } throws: { error in
            guard case WorkbenchError.usage(let message) = error else { return false }
            return message.contains("needs a background") && message.contains("--background")
        }
        #expect(embedder.embedded.count == before)
        // With negatives it works, and the negatives count as background.
        let summary = try defineConcept(ConceptDefinition(name: "dog", kind: kind, examples: ["dogs"], negatives: ["cats"],
                                                          randomConcepts: 5, base: scratch.url.path),
                                        embedder: embedder, store: store)
        #expect(summary.kind == kind.rawValue && summary.negatives == 6 && summary.background == "negatives")
        #expect(summary.quality?.auc ?? 0 > 0.9)
        let hits = try searchConcept("dog", collection: "street", top: 5, store: store).results
        #expect(hits.allSatisfy { $0.image.contains("/street/dog") })
        try expectSound(store)
    }

    @Test func aBadExampleFileIsReportedAndTheRestUsed() throws {
        let (scratch, store, embedder) = try world()
        scratch.file("dogs/broken.png", "nope")
        let summary = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                                        embedder: embedder, store: store)
        #expect(summary.examples == 6 && summary.errors?.count == 1 && summary.exitCode == 3)
        #expect(throws: WorkbenchError.self) {
            try defineConcept(ConceptDefinition(name: "x", examples: ["dogs/broken.png"], base: scratch.url.path), embedder: embedder, store: store)
        }
        #expect(throws: WorkbenchError.self) {
            try defineConcept(ConceptDefinition(name: "x", examples: ["nothing-here"], base: scratch.url.path), embedder: embedder, store: store)
        }
        #expect(try store.concepts(modelID: nil).map(\.name) == ["dog"])
    }

    @Test func conceptsOfOneModelAreNeverUsedWithAnother() throws {
        let (scratch, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                              embedder: embedder, store: store)
        let big = FakeEmbedder(name: "big", weights: String(repeating: "b", count: 64), width: 16)
        _ = try indexImages(directory: scratch.url.appendingPathComponent("street"), collection: "street", embedder: big, store: store)
        #expect {
            try searchConcept("dog", modelName: "big", collection: "street", store: store)
        } throws: { "\($0)".contains("concept 'dog' was defined with model fake") && "\($0)".contains("--model big") }
        // Defined for both, the name alone is ambiguous.
        _ = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                              embedder: big, store: store)
        #expect(throws: WorkbenchError.self) { try searchConcept("dog", store: store) }
        #expect(try searchConcept("dog", modelName: "big", collection: "street", top: 1, store: store).model == "big")
        #expect(try listConcepts(store: store).map(\.model) == ["fake", "big"])
        #expect(try listConcepts(modelName: "fake", store: store).count == 1)
        try expectSound(store)
    }

    @Test func showRemoveExportImport() throws {
        let (scratch, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "dog", description: "good dogs", kind: .centred, examples: ["dogs"],
                                                background: "street", randomConcepts: 3, base: scratch.url.path),
                              embedder: embedder, store: store)
        let details = try showConcept("dog", store: store)
        #expect(details.examples.count == 6 && details.examples.allSatisfy { $0.role == "positive" && $0.path != nil })
        #expect(details.definition?.background == "street" && details.summary.description == "good dogs")

        let export = try exportConcept("dog", store: store)
        #expect(export.format == "cdam-concept" && export.version == 1 && export.model.weightsSHA256 == embedder.modelSHA256)
        let file = scratch.url.appendingPathComponent("out/dog.json")
        try writeConceptExport(export, to: file)

        // Into a fresh database with the same model: the same target.
        let other = try scratch.store("other.sqlite")
        let info = ModelInfo(name: "fake", weightsSHA256: embedder.modelSHA256, width: 16, patchSize: 14)
        let imported = try importConcept(from: file, model: info, store: other)
        #expect(imported.status == "imported" && imported.kind == "centred")
        let a = try store.concept(named: "dog", modelID: 1)!, b = try other.concept(named: "dog", modelID: 1)!
        #expect(a.direction == b.direction && a.bias == b.bias && a.quality == b.quality)
        // Another model's file is refused, naming the file.
        let wrong = ModelInfo(name: "big", weightsSHA256: String(repeating: "b", count: 64), width: 16, patchSize: 14)
        #expect {
            try importConcept(from: file, model: wrong, store: other)
        } throws: { "\($0)".hasPrefix(file.path) && "\($0)".contains("made with model fake") }
        let junk = scratch.file("junk.json", #"{"format": "something"}"#)
        #expect { try importConcept(from: junk, model: info, store: other) } throws: { "\($0)".hasPrefix(junk.path) }

        #expect(try removeConcept("dog", store: store).name == "dog")
        #expect(throws: WorkbenchError.self) { try showConcept("dog", store: store) }
        try expectSound(store)
        try expectSound(other)
    }
}
