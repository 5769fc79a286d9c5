import Foundation
import Testing

/// Linear heads end to end (issue 13): train on folders of generated images, evaluate, list, show, query class
/// CDAM, export and import (JSON and safetensors), and bad input; through the built binary.
@Suite(.serialized) struct HeadCLITests {
    /// Folders red/, green/, blue/ of small generated PNGs: a dominant colour with random blocks of others.
    static func colourFolders(in dir: URL, perClass: Int = 6) throws -> URL {
        let root = dir.appendingPathComponent("colours")
        let colours: [(String, [UInt8])] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 220])]
        var state: UInt64 = 13
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        for (name, rgb) in colours {
            let folder = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let w = 56, h = 56
                var pixels = [UInt8](repeating: 0, count: w * h * 3)
                for y in 0..<h { for x in 0..<w { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = UInt8(max(0, min(255, Int(rgb[c]) + next() % 41 - 20))) } } }
                for _ in 0..<3 {   // a few grey blocks so images differ in layout
                    let bx = next() % 40, by = next() % 40, g = UInt8(next() % 256)
                    for y in by..<(by + 12) { for x in bx..<(bx + 12) { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = g } } }
                }
                try pngData(width: w, height: h, rgb: pixels).write(to: folder.appendingPathComponent("\(name)\(i).png"))
            }
        }
        return root
    }

    @Test func trainEvaluateQueryExportImport() throws {
        guard CLI.modelInstalled else { return }
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("h.sqlite").path
        let root = try Self.colourFolders(in: dir)

        let train = try CLI.run(["head", "train", "colours", "--labels", root.path, "--folds", "3", "--json", "--db", db])
        #expect(train.status == 0, "\(train.stderr)")
        let summary = try #require(train.json)
        #expect(summary["labels"] as? [String] == ["blue", "green", "red"])
        #expect(summary["imagesPerClass"] as? [Int] == [6, 6, 6])
        let evaluation = try #require(summary["evaluation"] as? [String: Any])
        #expect((evaluation["accuracy"] as? Double ?? 0) >= 0.8, "\(evaluation)")

        let eval = try CLI.run(["head", "eval", "colours", "--folds", "3", "--db", db])
        #expect(eval.status == 0 && eval.stdout.contains("3-fold cross-validated accuracy") && eval.stdout.contains("confusion"), "\(eval.stdout)\(eval.stderr)")
        let list = try CLI.run(["head", "list", "--db", db])
        #expect(list.status == 0 && list.stdout.contains("colours") && list.stdout.contains("3 classes"))
        let show = try CLI.run(["head", "show", "colours", "--json", "--db", db])
        #expect((show.json?["images"] as? [Any])?.count == 18)

        // Class CDAM: a named class and the top 2; each target reports its head, probability and rank.
        let image = root.appendingPathComponent("red/red0.png").path
        let query = try CLI.run(["query", image, "--head", "colours", "--class", "red", "--class", "top2", "--json", "--db", db])
        #expect(query.status == 0, "\(query.stderr)")
        let targets = try #require(((query.json?["results"] as? [[String: Any]])?.first?["targets"]) as? [[String: Any]])
        #expect(targets.first?["name"] as? String == "red" && targets.first?["kind"] as? String == "class")
        #expect(targets.first?["rank"] as? Int == 1 && (targets.first?["probability"] as? Double ?? 0) > 0.5)
        #expect(targets.count == 2 && targets.allSatisfy { $0["head"] as? String == "colours" })
        let all = try CLI.run(["query", image, "--head", "colours", "--class", "all", "--db", db])
        #expect(all.status == 0 && all.stdout.contains("rank 3 of head 'colours'"), "\(all.stdout)")

        // Export and import in both formats give the same head (same maps).
        let json = dir.appendingPathComponent("colours.head.json").path, st = dir.appendingPathComponent("colours.safetensors").path
        #expect(try CLI.run(["head", "export", "colours", "--out", json, "--db", db]).status == 0)
        #expect(try CLI.run(["head", "export", "colours", "--out", st, "--db", db]).status == 0)
        let imported = try CLI.run(["head", "import", st, "--name", "colours2", "--json", "--db", db])
        #expect(imported.status == 0 && imported.json?["labels"] as? [String] == ["blue", "green", "red"], "\(imported.stderr)")
        let again = try CLI.run(["head", "import", json, "--name", "colours3", "--db", db])
        #expect(again.status == 0, "\(again.stderr)")
        let q2 = try CLI.run(["query", image, "--head", "colours2", "--class", "red", "--json", "--db", db])
        let t2 = try #require(((q2.json?["results"] as? [[String: Any]])?.first?["targets"]) as? [[String: Any]])
        let m1 = (targets[0]["maps"] as? [String: [Double]])?["cdam"] ?? [], m2 = (t2[0]["maps"] as? [String: [Double]])?["cdam"] ?? []
        // One target or two in the batched backward: the same map up to float rounding.
        let worst = zip(m1, m2).map { abs($0 - $1) }.max() ?? .infinity, scale = m1.map(abs).max() ?? 0
        #expect(m1.count == 16 * 16 && worst <= 1e-4 * scale, "max difference \(worst), scale \(scale)")

        // The training images survive a prune after their files are gone: the head still evaluates.
        try FileManager.default.removeItem(at: root)
        #expect(try CLI.run(["collection", "prune", "--db", db]).status == 0)
        let afterPrune = try CLI.run(["head", "eval", "colours", "--folds", "3", "--json", "--db", db])
        #expect(afterPrune.status == 0 && afterPrune.json?["count"] as? Int == 18, "\(afterPrune.stderr)")

        #expect(try CLI.run(["head", "remove", "colours3", "--db", db]).status == 0)
        #expect(try CLI.run(["head", "show", "colours3", "--db", db]).status == 1)
    }

    /// A class logit is a linear target: with the weights of a probe concept, class CDAM is the probe's CDAM.
    /// `report --head`: a section per class, ranked over a collection, the head's training images marked as examples.
    @Test func reportHasASectionPerClass() throws {
        guard CLI.modelInstalled else { return }
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("h.sqlite").path
        let root = try Self.colourFolders(in: dir, perClass: 4)
        #expect(try CLI.run(["head", "train", "colours", "--labels", root.path, "--folds", "0", "--db", db]).status == 0)
        #expect(try CLI.run(["index", root.path, "--collection", "colours", "--db", db]).status == 0)
        let out = dir.appendingPathComponent("report")
        let r = try CLI.run(["report", "--head", "colours", "--class", "red", "--class", "blue", "--collection", "colours",
                             "--compare", "0", "--include-examples", "--top", "3", "--out", out.path, "--json", "--db", db])
        #expect(r.status == 0, "\(r.stderr)")
        let sections = try #require(r.json?["concepts"] as? [[String: Any]])
        #expect(sections.compactMap { ($0["concept"] as? [String: Any])?["name"] as? String } == ["colours/red", "colours/blue"])
        for section in sections {
            let top = try #require(section["top"] as? [[String: Any]])
            #expect(top.count == 3)
            let name = ((section["concept"] as? [String: Any])?["name"] as? String ?? "").replacingOccurrences(of: "colours/", with: "")
            // The best matches of a colour class are its own training images, marked as examples.
            #expect(top.allSatisfy { ($0["image"] as? String ?? "").contains("/\(name)/") && $0["example"] as? Bool == true }, "\(top)")
        }
        let page = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        #expect(page.contains("red") && page.contains("blue") && page.contains("colours"))
    }

    @Test func classCDAMEqualsTheProbeConceptWithTheSameWeights() throws {
        guard CLI.modelInstalled else { return }
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("p.sqlite").path
        let root = try Self.colourFolders(in: dir, perClass: 4)
        let define = try CLI.run(["concept", "define", "redprobe", "--kind", "probe", "--examples", root.appendingPathComponent("red").path,
                                  "--negatives", root.appendingPathComponent("blue").path, "--random-concepts", "0", "--db", db])
        #expect(define.status == 0, "\(define.stderr)")
        let export = try CLI.run(["concept", "export", "redprobe", "--db", db])
        let concept = try #require(export.json)
        let direction = try #require(concept["direction"] as? [Double]).map(Float.init)
        let bias = Float(try #require(concept["bias"] as? Double))
        // A two-class head whose first row is the probe; the second row is anything.
        let file = dir.appendingPathComponent("probe.safetensors")
        try safetensorsData(["classifier.weight": ([2, direction.count], direction + direction.map { -0.5 * $0 }),
                             "classifier.bias": ([2], [bias, 0.25])]).write(to: file)
        let labels = dir.appendingPathComponent("labels.txt")
        try "redness\nother\n".write(to: labels, atomically: true, encoding: .utf8)
        let imported = try CLI.run(["head", "import", file.path, "--name", "probehead", "--labels-file", labels.path, "--db", db])
        #expect(imported.status == 0, "\(imported.stderr)")
        let image = root.appendingPathComponent("green/green1.png").path
        let q = try CLI.run(["query", image, "--concept", "redprobe", "--head", "probehead", "--class", "redness", "--json", "--db", db])
        #expect(q.status == 0, "\(q.stderr)")
        let targets = try #require(((q.json?["results"] as? [[String: Any]])?.first?["targets"]) as? [[String: Any]])
        #expect(targets.map { $0["kind"] as? String } == ["probe", "class"])
        let a = (targets[0]["maps"] as? [String: [Double]])?["cdam"] ?? [], b = (targets[1]["maps"] as? [String: [Double]])?["cdam"] ?? []
        let scale = a.map(abs).max() ?? 0
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(a.count == 256 && worst <= 1e-6 * max(scale, 1e-12), "max |class - probe| = \(worst), scale \(scale)")
        #expect(abs((targets[0]["score"] as? Double ?? 0) - (targets[1]["score"] as? Double ?? 1)) <= 1e-5)
    }

    @Test func badInputIsOneClearLineAndChangesNothing() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("b.sqlite").path
        let noClass = try CLI.run(["head", "train", "x", "--db", db])
        #expect(noClass.status == 2 && noClass.stderr.contains("--class LABEL=DIR"))
        let badClass = try CLI.run(["head", "train", "x", "--class", "dogs", "--class", "cat=c", "--db", db])
        #expect(badClass.status == 2 && badClass.stderr.contains("--class dogs: write LABEL=DIR"))
        let badC = try CLI.run(["head", "train", "x", "--class", "a=a", "--class", "b=b", "--C", "-1", "--db", db])
        #expect(badC.status == 2 && badC.stderr.contains("--C"))
        let noLabels = try CLI.run(["head", "train", "x", "--labels", dir.appendingPathComponent("nowhere").path, "--db", db])
        #expect(noLabels.status == 1 && noLabels.stderr.contains("nowhere: no such folder"), "\(noLabels.stderr)")
        let unknown = try CLI.run(["head", "show", "nosuch", "--db", db])
        #expect(unknown.status == 1 && unknown.stderr.contains("head 'nosuch' does not exist"))
        let classWithoutHead = try CLI.run(["query", "x.png", "--class", "dog", "--db", db])
        #expect(classWithoutHead.status == 2 && classWithoutHead.stderr.contains("--class needs --head"), "\(classWithoutHead.stderr)")
        // A safetensors file whose weight has the wrong width: the tensor and both shapes are named.
        let bad = dir.appendingPathComponent("bad.safetensors")
        try safetensorsData(["weight": ([3, 7], [Float](repeating: 0.1, count: 21)), "bias": ([3], [0, 0, 0])]).write(to: bad)
        guard CLI.modelInstalled else { return }
        let wrong = try CLI.run(["head", "import", bad.path, "--name", "bad", "--db", db])
        #expect(wrong.status == 1 && wrong.stderr.contains("tensor 'weight' has shape [3, 7], expected [classes, 384]"), "\(wrong.stderr)")
        #expect(wrong.stderr.split(separator: "\n").count == 1)
        let list = try CLI.run(["head", "list", "--json", "--db", db])
        #expect(list.status == 0 && list.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || list.stdout.contains("[]"), "\(list.stdout)")
        let root = try Self.colourFolders(in: dir, perClass: 2)
        let one = try CLI.run(["head", "train", "x", "--class", "red=\(root.path)/red", "--class", "red=\(root.path)/blue", "--db", db])
        #expect(one.status == 2 && one.stderr.contains("class 'red' is given twice"), "\(one.stderr)")
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let none = try CLI.run(["head", "train", "x", "--class", "red=\(root.path)/red", "--class", "void=\(empty.path)", "--db", db])
        #expect(none.status == 1 && none.stderr.contains("class 'void': no image files"), "\(none.stderr)")
        let query = try CLI.run(["head", "train", "c", "--labels", root.path, "--folds", "0", "--db", db])
        #expect(query.status == 0, "\(query.stderr)")
        let badPick = try CLI.run(["query", "\(root.path)/red/red0.png", "--head", "c", "--class", "gren", "--db", db])
        #expect(badPick.status == 2 && badPick.stderr.contains("did you mean 'green'"), "\(badPick.stderr)")
    }
}

