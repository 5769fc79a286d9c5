import Foundation
import Store
import Testing
@testable import Workbench

@Suite struct LibraryCollectionTests {
    @Test func listShowRemovePrune() throws {
        let scratch = Scratch()
        for i in 0..<4 { scratch.image("a/img\(i).png", label: "x", id: i) }
        for i in 0..<2 { scratch.image("b/img\(i).png", label: "y", id: i) }
        scratch.image("examples/e.png", label: "z", id: 1)
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        _ = try indexImages(directory: scratch.url.appendingPathComponent("a"), embedder: embedder, store: store)
        _ = try indexImages(directory: scratch.url.appendingPathComponent("b"), embedder: embedder, store: store)
        _ = try defineConcept(ConceptDefinition(name: "z", examples: ["examples", "a/img0.png"], randomConcepts: 0, base: scratch.url.path),
                              embedder: embedder, store: store)
        #expect(try listCollections(store: store).map { "\($0.name):\($0.imageCount)" } == ["a:4", "b:2"])
        let a = try showCollection("a", limit: 3, store: store)
        #expect(a.collection.imageCount == 4 && a.images.count == 3)
        #expect(a.embeddings == [EmbeddingCount(model: "fake", preprocessing: "fake-224", count: 4)])
        #expect(throws: WorkbenchError.self) { try showCollection("zzz", store: store) }

        // Files vanish: a/img0 (a concept example) and a/img1.
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("a/img0.png"))
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("a/img1.png"))
        let pruned = try pruneLibrary(store: store)
        #expect(pruned.pathsForgotten == 2 && pruned.imagesForgotten == 1 && pruned.imagesKeptForConcepts == 1)
        #expect(try showCollection("a", store: store).collection.imageCount == 2)
        #expect(try showConcept("z", store: store).summary.examples == 2)
        // The concept still searches: its example's embedding was kept.
        #expect(try searchConcept("z", top: 10, includeExamples: true, store: store).results.count == 6)

        #expect(try removeCollection("b", store: store).imageCount == 2)
        #expect(throws: WorkbenchError.self) { try removeCollection("b", store: store) }
        #expect(try pruneLibrary(store: store).imagesForgotten == 2)
        #expect(try listCollections(store: store).map(\.name) == ["a"])
        try expectSound(store)
    }

    @Test func searchBenchmarkRunsSmall() throws {
        let scratch = Scratch()
        let url = scratch.url.appendingPathComponent("bench.sqlite")
        let report = try benchmarkSearch(databaseURL: url, count: 2000, width: 32, top: 5, repeats: 3)
        #expect(report.count == 2000 && report.repeats == 3 && report.populateSeconds > 0)
        let again = try benchmarkSearch(databaseURL: url, count: 2000, width: 32, top: 5, repeats: 3)
        #expect(again.populateSeconds == 0 && again.count == 2000)
    }
}
