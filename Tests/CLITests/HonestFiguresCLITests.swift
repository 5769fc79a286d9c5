import Foundation
import Testing

/// Issue 12 through the binary: examples left out and marked, verdicts, percentiles, --replace, held-out
/// positives, a missing query path reported as an input error.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct HonestFiguresCLITests {
    @Test func figuresAUserCanTrust() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let names = ["apple.jpg", "orange.jpg", "fruits.jpg", "baboon.jpg", "butterfly.jpg", "building.jpg", "home.jpg",
                     "messi5.jpg", "lena.jpg", "board.jpg", "leuvenA.jpg", "stuff.jpg"].filter {
            FileManager.default.fileExists(atPath: "\(CLI.photos)/\($0)")
        }
        let photos = try CLI.folder(names, in: dir, named: "photos")
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        #expect(try CLI.run(["index", photos.path, "--collection", "demo", "--db", db]).status == 0)

        let define = try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--kind", "centred",
                                  "--background", "demo", "--random-concepts", "10", "--db", db])
        #expect(define.status == 0, "\(define.stderr)")
        #expect(define.stdout.contains("verdict: "))
        #expect(define.stdout.contains("not judged: fewer than 3 examples"))

        // Defining it again without --replace is refused before any work; with it, it is redefined.
        let again = try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--kind", "centred",
                                 "--background", "demo", "--db", db])
        #expect(again.status == 2 && again.stderr.contains("--replace"))
        #expect(try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--kind", "centred",
                             "--background", "demo", "--random-concepts", "0", "--replace", "--db", db]).status == 0)

        // The examples are in the collection, yet search leaves them out; --include-examples marks them.
        let search = try CLI.run(["search", "--concept", "fruit", "--collection", "demo", "--top", "20", "--db", db, "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        let hits = try #require(search.json?["results"] as? [[String: Any]])
        #expect(hits.count == names.count - 2)
        #expect(hits.allSatisfy { ($0["example"] as? Bool) == false && $0["percentile"] is Double })
        #expect(search.json?["excludedExamples"] as? Int == 2)
        #expect(search.stderr.contains("fitted against collection 'demo'"))
        let all = try CLI.run(["search", "--concept", "fruit", "--collection", "demo", "--top", "20", "--include-examples", "--db", db])
        #expect(all.stdout.components(separatedBy: "[example]").count - 1 == 2)

        // Held-out positives: fruits.jpg was not an example.
        let evaluate = try CLI.run(["concept", "evaluate", "fruit", "--background", "demo", "--positives", "\(CLI.photos)/fruits.jpg",
                                    "--random-concepts", "0", "--db", db, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let heldOut = try #require(evaluate.json?["heldOut"] as? [String: Any])
        #expect(heldOut["positives"] as? Int == 1)
        #expect(heldOut["auc"] is Double && heldOut["precisionAt10"] is Double)
        #expect(evaluate.json?["verdict"] is [String: Any])

        // Query: the percentile against the concept's background; a missing file is an input error (exit 3).
        let query = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", dir.appendingPathComponent("no-such.jpg").path,
                                 "--concept", "fruit", "--db", db, "--json"])
        #expect(query.status == 3, "\(query.stderr)")
        let errors = try #require(query.json?["errors"] as? [[String: Any]])
        #expect(errors.count == 1 && (errors[0]["error"] as? String ?? "").contains("no-such.jpg: no such file or folder"))
        let target = try #require((((query.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])?.first)
        let percentile = try #require(target["percentile"] as? Double)
        #expect((0...100).contains(percentile))
        #expect((target["percentileOf"] as? String)?.contains("background") == true)

        // Report: examples left out of the best matches, marked in the CSV.
        let out = dir.appendingPathComponent("report")
        let report = try CLI.run(["report", "fruit", "--collection", "demo", "--top", "3", "--compare", "0", "--out", out.path, "--db", db])
        #expect(report.status == 0, "\(report.stderr)")
        let csv = try String(contentsOf: out.appendingPathComponent("scores.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n")
        #expect(rows.first == "concept,rank,score,percentile,example,sha256,image")
        #expect(rows.filter { $0.split(separator: ",")[4] == "1" }.count == 2)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any]
        let section = try #require((json?["concepts"] as? [[String: Any]])?.first)
        #expect(section["excludedExamples"] as? Int == 2)
        #expect((section["top"] as? [[String: Any]])?.allSatisfy { ($0["example"] as? Bool) == false } == true)
    }

    @Test func contrastOfTwoFoldersAndSimilarMaps() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        let fruit2 = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir.appendingPathComponent("b"), named: "fruit")
        // Two mean concepts of the same photos have the same maps: the user is warned.
        let query = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", fruit.path, "--examples", fruit2.path,
                                 "--db", db, "--json"])
        #expect(query.status == 0, "\(query.stderr)")
        let result = try #require((query.json?["results"] as? [[String: Any]])?.first)
        let similar = try #require(result["similarMaps"] as? [[String: Any]])
        #expect((similar.first?["correlation"] as? Double ?? 0) > 0.95)
        #expect((result["warnings"] as? [String])?.contains { $0.contains("--contrast") } == true)
    }
}
