import Foundation
import Store
import Testing
@testable import Workbench

/// Heads through the library with the model-free embedder, on an in-file database: what `cdam head` does.
@Suite struct LibraryHeadTests {
    @Test func trainEvaluateListExportImportRemove() throws {
        let scratch = Scratch()
        for label in ["cat", "dog", "fox"] { for i in 0..<6 { scratch.image("pets/\(label)/\(i).png", label: label, id: i) } }
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        let classes = try HeadTrainingRequest.classes(fromLabelsFolder: scratch.url.appendingPathComponent("pets"))
        #expect(classes.map(\.label) == ["cat", "dog", "fox"])
        let summary = try trainHead(HeadTrainingRequest(name: "pets", classes: classes, C: 1, folds: 3), embedder: embedder, store: store)
        #expect(summary.imagesPerClass == [6, 6, 6] && summary.training?.converged == true)
        #expect((summary.evaluation?.accuracy ?? 0) == 1, "the fake classes are well apart")
        #expect(summary.evaluation?.confusion == [[6, 0, 0], [0, 6, 0], [0, 0, 6]])

        // Retraining reuses the stored embeddings and needs --replace.
        let embeddedBefore = embedder.embedded.count
        #expect(throws: WorkbenchError.self) { try trainHead(HeadTrainingRequest(name: "pets", classes: classes), embedder: embedder, store: store) }
        _ = try trainHead(HeadTrainingRequest(name: "pets", classes: classes, folds: 0), embedder: embedder, store: store, replace: true)
        #expect(embedder.embedded.count == embeddedBefore)

        // The head predicts its classes; `top1` is the predicted class with rank 1.
        let targets = try classTargets(head: "pets", classes: ["top1", "dog"], modelName: "fake", store: store)
        let dogEmbedding = try store.embeddings(for: [try ImageFiles.hashFile(scratch.url.appendingPathComponent("pets/dog/0.png")).sha256],
                                                modelID: try #require(try store.model(named: "fake")).id, preprocessingID: "fake-224").values.first!
        let chosen = targets.targets(for: dogEmbedding)
        #expect(chosen.map(\.target.name) == ["dog"] && chosen[0].rank == 1 && chosen[0].probability > 0.5)
        #expect(chosen[0].target.kind == .classLogit)

        // Training images survive a prune after their files are gone, and cross-validation still runs.
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("pets"))
        let pruned = try pruneLibrary(store: store)
        #expect(pruned.imagesForgotten == 0 && pruned.imagesKeptForConcepts == 18)
        #expect(try evaluateHead("pets", folds: 3, store: store).count == 18)

        // Export and import (JSON and safetensors) give the same numbers; another model's file is refused.
        let json = scratch.url.appendingPathComponent("out/pets.json"), st = scratch.url.appendingPathComponent("out/pets.safetensors")
        try exportHead("pets", to: json, store: store)
        try exportHead("pets", to: st, store: store)
        let info = ModelInfo(name: "fake", weightsSHA256: embedder.modelSHA256, width: 16, patchSize: 14, preprocessing: "{}")
        _ = try importHead(from: st, model: info, options: HeadImportOptions(name: "pets-st"), store: store)
        _ = try importHead(from: json, model: info, options: HeadImportOptions(name: "pets-json"), store: store)
        let original = try #require(try store.head(named: "pets", modelID: 1))
        for name in ["pets-st", "pets-json"] {
            let copy = try #require(try store.head(named: name, modelID: 1))
            #expect(copy.weights == original.weights && copy.bias == original.bias && copy.labels == original.labels)
        }
        #expect(try store.headImages(headID: try #require(try store.head(named: "pets-json", modelID: 1)).id).count == 18)
        let other = ModelInfo(name: "other", weightsSHA256: String(repeating: "0", count: 64), width: 16, patchSize: 14, preprocessing: "{}")
        #expect(throws: WorkbenchError.self) { try importHead(from: json, model: other, store: store) }
        #expect(try listHeads(store: store).map(\.name) == ["pets", "pets-json", "pets-st"])

        #expect(try removeHead("pets-st", store: store).name == "pets-st")
        #expect(throws: WorkbenchError.self) { try showHead("pets-st", store: store) }
        try expectSound(store)
    }

    @Test func badRequestsStoreNothing() throws {
        let scratch = Scratch()
        for i in 0..<3 { scratch.image("a/\(i).png", label: "a", id: i) }
        scratch.image("b/0.png", label: "a", id: 0)   // the same bytes as a/0.png
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        let base = scratch.url
        func train(_ classes: [(String, [String])], C: Double = 1) throws {
            _ = try trainHead(HeadTrainingRequest(name: "h", classes: classes.map { (label: $0.0, sources: $0.1) }, C: C, base: base),
                              embedder: embedder, store: store)
        }
        #expect(throws: WorkbenchError.self) { try train([("a", ["a"])]) }
        #expect(throws: WorkbenchError.self) { try train([("a", ["a"]), ("b", ["b"])], C: 0) }
        #expect(throws: WorkbenchError.self) { try train([("a", ["a"]), ("a", ["b"])]) }
        do {
            try train([("a", ["a"]), ("b", ["b"])])
            Issue.record("one image under two labels was accepted")
        } catch let error as WorkbenchError {
            #expect(error.description.contains("is in class 'a'") && error.description.contains("give each image one label"))
        }
        #expect(try listHeads(store: store).isEmpty)
    }
}