/// A safetensors file of float32 tensors (name: (shape, values)).
func safetensorsData(_ tensors: [String: ([Int], [Float])]) -> Data {
    var header: [String] = [], body = Data()
    for (name, (shape, values)) in tensors.sorted(by: { $0.key < $1.key }) {
        let start = body.count
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        header.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(start),\(body.count)]}")
    }
    var json = Data("{\(header.joined(separator: ","))}".utf8)
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    return out + json + body
}

/// An 8-bit RGB PNG with stored (uncompressed) deflate blocks.
func pngData(width: Int, height: Int, rgb: [UInt8]) -> Data {
    var raw = Data()
    for y in 0..<height { raw.append(0); raw.append(contentsOf: rgb[(y * width * 3)..<((y + 1) * width * 3)]) }
    var z = Data([0x78, 0x01])
    var offset = 0
    repeat {
        let n = min(65535, raw.count - offset)
        z.append(offset + n == raw.count ? 1 : 0)
        z.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)])
        z.append(raw[offset..<(offset + n)])
        offset += n
    } while offset < raw.count
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    z.append(contentsOf: bigEndian((b << 16) | a))
    func chunk(_ type: String, _ data: Data) -> Data {
        var c = Data(type.utf8) + data
        let crc = crc32(c)
        c = Data(bigEndian(UInt32(data.count))) + c + Data(bigEndian(crc))
        return c
    }
    var ihdr = Data(bigEndian(UInt32(width)) + bigEndian(UInt32(height)))
    ihdr.append(contentsOf: [8, 2, 0, 0, 0])
    return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", Data())
}

private func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

private func crc32(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~crc
}
