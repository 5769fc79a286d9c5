import Foundation
import Testing

/// The whole job through the binary, on a fresh database: index, define, query stored concepts, search, report.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct WorkflowTests {
    @Test func defineQuerySearchReport() throws {
        let dir = try CLI.temporaryDirectory()
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let photos = try CLI.folder(["apple.jpg", "orange.jpg", "fruits.jpg", "baboon.jpg", "butterfly.jpg", "building.jpg",
                                     "home.jpg", "messi5.jpg", "lena.jpg", "board.jpg"].filter {
            FileManager.default.fileExists(atPath: "\(CLI.photos)/\($0)")
        }, in: dir, named: "photos")
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")

        let index = try CLI.run(["index", photos.path, "--collection", "demo", "--db", db])
        #expect(index.status == 0, "\(index.stderr)")
        let again = try CLI.run(["index", photos.path, "--collection", "demo", "--db", db, "--json"])
        #expect(again.status == 0)

        let define = try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--kind", "centred",
                                  "--background", "demo", "--db", db, "--json"])
        #expect(define.status == 0, "\(define.stderr)")
        #expect(define.json?["name"] as? String == "fruit")

        let evaluate = try CLI.run(["concept", "evaluate", "fruit", "--background", "demo", "--random-concepts", "10", "--db", db, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let quality = try #require(evaluate.json?["quality"] as? [String: Any])
        #expect(quality["exampleCount"] as? Int == 2)
        #expect(quality["backgroundCount"] as? Int == (try FileManager.default.contentsOfDirectory(atPath: photos.path).count) - 2)

        // A stored concept and an unknown one: the known one is explained, the unknown one reported, exit 3.
        let query = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "fruit", "--concept", "no-such-concept",
                                 "--db", db, "--json"])
        #expect(query.status == 3)
        #expect(query.stderr.contains("no-such-concept"))
        let targets = try #require(((query.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])
        #expect(targets.map { $0["name"] as? String } == ["fruit"])
        #expect(targets.first?["kind"] as? String == "centred")

        let all = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "all", "--db", db, "--json"])
        #expect(all.status == 0)

        let search = try CLI.run(["search", "--concept", "fruit", "--collection", "demo", "--top", "3", "--db", db, "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        let hits = try #require(search.json?["results"] as? [[String: Any]])
        #expect(hits.count == 3)
        #expect(hits.first?["rank"] as? Int == 1)
        #expect(search.json?["concept"] as? String == "fruit")

        let out = dir.appendingPathComponent("report")
        let report = try CLI.run(["report", "fruit", "--collection", "demo", "--top", "3", "--compare", "0", "--out", out.path, "--db", db])
        #expect(report.status == 0, "\(report.stderr)")
        for file in ["index.html", "report.json", "scores.csv"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file) missing")
        }
        let html = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        #expect(html.contains("data:image/png;base64,"))
        #expect(!html.contains("http://") && !html.contains("https://"))
        let csv = try String(contentsOf: out.appendingPathComponent("scores.csv"), encoding: .utf8)
        let photoCount = try FileManager.default.contentsOfDirectory(atPath: photos.path).count
        #expect(csv.split(separator: "\n").count == 1 + photoCount)   // a header, then one row per image
    }

    @Test func unknownConceptAloneFails() throws {
        let dir = try CLI.temporaryDirectory()
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "nothing", "--db", dir.appendingPathComponent("x.sqlite").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("nothing"))
    }
}
