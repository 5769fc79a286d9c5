import Concepts
import Foundation
import GRDBSQLite
import Store
import Testing
@testable import Workbench

/// Issue 11: each problem reproduced first, on the library (the CLI's end-to-end runs are in CLITests).
@Suite struct HardeningTests {
    func world() throws -> (Scratch, Store, FakeEmbedder) {
        let scratch = Scratch()
        for i in 0..<6 { scratch.image("dogs/d\(i).png", label: "dog", id: i) }
        for i in 0..<5 { scratch.image("street/dog\(i).png", label: "dog", id: 100 + i) }
        for i in 0..<10 { scratch.image("street/car\(i).png", label: "car", id: i) }
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        _ = try indexImages(directory: scratch.url.appendingPathComponent("street"), embedder: embedder, store: store)
        return (scratch, store, embedder)
    }

    func fileType(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0
    }

    // 1. Atomic writes never replace a symlink, a FIFO or a device.
    @Test func safeWriteFollowsSymlinksAndRefusesSpecialFiles() throws {
        let scratch = Scratch()
        let real = scratch.file("real.json", "old")
        let link = scratch.url.appendingPathComponent("link.json")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: real)
        try SafeWrite.write(Data("new".utf8), to: link)
        #expect(fileType(link.path) == S_IFLNK)
        #expect(try String(contentsOf: real, encoding: .utf8) == "new")

        let fifo = scratch.url.appendingPathComponent("pipe.json")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        #expect { try SafeWrite.write(Data("x".utf8), to: fifo) } throws: { "\($0)".contains("a FIFO") && "\($0)".hasPrefix(fifo.path) }
        #expect(fileType(fifo.path) == S_IFIFO)

        // A link to a device: refused, and neither the link nor the device is touched.
        let device = scratch.url.appendingPathComponent("null.json")
        try FileManager.default.createSymbolicLink(atPath: device.path, withDestinationPath: "/dev/null")
        #expect { try SafeWrite.write(Data("x".utf8), to: device) } throws: { "\($0)".contains("character device") }
        #expect(fileType(device.path) == S_IFLNK && fileType("/dev/null") == S_IFCHR)

