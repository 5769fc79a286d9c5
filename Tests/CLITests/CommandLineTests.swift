import Foundation
import Testing

/// The `cdam` binary run end to end on real files, good and bad: output, files written and exit codes.
struct CommandLineTests {
    @Test func helpTeaches() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("query"))
        #expect(r.stdout.contains("Exit codes"))
        let q = try CLI.run(["query", "--help"])
        #expect(q.stdout.contains("--examples"))
    }

    @Test func missingModelSaysWhatToDo() throws {
        let home = try CLI.temporaryDirectory()
        let r = try CLI.run(["embed", "\(CLI.photos)/apple.jpg"], home: home.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("cdam model fetch"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func badSizeIsAUsageError() throws {
        let r = try CLI.run(["embed", "--size", "abc", "\(CLI.photos)/apple.jpg"])
        #expect(r.status == 2)
    }
}

@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"))
struct CommandLineModelTests {
    /// `cdam embed` on real photos agrees with the reference pipeline (Pillow bicubic + PyTorch).
    @Test func embedMatchesReferencePipeline() throws {
        let fixture = CLI.repo.appendingPathComponent("Tests/CLITests/Fixtures/pipeline_cls.json")
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as! [String: Any]
        let cls = reference["cls"] as! [String: [Double]]
        let names = cls.keys.sorted()
        let r = try CLI.run(["embed", "--json"] + names.map { "\(CLI.photos)/\($0)" })
        #expect(r.status == 0, "\(r.stderr)")
        let results = try #require(r.json?["results"] as? [[String: Any]])
        #expect(results.count == names.count)
        for entry in results {
            let name = URL(fileURLWithPath: entry["image"] as! String).lastPathComponent
            let ours = (entry["embedding"] as! [NSNumber]).map(\.doubleValue), theirs = cls[name]!
            let dot = zip(ours, theirs).map(*).reduce(0, +)
            let cosine = dot / (ours.map { $0 * $0 }.reduce(0, +).squareRoot() * theirs.map { $0 * $0 }.reduce(0, +).squareRoot())
            print("embed \(name): cosine with the reference pipeline \(cosine)")
            #expect(cosine >= 0.9995, "\(name): cosine \(cosine)")
            #expect((entry["size"] as! [Int]).count == 2)
            #expect((entry["sha256"] as! String).count == 64)
        }
    }

    /// A corrupt file and a file that lies about its type among good ones: exit 3, one line naming the bad file.
    @Test func badFilesDoNotStopTheOthers() throws {
        let dir = try CLI.temporaryDirectory()
        let bad = dir.appendingPathComponent("broken.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46]).write(to: bad)
        let liar = dir.appendingPathComponent("really-a-jpeg.png")
        try FileManager.default.copyItem(atPath: "\(CLI.photos)/apple.jpg", toPath: liar.path)
        let r = try CLI.run(["embed", "--json", bad.path, liar.path])
        #expect(r.status == 3)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix(bad.path) == true)
        #expect((r.json?["results"] as? [Any])?.count == 1)
        #expect((r.json?["errors"] as? [Any])?.count == 1)

        let onlyBad = try CLI.run(["embed", bad.path])
        #expect(onlyBad.status == 1)
    }

    @Test func sizeMustFitThePatches() throws {
        let r = try CLI.run(["embed", "--size", "225", "\(CLI.photos)/apple.jpg"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("multiple of the patch size"))
    }

    /// `query --examples`: concepts from folders, maps in the JSON shape of INTERFACE.md, overlays on disk.
    @Test func queryWithExampleFolders() throws {
        let dir = try CLI.temporaryDirectory()
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        let animal = try CLI.folder(["baboon.jpg", "butterfly.jpg"], in: dir, named: "animal")
        let out = dir.appendingPathComponent("maps")
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", fruit.path, "--examples", animal.path,
                             "--maps", "cdam,am", "--out", out.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try #require(r.json?["results"] as? [[String: Any]])
        let first = try #require(results.first)
        #expect(first["grid"] as? [Int] == [16, 16])
        let targets = try #require(first["targets"] as? [[String: Any]])
        #expect(targets.map { $0["name"] as? String } == ["fruit", "animal"])
        for t in targets {
            let maps = try #require(t["maps"] as? [String: [Double]])
            #expect(Set(maps.keys) == ["cdam", "am"])
            #expect(maps["cdam"]?.count == 256)
            #expect(t["kind"] as? String == "mean")
        }
        let pngs = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".png") }
        #expect(pngs.count == 4)   // 2 targets' CDAM, AM (the same for both targets: once), the panel
    }

    @Test func kindsThatNeedABackgroundSaySo() throws {
        let dir = try CLI.temporaryDirectory()
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", fruit.path, "--kind", "probe"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--background"))
    }
}
