import Foundation
import Testing

/// Per-patch significance drawn (issue 14): `query --significance --out` labels and outlines the
/// significant patches, `report --significance` records them per top image.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct SignificanceCLITests {
    @Test func queryAndReportMarkSignificantPatches() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let (fruit, others) = try CLI.fruitAndOthers(in: dir)
        #expect(try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--negatives", others.path, "--kind", "centred",
                             "--random-concepts", "0", "--db", db]).status == 0)
        let out = dir.appendingPathComponent("maps")
        let q = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "fruit", "--significance", "--out", out.path,
                             "--db", db, "--json"])
        #expect(q.status == 0, "\(q.stderr)")
        let target = try #require((((q.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])?.first)
        let significant = try #require((target["significance"] as? [String: Any])?["significant"] as? [Int])
        #expect(!significant.isEmpty)
        let png = try #require((target["overlays"] as? [String: String])?["cdam"])
        #expect(FileManager.default.fileExists(atPath: png))

        // The report: each top image's significant patches in report.json.
        for folder in [fruit, others] { #expect(try CLI.run(["index", folder.path, "--collection", "c", "--db", db]).status == 0) }
        let reportDir = dir.appendingPathComponent("report")
        let r = try CLI.run(["report", "fruit", "--collection", "c", "--top", "2", "--compare", "0", "--significance",
                             "--random-concepts", "100", "--out", reportDir.path, "--db", db])
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: reportDir.appendingPathComponent("report.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let top = try #require(((doc["concepts"] as? [[String: Any]])?.first)?["top"] as? [[String: Any]])
        #expect(top.count == 2 && top.allSatisfy { $0["significantPatches"] is [Int] }, "\(top)")

        // A bad false-discovery rate is refused on both commands.
        let bad = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "fruit", "--significance", "--fdr", "1.5", "--db", db])
        #expect(bad.status == 2 && bad.stderr.contains("--fdr 1.5"), "\(bad.stderr)")
        let badReport = try CLI.run(["report", "fruit", "--significance", "--fdr", "0", "--out", reportDir.path, "--db", db])
        #expect(badReport.status == 2 && badReport.stderr.contains("--fdr 0"), "\(badReport.stderr)")
    }
}