        #expect { try SafeWrite.write(Data("x".utf8), to: scratch.url) } throws: { "\($0)".contains("is a folder") }
        #expect { try SafeWrite.write(Data("x".utf8), to: scratch.url.appendingPathComponent("no/such/file")) } throws: {
            "\($0)".contains("does not exist")
        }
        // The export goes through it too.
        let (s2, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: s2.url.path),
                              embedder: embedder, store: store)
        #expect { try writeConceptExport(try exportConcept("dog", store: store), to: fifo) } throws: { "\($0)".contains("a FIFO") }
        #expect(fileType(fifo.path) == S_IFIFO)
        // Reading a FIFO as a concept file is refused with what it is, not "permission denied".
        let info = ModelInfo(name: "fake", weightsSHA256: embedder.modelSHA256, width: 16, patchSize: 14)
        #expect { try importConcept(from: fifo, model: info, store: store) } throws: { "\($0)".contains("a FIFO") }
    }

    // 13. A report folder is swapped in whole, and only over an empty folder or an older report.
    @Test func reportFoldersAreSwappedWhole() throws {
        let scratch = Scratch()
        let out = scratch.url.appendingPathComponent("report")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: out.appendingPathComponent("report.json"))
        try Data("old".utf8).write(to: out.appendingPathComponent("stale.png"))
        let staged = try SafeWrite.stagingFolder(for: out)
        try Data("new".utf8).write(to: staged.appendingPathComponent("report.json"))
        try SafeWrite.swapFolder(staged, into: out, marker: "report.json")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["report.json"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["report"])
        // A folder of something else is never replaced.
        let home = scratch.url.appendingPathComponent("documents")
        scratch.file("documents/thesis.tex", "precious")
        #expect { try SafeWrite.checkReportFolder(home) } throws: { "\($0)".contains("is not a cdam report") }
        #expect { try SafeWrite.checkReportFolder(scratch.url.appendingPathComponent("documents/thesis.tex")) } throws: {
            "\($0)".contains("not a folder")
        }
    }

    // 12. CSV fields that a spreadsheet would run as formulas are neutralised; CR is quoted.
    @Test(arguments: [("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
                      ("a\rb", "\"a\rb\""), ("plain", "plain"), ("a,b", "\"a,b\"")])
    func csvFieldsAreSafe(_ input: String, _ expected: String) {
        #expect(csvField(input) == expected)
    }

    // 2. A file that changes between its hash and its embedding is not stored under the old hash.
    @Test func aFileChangedDuringIndexingIsNotCachedUnderItsOldHash() throws {
        let scratch = Scratch()
        let file = scratch.image("photos/a.png", label: "dog", id: 1)
        scratch.image("photos/b.png", label: "dog", id: 2)
        let rewriting = HookedEmbedder { files, inner in
            // The file is rewritten after it was hashed and before it is read for embedding.
            var data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]); data.append(Data("cat 77".utf8))
            try! data.write(to: file)
            return inner.embed(files)
        }
        let oldHash = try ImageFiles.hashFile(file).sha256
        let store = try scratch.store()
        let report = try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "p",
                                     embedder: rewriting, store: store)
        #expect(report.embedded == 1 && report.errors.count == 1)
        #expect(report.errors[0].error.contains("changed while it was being indexed"))
        #expect(try store.findImage(sha256: oldHash) == nil)
        // A rerun stores the new content under its own hash.
        let again = try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "p",
                                    embedder: FakeEmbedder(), store: store)
        #expect(again.errors.isEmpty && again.embedded == 1)
        #expect(try store.findImage(sha256: try ImageFiles.hashFile(file).sha256) != nil)
    }

    // 3. Huge finite numbers, NaN, a wrong width: refused on import; never NaN in search.
    @Test func importedVectorsAreValidated() throws {
        let (scratch, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                              embedder: embedder, store: store)
        let good = try exportConcept("dog", store: store)
        let info = ModelInfo(name: "fake", weightsSHA256: embedder.modelSHA256, width: 16, patchSize: 14)
        func refused(_ change: (inout ConceptExport) -> Void, _ expected: String, sourceLine: SourceLocation = #_sourceLocation) throws {
            var bad = good
            bad.name = "imported"
            change(&bad)
            let file = scratch.url.appendingPathComponent("bad-\(UUID().uuidString).json")
            try writeConceptExport(bad, to: file)
            #expect(sourceLocation: sourceLine) { try importConcept(from: file, model: info, store: store) } throws: { error in
                "\(error)".hasPrefix(file.path) && "\(error)".contains(expected)
            }
        }
        try refused({ $0.direction = [Float](repeating: 3e38, count: 16) }, "too large for finite scores")
        try refused({ $0.bias = 1e30 }, "too large for finite scores")
        try refused({ $0.direction = Array($0.direction.prefix(15)) }, "15 numbers")
        try refused({ $0.name = "" }, "non-empty name")
        try refused({ $0.name = "two\nlines" }, "no line breaks")
        try refused({ $0.name = "\u{1B}[31mred" }, "control characters")
        try refused({ $0.name = String(repeating: "x", count: 5000) }, "at most 256")
        try refused({ $0.kind = "class" }, "kind 'class'")
        try refused({ $0.version = -1 }, "version -1")
        try refused({ $0.preprocessing = "pil-bicubic-99999x224" }, "preprocessing")
        try refused({ $0.preprocessing = "../../etc" }, "preprocessing")
        try refused({ $0.description = String(repeating: "d", count: 20_000) }, "description")
        // NaN cannot be written as JSON by the encoder; a hand-made file with a string is a decoding error.
        #expect(try store.concepts(modelID: nil).map(\.name) == ["dog"])
    }

    // 6. A damaged stored row (wrong width, NaN) is a clear error, not garbage scores.
    @Test func damagedStoredVectorsAreRefused() throws {
        let (scratch, store, embedder) = try world()
        _ = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                              embedder: embedder, store: store)
        let model = try #require(try store.model(named: "fake"))
        for name in ["short", "nan"] {
            try store.saveConcept(ConceptRecord(name: name, modelID: model.id, kind: "mean", direction: [Float](repeating: 1, count: 16),
                                                preprocessingID: embedder.preprocessingID), examples: [])
        }
        // Damage the rows behind the store's back: 15 numbers, and NaN (0x7FC00000) in every place.
        var handle: OpaquePointer?
        #expect(sqlite3_open(store.path, &handle) == SQLITE_OK)
        #expect(sqlite3_exec(handle, "UPDATE concepts SET direction = substr(direction, 1, 60) WHERE name = 'short';" +
                             "UPDATE concepts SET direction = zeroblob(64) WHERE name = 'nan';", nil, nil, nil) == SQLITE_OK)
        sqlite3_exec(handle, "UPDATE concepts SET direction = x'" + String(repeating: "0000C07F", count: 16) + "' WHERE name = 'nan'", nil, nil, nil)
        sqlite3_close(handle)
        #expect { try searchConcept("short", store: store) } throws: { "\($0)".contains("is damaged") && "\($0)".contains("15 numbers") }
        #expect { try searchConcept("nan", store: store) } throws: { "\($0)".contains("NaN") }
        let stored = try storedTargets(names: ["all"], contrasts: [], modelName: "fake", store: store)
        #expect(stored.targets.map(\.name) == ["dog"] && stored.errors.count == 2)
        // The arithmetic itself no longer reads past a short direction.
        let t = Target(name: "t", kind: .mean, direction: [1, 2])
        #expect(t.score([1, 2, 3]).isNaN)
        #expect(ConceptBuilder.scores(t, embeddings: [1, 2, 3], count: 1)[0].isNaN)
        // The histogram of extreme scores does not trap.
        let d = distribution([-3e38, 3e38, 0, .nan, .infinity])
        #expect(d.count == 3 && d.bins.reduce(0, +) == 3)
    }

    // 7. Limits, with clear errors, in the library and in .concept files.
    @Test func argumentsAreBounded() throws {
        let (scratch, store, embedder) = try world()
        for r in [-1, 10_001, 1_000_000_000] {
            #expect {
                try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: r, base: scratch.url.path),
                                  embedder: embedder, store: store)
            } throws: { "\($0)".contains("0...10000") }
            #expect(throws: WorkbenchError.self) { try storedTargets(names: [], contrasts: [], modelName: "fake", randomConcepts: r, store: store) }
        }
        #expect { try Limits.checkSize(height: 14000, width: 14000, patch: 14) } throws: { "\($0)".contains("1...1024") }
        #expect { try Limits.checkSize(height: 14, width: 99_999_999_999_998, patch: 14) } throws: { "\($0)".contains("1...1024") }
        #expect { try Limits.checkSize(height: 224, width: 225, patch: 14) } throws: { "\($0)".contains("multiple") }
        try Limits.checkSize(height: 1022, width: 224, patch: 14)
        let url = scratch.url.appendingPathComponent("x.concept")
        #expect { try ConceptFile.parse("examples: dogs\nrandom-concepts: 99999999999\n", at: url) } throws: { "\($0)".contains("0...10000") }
        // " #" starts a comment; "\#" keeps a literal '#'.
        let parsed = try ConceptFile.parse("examples: dogs \\#1 # the first\ndescription: a # comment\n", at: url)
        #expect(parsed.examples == ["dogs #1"] && parsed.description == "a")
    }

    // 5. Symlinked folders and files are followed, loops end, and what is not processed is reported.
    @Test func symlinksAreFollowedAndSkippedFilesReported() throws {
        let scratch = Scratch()
        scratch.image("real/a.png", label: "dog", id: 1)
        scratch.image("elsewhere/b.png", label: "dog", id: 2)
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: scratch.url.appendingPathComponent("real/b-link.png").path,
                                  withDestinationPath: scratch.url.appendingPathComponent("elsewhere/b.png").path)
        try fm.createSymbolicLink(atPath: scratch.url.appendingPathComponent("real/loop").path, withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: scratch.url.appendingPathComponent("real/gone.png").path, withDestinationPath: "/nonexistent/x.png")
        // A non-UTF-8 name (Latin-1 "café.png").
        let latin1 = Array(scratch.url.appendingPathComponent("real").path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".png".utf8) + [0]
        let fd = latin1.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(fd >= 0); close(fd)
        try fm.createSymbolicLink(atPath: scratch.url.appendingPathComponent("link-to-real").path,
                                  withDestinationPath: scratch.url.appendingPathComponent("real").path)

        let store = try scratch.store()
        let report = try indexImages(directory: scratch.url.appendingPathComponent("link-to-real"), collection: "c",
                                     embedder: FakeEmbedder(), store: store)
        // a.png, b-link.png, and through loop -> .. the scratch folder's elsewhere/b.png (same content); each real
        // folder once, so the loop ends.
        #expect(report.found == 3 && report.embedded == 2 && report.alreadyStored == 1)
        let errors = report.errors.map(\.error).joined(separator: "\n")
        #expect(errors.contains("gone.png: a broken symlink"))
        #expect(errors.contains("caf\\xE9.png: the file name is not UTF-8"))
        #expect(report.exitCode == 3)
    }

    // 11. prune during define keeps the images define is working on; remove during index stops the index.
    @Test func pruneDuringDefineKeepsItsImages() throws {
        let (scratch, store, embedder) = try world()
        let other = try Store.open(at: URL(fileURLWithPath: store.path))
        var pruned = 0
        let racing = HookedEmbedder(embedder) { files, inner in
            // Another process prunes between two batches of the define.
            pruned += (try? other.prune().imagesForgotten) ?? 0
            return inner.embed(files)
        }
        let summary = try defineConcept(ConceptDefinition(name: "dog", examples: ["dogs"], randomConcepts: 0, base: scratch.url.path),
                                        embedder: racing, store: store, batchSize: 2)
        #expect(summary.examples == 6 && pruned == 0)
        // Once saved, the concept keeps them; a later prune forgets nothing either.
        #expect(try other.prune().imagesForgotten == 0)
        try expectSound(store)
    }

    @Test func removeDuringIndexStopsTheIndex() throws {
        let scratch = Scratch()
        for i in 0..<6 { scratch.image("photos/p\(i).png", label: "x", id: i) }
        let store = try scratch.store()
        let other = try Store.open(at: URL(fileURLWithPath: store.path))
        var calls = 0
        let removing = HookedEmbedder { files, inner in
            calls += 1
            if calls == 2 { _ = try? other.removeCollection(named: "c") }
            return inner.embed(files)
        }
        #expect {
            try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "c",
                            embedder: removing, store: store, batchSize: 2)
        } throws: { "\($0)".contains("collection 'c' was removed while images were being added") }
        #expect(try store.collection(named: "c") == nil)
        try expectSound(store)
    }

    // 9, 10. Read-only opening; another program's database is refused unchanged; --db creates no folders.
    @Test func readersReadWhileAWriterHoldsTheLock() throws {
        let (scratch, store, _) = try world()
        defer { withExtendedLifetime(scratch) {} }
        let url = URL(fileURLWithPath: store.path)
        // Another connection holds a write transaction.
        var handle: OpaquePointer?
        #expect(sqlite3_open(url.path, &handle) == SQLITE_OK)
        defer { sqlite3_close(handle) }
        #expect(sqlite3_exec(handle, "BEGIN IMMEDIATE; INSERT INTO meta(key, value) VALUES ('x', 'y');", nil, nil, nil) == SQLITE_OK)
        let start = Date()
        let reader = try Store.openForReading(at: url)
        #expect(try listCollections(store: reader).map(\.name) == ["street"])
        #expect(Date().timeIntervalSince(start) < 2)
        sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
    }

    @Test func foreignDatabasesAreRefusedUnchanged() throws {
        let scratch = Scratch()
        let url = scratch.url.appendingPathComponent("firefox.sqlite")
        var handle: OpaquePointer?
        #expect(sqlite3_open(url.path, &handle) == SQLITE_OK)
        sqlite3_exec(handle, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places(url) VALUES ('x');", nil, nil, nil)
        sqlite3_close(handle)
        let before = try Data(contentsOf: url)
        #expect { try Store.open(at: url) } throws: { "\($0)".contains("another program") }
        #expect { try Store.openForReading(at: url) } throws: { "\($0)".contains("another program") }
        #expect(try Data(contentsOf: url) == before)
        #expect(!FileManager.default.fileExists(atPath: url.path + "-wal"))

        let typo = scratch.url.appendingPathComponent("no-such-folder/cdam.sqlite")
        #expect { try Store.open(at: typo, createFolder: false) } throws: { "\($0)".contains("does not exist") }
        #expect(!FileManager.default.fileExists(atPath: typo.deletingLastPathComponent().path))
    }

    // 8, 14. A broken model is listed as broken; staging folders of an interrupted import are not models.
    @Test func brokenModelsAreListedAsBroken() throws {
        let scratch = Scratch()
        let home = Home(root: scratch.url)
        try home.create()
        let dir = home.models.appendingPathComponent("zero-heads")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"model_type":"dinov2","hidden_size":384,"num_hidden_layers":12,"num_attention_heads":0,"mlp_ratio":4,"patch_size":14,"image_size":518}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        try Data([0, 0, 0, 0, 0, 0, 0, 0]).write(to: dir.appendingPathComponent("model.safetensors"))
        let staging = home.models.appendingPathComponent(".import-1234")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: staging.path)
        let models = ModelRegistry(home: home).list()
        #expect(models.map(\.name) == ["zero-heads"])
        #expect(models[0].broken?.contains("num_attention_heads 0") == true)
        #expect(!FileManager.default.fileExists(atPath: staging.path))
        #expect { try ModelRegistry(home: home).info("zero-heads") } throws: { "\($0)".contains("num_attention_heads") }
    }
}
