import Foundation
import Testing

/// `query --boxes FILE` through the binary (issue 14): localisation figures in the JSON and the text, a
/// warning when no box matches, and a clear error for a bad file.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct LocalisationCLITests {
    static let boxes = CLI.repo.appendingPathComponent("Tests/CLITests/Fixtures/boxes_fruits.csv").path

    @Test func boxesGiveMassInTheBoxAndThePointingGame() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let orange = try CLI.folder(["orange.jpg"], in: dir, named: "orange")
        let others = try CLI.folder(["baboon.jpg", "building.jpg"], in: dir, named: "others")
        let q = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", orange.path, "--examples", others.path,
                             "--maps", "cdam,am", "--boxes", Self.boxes, "--db", db, "--json"])
        #expect(q.status == 0, "\(q.stderr)")
        let targets = try #require(((q.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])
        #expect(targets.count == 2)
        let named = try #require(targets.first { $0["name"] as? String == "orange" })
        #expect((named["boxes"] as? [[String: Any]])?.count == 1)
        let loc = try #require(named["localisation"] as? [String: [String: Any]])
        #expect(Set(loc.keys) == ["cdam", "am"])
        for (_, figures) in loc {
            let mass = try #require(figures["massInBox"] as? Double)
            #expect((0...1).contains(mass))
            #expect(figures["pointingHit"] is Bool)
            // The box covers 270 x 425 of 512 x 480 pixels.
            #expect(abs((figures["boxShare"] as? Double ?? 0) - 270.0 * 425 / (512 * 480)) < 0.02)
        }
        // The other target has no box: no figures.
        #expect(targets.first { $0["name"] as? String == "others" }?["localisation"] == nil)

        let text = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", orange.path, "--maps", "cdam,am",
                                "--boxes", Self.boxes, "--db", db])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("1 box of 'orange' (47% of the image): share of the positive mass inside, pointing game: cdam "), "\(text.stdout)")

        // No label matches a target: the figures are missing, and a warning says why.
        let none = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", others.path, "--boxes", Self.boxes, "--db", db])
        #expect(none.status == 0)
        #expect(none.stderr.contains("no box matched") && none.stderr.contains("orange, lemon, ball"), "\(none.stderr)")
    }

    @Test(arguments: [("fruits.jpg,orange,10,10,5,20\n", "0 <= x0 < x1"), ("fruits.jpg,orange,1,2\n", "6 fields")])
    func badBoxFilesAreRefusedBeforeAnyWork(_ text: String, _ expected: String) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("boxes.csv")
        try Data(text.utf8).write(to: file)
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", dir.path, "--boxes", file.path,
                             "--out", dir.appendingPathComponent("out").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains(file.path) && r.stderr.contains(expected), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
        let missing = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", dir.path, "--boxes", "/nonexistent/boxes.csv"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/boxes.csv: cannot read"), "\(missing.stderr)")
    }
}
