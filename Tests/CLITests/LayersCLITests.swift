import Foundation
import Testing

/// Concepts at an earlier block through the binary (issue 14): define at a block and with --layer auto,
/// index and search at that block, query targets of two blocks at once, and bad --layer values.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct LayersCLITests {
    @Test func conceptsAtAnEarlierBlock() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("cdam.sqlite").path
        let (fruit, others) = try CLI.fruitAndOthers(in: dir)
        let at11 = try CLI.run(["concept", "define", "fruit11", "--examples", fruit.path, "--negatives", others.path,
                                "--kind", "centred", "--layer", "11", "--random-concepts", "0", "--db", db, "--json"])
        #expect(at11.status == 0, "\(at11.stderr)")
        #expect(at11.json?["block"] as? Int == 11)
        #expect((at11.json?["preprocessing"] as? String)?.hasSuffix("@block11") == true)

        // --layer auto measures the last three blocks and says which it kept and why.
        let auto = try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--negatives", others.path,
                                "--kind", "centred", "--layer", "auto", "--random-concepts", "0", "--db", db, "--json"])
        #expect(auto.status == 0, "\(auto.stderr)")
        let choice = try #require(auto.json?["layerChoice"] as? [String: Any])
        #expect((choice["candidates"] as? [[String: Any]])?.map { $0["block"] as? Int } == [12, 11, 10])
        #expect((choice["reason"] as? String)?.contains("leave-one-out AUC") == true)
        let text = try CLI.run(["concept", "define", "fruit", "--examples", fruit.path, "--negatives", others.path,
                                "--kind", "centred", "--layer", "auto", "--random-concepts", "0", "--replace", "--db", db])
        #expect(text.stdout.contains("layer: block "), "\(text.stdout)")

        // The last block by number is the last block: the same stored vectors, no "@block12".
        let last = try CLI.run(["concept", "define", "fruit12", "--examples", fruit.path, "--negatives", others.path,
                                "--kind", "centred", "--layer", "12", "--random-concepts", "0", "--db", db, "--json"])
        #expect(last.status == 0 && last.json?["block"] == nil && (last.json?["preprocessing"] as? String) == "pil-bicubic-224x224")

        // One query, targets of two blocks: each explained on its own network.
        let q = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--concept", "fruit11", "--concept", "fruit12", "--db", db, "--json"])
        #expect(q.status == 0, "\(q.stderr)")
        let targets = try #require(((q.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])
        #expect(targets.map { $0["name"] as? String } == ["fruit11", "fruit12"])
        let maps = targets.compactMap { ($0["maps"] as? [String: Any])?["cdam"] as? [Double] }
        #expect(maps.count == 2 && maps[0] != maps[1])

        // Search at block 11 needs the collection's images at block 11; the error says how.
        let photos = try CLI.folder(["HappyFish.jpg", "pic1.png", "smarties.png"], in: dir, named: "photos")
        #expect(try CLI.run(["index", photos.path, "--collection", "c", "--db", db]).status == 0)
        let missing = try CLI.run(["search", "--concept", "fruit11", "--collection", "c", "--db", db])
        #expect(missing.status != 0 && missing.stderr.contains("--layer 11"), "\(missing.stderr)")
        let indexed = try CLI.run(["index", photos.path, "--collection", "c", "--layer", "11", "--db", db])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        let s = try CLI.run(["search", "--concept", "fruit11", "--collection", "c", "--db", db, "--json"])
        #expect(s.status == 0, "\(s.stderr)")

        // A contrast needs one block.
        let mixed = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--contrast", "fruit11,fruit12", "--db", db])
        #expect(mixed.status != 0 && mixed.stderr.contains("block 11"), "\(mixed.stderr)")
    }

    @Test(arguments: ["0", "13", "abc"])
    func badLayersAreRefused(_ layer: String) throws {
        let r = try CLI.run(["embed", "\(CLI.photos)/apple.jpg", "--layer", layer])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--layer"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count <= 3)
    }
}
