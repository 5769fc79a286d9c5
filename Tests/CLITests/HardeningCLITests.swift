import Foundation
import Testing

/// Issue 11 (hardening), item by item, through the built binary as an adversarial user meets it: each test reproduces
/// what went wrong and checks the one-line error, the exit code and that nothing was changed. Items 2, 11 and 13
/// (races and a failure half-way through a report) are checked in the library (WorkbenchTests/HardeningTests), where
/// the timing can be controlled; item 4 in PicturesCLITests.
@Suite(.serialized) struct HardeningCLITests {
    /// The installed model's weights digest, which a concept file must carry to be imported.
    static let weightsSHA256: String = {
        let info = try? CLI.run(["model", "info", "--json"])
        return (info?.json?["weightsSHA256"] as? String) ?? ""
    }()

    /// A concept file as `concept export` writes it for the installed model.
    static func conceptFile(in dir: URL, name: String = "striped", direction: [String]? = nil) throws -> URL {
        let values = direction ?? (0..<384).map { String(format: "%.5f", sin(Double($0)) / 20) }
        let text = """
        {"format": "cdam-concept", "version": 1, "name": "\(name)", "kind": "centred", "description": "",
         "model": {"name": "dinov2-small-imgfocus", "weightsSHA256": "\(weightsSHA256)", "width": 384, "patchSize": 14},
         "preprocessing": "pil-bicubic-224x224", "direction": [\(values.joined(separator: ","))], "bias": 0,
         "background": "", "examples": [], "fingerprint": "f", "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z"}
        """
        let url = dir.appendingPathComponent("\(UUID().uuidString).concept.json")
        try Data(text.utf8).write(to: url)
        return url
    }

