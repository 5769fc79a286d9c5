import Foundation
import Testing

/// The paper's evaluation through the binary (issue 14): per-patch significance, the randomisation check
/// and contrastivity under --faithfulness.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct EvaluationCLITests {
    @Test func significanceRandomisationAndContrast() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let (fruit, others) = try CLI.fruitAndOthers(in: dir)
        #expect(try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--negatives", others.path, "--kind", "centred",
                             "--random-concepts", "0", "--db", db]).status == 0)
        let q = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "fruit", "--significance", "--db", db, "--json"])
        #expect(q.status == 0, "\(q.stderr)")
        let target = try #require((((q.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])?.first)
        let s = try #require(target["significance"] as? [String: Any])
        #expect((s["pValues"] as? [Double])?.count == 256)
        #expect(s["randomConcepts"] as? Int == 200)
        #expect(((s["significant"] as? [Int]) ?? []).count > 0)   // the fruit in fruits.jpg is more than chance

        // --faithfulness at 112 px (64 patches: TAM stays cheap) with two targets.
        let f = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", fruit.path, "--examples", others.path,
                             "--faithfulness", "--size", "112", "--db", db, "--json"])
        #expect(f.status == 0, "\(f.stderr)")
        let result = try #require((f.json?["results"] as? [[String: Any]])?.first)
        let contrasts = try #require(result["contrasts"] as? [[String: Any]])
        #expect(contrasts.count == 1 && contrasts[0]["evidenceOverlap"] is Double && contrasts[0]["correlation"] is Double)
        let figures = try #require(((result["targets"] as? [[String: Any]])?.first?["figures"] as? [String: Any])?["cdam"] as? [String: Any])
        let r = try #require(figures["randomizationRankCorrelation"] as? Double)
        #expect(r < 0.9)   // the map depends on the learned weights
    }
}
