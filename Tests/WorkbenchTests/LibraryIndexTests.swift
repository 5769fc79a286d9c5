import Foundation
import Store
import Testing
@testable import Workbench

@Suite struct LibraryIndexTests {
    @Test func indexesRecursivelyOnceAndReportsBadFiles() throws {
        let scratch = Scratch()
        for i in 0..<5 { scratch.image("photos/dog\(i).png", label: "dog", id: i) }
        for i in 0..<3 { scratch.image("photos/sub/cat\(i).jpg", label: "cat", id: i) }
        scratch.image("photos/sub/copy-of-dog0.png", label: "dog", id: 0)        // same content as dog0.png
        scratch.image("photos/no-extension", label: "cat", id: 9)               // found by sniffing
        scratch.file("photos/notes.txt", "not an image")                         // skipped quietly
        scratch.file("photos/broken.jpg", "not really a jpeg")                   // an image by name: fails loudly
        scratch.image("photos/.hidden/x.png", label: "dog", id: 99)             // hidden: skipped
        let store = try scratch.store()
        let embedder = FakeEmbedder()
        var ticks: [LibraryProgress] = []
        let report = try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "pets",
                                     embedder: embedder, store: store, batchSize: 3) { ticks.append($0) }
        #expect(report.found == 11)
        #expect(report.embedded == 9)
        #expect(report.alreadyStored == 1)
        #expect(report.errors.map(\.image) == [scratch.url.appendingPathComponent("photos/broken.jpg").path])
        #expect(report.errors[0].error.hasPrefix(report.errors[0].image))
        #expect(report.exitCode == 3)
        #expect(ticks.last == LibraryProgress(phase: "embedding", done: 11, total: 11, failed: 1))
        #expect(try store.collection(named: "pets")?.imageCount == 9)
        #expect(embedder.embedded.count == 10)  // 9 images + the broken one; the copy was not embedded twice
        try expectSound(store)

        // A rerun embeds nothing new but still records, and a second collection reuses the embeddings.
        let again = try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "pets",
                                    embedder: embedder, store: store, batchSize: 4)
        #expect(again.embedded == 0 && again.alreadyStored == 10 && again.errors.count == 1)
        let sub = try indexImages(directory: scratch.url.appendingPathComponent("photos/sub"), embedder: embedder, store: store)
        #expect(sub.collection == "sub" && sub.embedded == 0 && sub.alreadyStored == 4)
        #expect(embedder.embedded.count == 11)  // only the broken file was tried again
        let copy = try #require(try store.findImage(sha256: ImageFiles.hashFile(scratch.url.appendingPathComponent("photos/dog0.png")).sha256))
        #expect(copy.paths.count == 2)
        try expectSound(store)
    }

    @Test func anInterruptedRunIsFinishedByARerun() throws {
        let scratch = Scratch()
        for i in 0..<10 { scratch.image("photos/img\(i).png", label: "x", id: i) }
        let store = try scratch.store()
        // The first run "dies" after its first batches: the embedder refuses everything after 4 files.
        var budget = 4
        let dying = HookedEmbedder { files, inner in
            files.map { url in
                budget -= 1
                return budget >= 0 ? inner.embed([url])[0] : .failure(WorkbenchError.failed("\(url.path): killed"))
            }
        }
        let first = try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "c",
                                    embedder: dying, store: store, batchSize: 2)
        #expect(first.embedded == 4 && first.errors.count == 6)
        let embedder = FakeEmbedder()
        let second = try indexImages(directory: scratch.url.appendingPathComponent("photos"), collection: "c",
                                     embedder: embedder, store: store, batchSize: 2)
        #expect(second.embedded == 6 && second.alreadyStored == 4 && second.exitCode == 0)
        #expect(embedder.embedded.count == 6)
        #expect(try store.collection(named: "c")?.imageCount == 10)
        try expectSound(store)
    }

    @Test func aMissingFolderIsAClearError() throws {
        let scratch = Scratch()
        let store = try scratch.store()
        let missing = scratch.url.appendingPathComponent("nope")
        #expect {
            try indexImages(directory: missing, embedder: FakeEmbedder(), store: store)
        } throws: { "\($0)".hasPrefix(missing.path) }
    }

    @Test func globsExpandWithBraces() throws {
        let scratch = Scratch()
        scratch.image("data/apple.jpg", label: "apple", id: 1)
        scratch.image("data/orange.jpg", label: "orange", id: 1)
        scratch.image("data/baboon.jpg", label: "baboon", id: 1)
        let found = try ImageFiles.expand("data/{apple,orange}*.jpg", relativeTo: scratch.url)
        #expect(found.map(\.lastPathComponent) == ["apple.jpg", "orange.jpg"])
        #expect(throws: WorkbenchError.self) { try ImageFiles.expand("data/kiwi*.jpg", relativeTo: scratch.url) }
    }

    @Test(arguments: [(1, 1), (3, 10), (10, 10), (5, 1000), (50, 1000)])
    func topKAgreesWithSorting(_ k: Int, _ n: Int) {
        var rng = SystemRandomNumberGenerator()
        let scores = (0..<n).map { _ in Float(Int.random(in: 0..<50, using: &rng)) }
        let expected = Array(scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k))
        #expect(topK(scores, k) == expected)
    }
}