    static func fileType(_ path: String) -> FileAttributeType? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
    }

    // 1. `--out` writes through a symlink to a regular file and refuses a FIFO, leaving both in place.
    @Test func outWritesThroughSymlinksAndRefusesSpecialFiles() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        #expect(try CLI.run(["concept", "import", try Self.conceptFile(in: dir).path], home: home).status == 0)
        let target = dir.appendingPathComponent("target.json"), link = dir.appendingPathComponent("link.json")
        try Data("old".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let written = try CLI.run(["concept", "export", "striped", "--out", link.path], home: home)
        #expect(written.status == 0, "\(written.stderr)")
        #expect(Self.fileType(link.path) == .typeSymbolicLink)
        #expect(try String(contentsOf: target, encoding: .utf8).contains("\"cdam-concept\""))

        let fifo = dir.appendingPathComponent("fifo")
        #expect(try CLI.shell("mkfifo '\(fifo.path)'") == 0)
        let refused = try CLI.run(["concept", "export", "striped", "--out", fifo.path], home: home)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(fifo.path), "\(refused.stderr)")
        #expect(try CLI.shell("test -p '\(fifo.path)'") == 0, "the FIFO was replaced")
    }

    // 3. Huge finite and non-number values in an imported concept are refused; nothing is stored.
    @Test(arguments: ["3e38", "1e39", "\"NaN\"", "null"])
    func importRefusesUnrepresentableVectors(_ value: String) throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        var direction = (0..<384).map { _ in "0.01" }
        direction[7] = value
        let file = try Self.conceptFile(in: dir, direction: direction)
        let r = try CLI.run(["concept", "import", file.path], home: home)
        #expect(r.status == 1, "\(value): \(r.stdout) \(r.stderr)")
        #expect(r.stderr.hasPrefix("error: " + file.path), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        let list = try CLI.run(["concept", "list", "--json"], home: home)
        #expect(!list.stdout.contains("striped"))
    }

    // 5. A folder given as a symlink is followed; a file whose name is not UTF-8 is reported, not skipped silently.
    @Test func symlinkedFoldersAreFollowedAndOddNamesReported() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        let real = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "real")
        let link = dir.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: real)
        #expect(try CLI.shell("cp '\(CLI.photos)/baboon.jpg' \"\(real.path)/caf\"$'\\xe9'.jpg") == 0)
        let r = try CLI.run(["index", link.path, "--collection", "fruit", "--json"], home: home)
        #expect(r.status == 3, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("\"embedded\":2") || r.stdout.contains("\"embedded\" : 2"), "\(r.stdout)")
        #expect((r.stdout + r.stderr).contains("not UTF-8"), "\(r.stdout) \(r.stderr)")
    }

    // 6. A stored direction of the wrong width is refused with a message, not read out of bounds.
    @Test func damagedStoredVectorsAreRefused() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome(), dir = try CLI.temporaryDirectory()
        #expect(try CLI.run(["concept", "import", try Self.conceptFile(in: dir).path], home: home.path).status == 0)
        let db = home.appendingPathComponent("cdam.sqlite").path
        #expect(try CLI.shell("python3 -c \"import sqlite3; c = sqlite3.connect('\(db)'); c.execute('UPDATE concepts SET direction = substr(direction, 1, 100)'); c.commit()\"") == 0)
        let r = try CLI.run(["query", "\(CLI.photos)/apple.jpg", "--concept", "striped"], home: home.path)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("striped"), "\(r.stderr)")
        #expect(!r.stdout.contains("nan"))
    }

    // 7. Unbounded arguments are usage errors with their limits, on the command line and in `.concept` files.
    @Test(arguments: [
        ["embed", "\(CLI.photos)/apple.jpg", "--size", "14x99999999999998"],
        ["embed", "\(CLI.photos)/apple.jpg", "--size", "14000"],
        ["embed", "\(CLI.photos)/apple.jpg", "--size", "99999999999999999999"],
        ["concept", "define", "x", "--examples", CLI.photos, "--random-concepts", "1000000000"],
        ["concept", "define", "x", "--examples", CLI.photos, "--random-concepts", "99999999999"],
    ])
    func unboundedArgumentsAreUsageErrors(_ arguments: [String]) throws {
        let r = try CLI.run(arguments, home: try CLI.freshHome().path)
        #expect(r.status == 2, "\(arguments): \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("backtrace"), "\(r.stderr)")
        #expect(r.stderr.contains("--size") || r.stderr.contains("--random-concepts"), "\(r.stderr)")
    }

    @Test func conceptFilesAreBoundedToo() throws {
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        try Data("examples: \(CLI.photos)/apple.jpg\nrandom-concepts: 1000000000\n".utf8)
            .write(to: dir.appendingPathComponent("big.concept"))
        let r = try CLI.run(["concept", "sync", dir.path], home: home)
        #expect(r.status != 0)
        #expect(r.stderr.contains("big.concept") && r.stderr.contains("random-concepts"), "\(r.stderr)")
    }

    // 8, 14. A broken model is listed as broken and refused with its reason; an import's staging folder is no model.
    @Test func brokenModelsAreListedAndRefused() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.temporaryDirectory(), models = home.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: models.appendingPathComponent("dinov2-small-imgfocus").path,
                                                   withDestinationPath: CLI.modelHome + "/models/dinov2-small-imgfocus")
        for (name, change) in [("zero-heads", "\"num_attention_heads\": 0"), ("negative-eps", "\"num_attention_heads\": 6, \"layer_norm_eps\": -1")] {
            let dir = models.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(#"{"model_type": "dinov2", "hidden_size": 384, "num_hidden_layers": 12, \#(change), "mlp_ratio": 4, "patch_size": 14, "image_size": 518}"#.utf8)
                .write(to: dir.appendingPathComponent("config.json"))
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("model.safetensors").path,
                                                       withDestinationPath: CLI.modelHome + "/models/dinov2-small-imgfocus/model.safetensors")
        }
        try FileManager.default.createDirectory(at: models.appendingPathComponent(".import-1234"), withIntermediateDirectories: true)
        let list = try CLI.run(["model", "list", "--json"], home: home.path)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(!list.stdout.contains(".import-"))
        for (name, reason) in [("zero-heads", "num_attention_heads"), ("negative-eps", "layer_norm_eps")] {
            #expect(list.stdout.contains(name))
            for command in [["model", "info", name], ["embed", "\(CLI.photos)/apple.jpg", "--model", name]] {
                let r = try CLI.run(command, home: home.path)
                #expect(r.status == 1, "\(command): \(r.stdout) \(r.stderr)")
                #expect(r.stderr.contains(reason) && !r.stderr.contains("Fatal error"), "\(command): \(r.stderr)")
            }
        }
    }

    // 9. A reader reads while another process holds a write transaction.
    @Test func readersReadWhileAnotherProcessWrites() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome(), dir = try CLI.temporaryDirectory()
        #expect(try CLI.run(["concept", "import", try Self.conceptFile(in: dir).path], home: home.path).status == 0)
        let db = home.appendingPathComponent("cdam.sqlite").path, ready = dir.appendingPathComponent("locked").path
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        writer.arguments = ["python3", "-c", """
            import sqlite3, time, pathlib
            c = sqlite3.connect('\(db)', isolation_level=None)
            c.execute('BEGIN IMMEDIATE'); c.execute("UPDATE concepts SET description = 'x'")
            pathlib.Path('\(ready)').touch(); time.sleep(8); c.execute('ROLLBACK')
            """]
        try writer.run()
        defer { writer.terminate(); writer.waitUntilExit() }
        while !FileManager.default.fileExists(atPath: ready) && writer.isRunning { usleep(20_000) }
        let start = Date()
        let r = try CLI.run(["concept", "list", "--json"], home: home.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("striped"))
        #expect(Date().timeIntervalSince(start) < 4, "the reader waited for the writer")
    }

    // 10. Another program's SQLite file is refused byte for byte unchanged; a mistyped --db creates no folders.
    @Test func foreignDatabasesAreRefusedUnchanged() throws {
        let dir = try CLI.temporaryDirectory(), foreign = dir.appendingPathComponent("photos.db")
        #expect(try CLI.shell("python3 -c \"import sqlite3; c = sqlite3.connect('\(foreign.path)'); c.execute('CREATE TABLE albums (id INTEGER)'); c.commit()\"") == 0)
        let before = try Data(contentsOf: foreign)
        for command in [["concept", "list"], ["index", CLI.photos, "--collection", "c"]] {
            let r = try CLI.run(command + ["--db", foreign.path], home: try CLI.freshHome().path)
            #expect(r.status == 1, "\(command): \(r.stderr)")
            #expect(r.stderr.contains(foreign.path), "\(r.stderr)")
            #expect(try Data(contentsOf: foreign) == before, "\(command) changed the foreign database")
        }
        let typo = dir.appendingPathComponent("no-such-folder/cdam.sqlite")
        let r = try CLI.run(["concept", "list", "--db", typo.path], home: try CLI.freshHome().path)
        #expect(r.status != 0)
        #expect(!FileManager.default.fileExists(atPath: typo.deletingLastPathComponent().path))
    }

    // 12. Names that start a spreadsheet formula are neutralised in scores.csv.
    @Test func scoresCSVNeutralisesFormulas() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        let name = "=HYPERLINK(\"http://x\")"
        let file = try Self.conceptFile(in: dir, name: "striped")
        #expect(try CLI.run(["concept", "import", file.path, "--name", name], home: home).status == 0)
        let photos = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        #expect(try CLI.run(["index", photos.path, "--collection", "fruit"], home: home).status == 0)
        let out = dir.appendingPathComponent("report")
        let r = try CLI.run(["report", name, "--collection", "fruit", "--compare", "0", "--out", out.path], home: home)
        #expect(r.status == 0, "\(r.stderr)")
        let csv = try String(contentsOf: out.appendingPathComponent("scores.csv"), encoding: .utf8)
        #expect(!csv.contains(",=HYPERLINK") && !csv.contains("\n=HYPERLINK"), "\(csv)")
        #expect(csv.contains("'=HYPERLINK"), "\(csv)")
    }

    // 15. `model verify` hashes the weights and says whether they are the ones installed.
    @Test func modelVerifyHashesTheWeights() throws {
        guard CLI.modelInstalled else { return }
        let r = try CLI.run(["model", "verify", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(Self.weightsSHA256) && !Self.weightsSHA256.isEmpty, "\(r.stdout)")
    }
}
