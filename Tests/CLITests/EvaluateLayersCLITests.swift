import Foundation
import Testing

/// `concept evaluate --layer auto` through the binary (issue 14): a stored concept measured again at the
/// candidate blocks, as `concept define --layer auto` chooses, without changing it.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct EvaluateLayersCLITests {
    @Test func evaluateReportsEachCandidateBlock() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg", "fruits.jpg"], in: dir, named: "fruit")
        let others = try CLI.folder(["baboon.jpg", "butterfly.jpg", "building.jpg", "home.jpg", "messi5.jpg", "board.jpg"],
                                    in: dir, named: "others")
        #expect(try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--negatives", others.path, "--kind", "centred",
                             "--random-concepts", "0", "--db", db]).status == 0)
        let r = try CLI.run(["concept", "evaluate", "fruit", "--layer", "auto", "--random-concepts", "0", "--db", db, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let choice = try #require(r.json?["layerChoice"] as? [String: Any])
        let candidates = try #require(choice["candidates"] as? [[String: Any]])
        #expect(candidates.map { $0["block"] as? Int } == [12, 11, 10])
        #expect(candidates.allSatisfy { $0["auc"] is Double })
        #expect((choice["reason"] as? String)?.contains("leave-one-out AUC") == true)
        // The stored concept is unchanged: still at the last block.
        let show = try CLI.run(["concept", "show", "fruit", "--db", db, "--json"])
        #expect(show.status == 0 && (show.json?["block"] == nil), "\(show.stdout)")

        let text = try CLI.run(["concept", "evaluate", "fruit", "--layer", "auto", "--random-concepts", "0", "--db", db])
        #expect(text.stdout.contains("  block 11: leave-one-out AUC ") && text.stdout.contains("  layer: block "), "\(text.stdout)")
    }
}
