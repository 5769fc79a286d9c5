import Foundation
import Store
import Testing
@testable import Workbench

@Suite struct LibrarySyncTests {
    @Test func conceptFilesParse() throws {
        let url = URL(fileURLWithPath: "/defs/fruit.concept")
        let definition = try ConceptFile.parse("""
            # Fruit from OpenCV's samples.
            description: apples and oranges   # shown by concept show
            kind: centred
            examples: /data/{apple,orange}.jpg
            examples: more-fruit
            negatives: /data/baboon.jpg
            background: street
            random-concepts: 20
            """, at: url)
        #expect(definition == ConceptDefinition(name: "fruit", description: "apples and oranges", kind: .centred,
                                                examples: ["/data/{apple,orange}.jpg", "more-fruit"], negatives: ["/data/baboon.jpg"],
                                                background: "street", randomConcepts: 20, base: "/defs", file: "/defs/fruit.concept"))
    }

    @Test func environmentVariablesExpandInPaths() throws {
        let url = URL(fileURLWithPath: "/defs/cat.concept")
        let definition = try ConceptFile.parse("examples: ${SKIMAGE_DATA}/chelsea.png\nnegatives: ${A}${B}/x\n", at: url,
                                               environment: ["SKIMAGE_DATA": "/site/skimage/data", "A": "/a", "B": "b"])
        #expect(definition.examples == ["/site/skimage/data/chelsea.png"] && definition.negatives == ["/ab/x"])
        #expect {
            try ConceptFile.parse("examples: ${NOPE}/x.png", at: url, environment: [:])
        } throws: { "\($0)".hasPrefix("/defs/cat.concept:1: environment variable NOPE is not set") }
    }

    @Test(arguments: [
        ("colour: red\nexamples: x", "fruit.concept:1: unknown key 'colour'"),
        ("examples: x\nkind: banana", "kind 'banana'"),
        ("name: a\nname: b\nexamples: x", "fruit.concept:2: 'name' is given twice"),
        ("name: a", "no 'examples:' line"),
        ("just words\n", "fruit.concept:1: expected 'key: value'"),
        ("examples: x\nrandom-concepts: many", "random-concepts 'many'"),
    ])
    func badConceptFilesNameFileAndLine(_ text: String, _ message: String) {
        #expect {
            try ConceptFile.parse(text, at: URL(fileURLWithPath: "/defs/fruit.concept"))
        } throws: { "\($0)".hasPrefix("/defs/fruit.concept") && "\($0)".contains(message) }
    }

    @Test func syncIsIdempotentAndNoticesChangedExamples() throws {
        let scratch = Scratch()
        for i in 0..<4 { scratch.image("photos/dogs/d\(i).png", label: "dog", id: i) }
        for i in 0..<4 { scratch.image("photos/cats/c\(i).png", label: "cat", id: i) }
        scratch.file("concepts/dog.concept", "description: dogs\nexamples: ../photos/dogs\nrandom-concepts: 0\n")
        scratch.file("concepts/cat.concept", "name: kitty\nkind: probe\nexamples: ../photos/cats\nnegatives: ../photos/dogs\nrandom-concepts: 0\n")
        scratch.file("concepts/broken.concept", "kind: mean\n")
        scratch.file("concepts/README.md", "ignored")
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        let folder = scratch.url.appendingPathComponent("concepts")

        let first = try syncConcepts(directory: folder, embedder: embedder, store: store)
        #expect(first.concepts.map(\.name) == ["kitty", "dog"])
        #expect(first.concepts.map(\.status) == ["defined", "defined"])
        #expect(first.errors.map(\.image) == [folder.appendingPathComponent("broken.concept").path])
        #expect(first.exitCode == 3)
        let embeddedOnce = embedder.embedded.count
        #expect(embeddedOnce == 8)

        let second = try syncConcepts(directory: folder, embedder: embedder, store: store)
        #expect(second.concepts.map(\.status) == ["unchanged", "unchanged"])
        #expect(embedder.embedded.count == embeddedOnce)

        // New content in an example folder redefines the concepts that use it, and only those.
        scratch.image("photos/dogs/d9.png", label: "dog", id: 9)
        let third = try syncConcepts(directory: folder, embedder: embedder, store: store)
        #expect(third.concepts.map(\.status) == ["defined", "defined"])   // kitty's negatives changed too
        #expect(try showConcept("dog", store: store).summary.examples == 5)
        scratch.file("concepts/dog.concept", "description: dogs, all of them\nexamples: ../photos/dogs\nrandom-concepts: 0\n")
        let fourth = try syncConcepts(directory: folder, embedder: embedder, store: store)
        #expect(fourth.concepts.map(\.status) == ["unchanged", "defined"])
        #expect(embedder.embedded.count == embeddedOnce + 1)
        try expectSound(store)
    }
}

/// The quick start's concept files: they parse, and (where the sample photos are installed) every source resolves.
@Suite struct LibraryShippedConceptTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../concepts").standardized
    static var skimageData: String? {
        if let set = ProcessInfo.processInfo.environment["SKIMAGE_DATA"] { return set }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), 'data'))"]
        let pipe = Pipe()
        probe.standardOutput = pipe
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return probe.terminationStatus == 0 && !out.isEmpty ? out : nil
    }

    @Test func shippedConceptFilesParse() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".concept") }
        #expect(files.count >= 3)
        for file in files {
            let definition = try ConceptFile.parse(try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8),
                                                   at: Self.folder.appendingPathComponent(file), environment: ["SKIMAGE_DATA": "/skimage"])
            #expect(!definition.examples.isEmpty && !definition.description.isEmpty, "\(file)")
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/doc/opencv-doc/examples/data/apple.jpg") && skimageData != nil))
    func shippedConceptSourcesResolve() throws {
        let environment = ["SKIMAGE_DATA": Self.skimageData!]
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter({ $0.hasSuffix(".concept") }) {
            let url = Self.folder.appendingPathComponent(file)
            let definition = try ConceptFile.parse(try String(contentsOf: url, encoding: .utf8), at: url, environment: environment)
            for source in definition.examples + definition.negatives {
                #expect(try !ImageFiles.expand(source, relativeTo: Self.folder).isEmpty, "\(file): \(source)")
            }
            #expect(try definition.examples.flatMap { try ImageFiles.expand($0, relativeTo: Self.folder) }.count >= 3, "\(file)")
        }
    }
}
