import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `cdam serve` (issue 16) end to end: the built binary serving on loopback, driven over HTTP as a browser or a
/// script would: list concepts, upload a real photo and get its maps, search, and bad requests.
@Suite(.serialized) struct ServeCLITests {
    /// A running `cdam serve`, stopped when released.
    final class Running {
        let process = Process()
        var address = ""

        init(_ arguments: [String], home: String) throws {
            process.executableURL = CLI.binary
            process.arguments = ["serve", "--port", "0"] + arguments
            var env = ProcessInfo.processInfo.environment
            env["CDAM_HOME"] = home
            process.environment = env
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The first line names the address: "cdam serve: http://127.0.0.1:PORT/...  (Ctrl-C stops)".
            var line = Data()
            let handle = out.fileHandleForReading
            while !line.contains(0x0A) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let start = text.range(of: "http://"), let end = text[start.lowerBound...].firstIndex(of: " ") else {
                process.terminate()
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no address from cdam serve: \(text)"])
            }
            address = String(text[start.lowerBound..<end])
        }

        /// The server's root without the token query.
        var root: String { address.components(separatedBy: "?").first ?? address }

        deinit { process.terminate(); process.waitUntilExit() }
    }

    /// One HTTP request, waited for.
    static func request(_ url: String, method: String = "GET", body: Data? = nil) throws -> (status: Int, body: Data) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 120
        final class Box: @unchecked Sendable { var status = 0; var data = Data(); var error: Error? }
        let box = Box(), done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            box.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            box.data = data ?? Data(); box.error = error
            done.signal()
        }.resume()
        done.wait()
        if let error = box.error { throw error }
        return (box.status, box.data)
    }

    static func json(_ data: Data) -> Any? { try? JSONSerialization.jsonObject(with: data) }

    /// A small PNG that declares `width` x `height` RGB pixels (valid chunks and CRCs, almost no pixel data).
    static func pngHeader(width: UInt32, height: UInt32) -> Data {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return c ^ 0xFFFF_FFFF
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be(UInt32(data.count)) + body + be(crc32(body))
        }
        // IHDR, then an IDAT (a zlib stream of 16 zero bytes) so the reader reaches the size check, then IEND.
        let idat: [UInt8] = [0x78, 0x9C, 0x63, 0x60, 0x40, 0x05, 0x00, 0x00, 0x10, 0x00, 0x01]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", be(width) + be(height) + [8, 2, 0, 0, 0])
                    + chunk("IDAT", idat) + chunk("IEND", []))
    }

    @Test func apiExplainsSearchesAndRefusesBadRequests() throws {
        guard CLI.modelInstalled else { return }
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        #expect(try CLI.run(["concept", "import", try HardeningCLITests.conceptFile(in: dir).path], home: home).status == 0)
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        #expect(try CLI.run(["index", fruit.path, "--collection", "fruit"], home: home).status == 0)
        let server = try Running(["--max-upload", "1", "--collection", "fruit"], home: home)
        let root = server.root

        let page = try Self.request(root)
        #expect(page.status == 200 && String(decoding: page.body, as: UTF8.self).contains("Where is the evidence?"))
        let concepts = try Self.request(root + "api/concepts")
        #expect(concepts.status == 200)
        #expect((Self.json(concepts.body) as? [[String: Any]])?.first?["name"] as? String == "striped")

        // A real photo: the query document, each picture inlined.
        let photo = try Data(contentsOf: URL(fileURLWithPath: "\(CLI.photos)/apple.jpg"))
        let explained = try Self.request(root + "api/explain?concept=striped&maps=cdam,am&name=apple.jpg", method: "POST", body: photo)
        #expect(explained.status == 200, "\(String(decoding: explained.body, as: UTF8.self).prefix(300))")
        let document = try #require(Self.json(explained.body) as? [String: Any])
        let result = try #require((document["results"] as? [[String: Any]])?.first)
        let target = try #require((result["targets"] as? [[String: Any]])?.first)
        #expect(target["name"] as? String == "striped")
        #expect((target["maps"] as? [String: Any])?["cdam"] as? [Double] != nil)
        let overlays = try #require(target["overlays"] as? [String: String])
        #expect(overlays["cdam"]?.hasPrefix("data:image/png;base64,iVBOR") == true)
        #expect((result["image"] as? String ?? "").hasSuffix("apple.jpg"))

        #expect(String(decoding: try Self.request(root + "api/settings").body, as: UTF8.self) == #"{"collection":"fruit"}"#)
        let found = try Self.request(root + "api/search?concept=striped&top=2")
        #expect(found.status == 200)
        #expect(((Self.json(found.body) as? [String: Any])?["results"] as? [Any])?.count == 2)

        // Stored images by content: served, explained, and made into a concept (measured, then saved).
        let collection = try #require(Self.json(try Self.request(root + "api/collections/fruit").body) as? [String: Any])
        let members = try #require(collection["images"] as? [[String: Any]])
        let shas = members.compactMap { $0["sha256"] as? String }
        #expect(shas.count == 2)
        let served = try Self.request(root + "api/images/\(shas[0])")
        #expect(served.status == 200 && served.body.starts(with: [0xFF, 0xD8]))
        #expect(try Self.request(root + "api/images/\(String(repeating: "0", count: 64))").status == 404)
        let storedExplained = try Self.request(root + "api/images/\(shas[0])/explain?concept=striped")
        #expect(storedExplained.status == 200)
        #expect(String(decoding: storedExplained.body, as: UTF8.self).contains("data:image/png;base64,"))
        let define = { (save: Bool) throws -> (status: Int, body: Data) in
            let body = try JSONSerialization.data(withJSONObject: ["name": "apples", "kind": "mean", "examples": [shas[0]],
                                                                   "negatives": [shas[1]], "save": save])
            return try Self.request(root + "api/concepts", method: "POST", body: body)
        }
        let measured = try define(false)
        #expect(measured.status == 200, "\(String(decoding: measured.body, as: UTF8.self))")
        #expect((Self.json(measured.body) as? [String: Any])?["status"] as? String == "measured")
        #expect(!String(decoding: try Self.request(root + "api/concepts").body, as: UTF8.self).contains("apples"))
        #expect(try define(true).status == 200)
        #expect(String(decoding: try Self.request(root + "api/concepts").body, as: UTF8.self).contains("apples"))

        // Bad requests: one JSON error with the command line's message and a fitting status.
        let unknown = try Self.request(root + "api/explain?concept=nope", method: "POST", body: photo)
        #expect((400..<500).contains(unknown.status))
        #expect(((Self.json(unknown.body) as? [String: Any])?["error"] as? String ?? "").contains("nope"))
        let notImage = try Self.request(root + "api/explain?concept=striped&name=notes.jpg", method: "POST", body: Data("hello".utf8))
        #expect(notImage.status == 422)
        #expect(((Self.json(notImage.body) as? [String: Any])?["error"] as? String ?? "").contains("notes.jpg"))
        let large = try Self.request(root + "api/explain?concept=striped", method: "POST", body: Data(count: 2 << 20))
        #expect(large.status == 413)
        let noConcept = try Self.request(root + "api/explain", method: "POST", body: photo)
        #expect(noConcept.status == 400)
        // A few bytes that declare a 30000 x 30000 PNG: too many pixels is too large a request.
        let bomb = try Self.request(root + "api/explain?concept=striped&name=bomb.png", method: "POST", body: Self.pngHeader(width: 30_000, height: 30_000))
        #expect(bomb.status == 413, "\(String(decoding: bomb.body, as: UTF8.self))")
        #expect(((Self.json(bomb.body) as? [String: Any])?["error"] as? String ?? "").contains("30000 x 30000"))
    }

    @Test func otherHostsNeedAllowRemoteAndATokenGuardsThem() throws {
        guard CLI.modelInstalled else { return }
        let refused = try CLI.run(["serve", "--host", "0.0.0.0", "--port", "0"], home: try CLI.freshHome().path)
        #expect(refused.status == 2 && refused.stderr.contains("--allow-remote"), "\(refused.stderr)")
        let unknown = try CLI.run(["serve", "--port", "0", "--collection", "nope"], home: try CLI.freshHome().path)
        #expect(unknown.status != 0 && unknown.stderr.contains("nope"), "\(unknown.stderr)")

        let server = try Running(["--host", "127.0.0.2", "--allow-remote"], home: try CLI.freshHome().path)
        #expect(server.address.contains("?token="))
        #expect(try Self.request(server.root + "api/concepts").status == 401)
        #expect(try Self.request(server.address.replacingOccurrences(of: "/?token=", with: "/api/concepts?token=")).status == 200)
    }

    /// The pages in a real browser (headless Chromium through Selenium: scripts/browser/serve_pages.py): the concepts
    /// table fills, a photo uploaded on Explain gets a map per ticked concept, Search lists hits and explains one,
    /// Define measures ticked stored photos; no console error, no broken image.
    /// scripts/test.sh installs Chromium, chromedriver and Selenium; elsewhere the test skips without them.
    @Test func pagesWorkInABrowser() throws {
        guard CLI.modelInstalled else { return }
        let haveBrowser = FileManager.default.fileExists(atPath: "/usr/bin/chromedriver")
            && (try? CLI.shell("python3 -c 'import selenium' 2>/dev/null")) == 0
        guard haveBrowser || ProcessInfo.processInfo.environment["CI"] != nil else { return }
        let home = try CLI.freshHome().path, dir = try CLI.temporaryDirectory()
        #expect(try CLI.run(["concept", "import", try HardeningCLITests.conceptFile(in: dir).path], home: home).status == 0)
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg", "baboon.jpg"], in: dir, named: "fruit")
        #expect(try CLI.run(["index", fruit.path, "--collection", "fruit"], home: home).status == 0)
        let server = try Running([], home: home)
        let shots = dir.appendingPathComponent("screenshots")
        let script = CLI.repo.appendingPathComponent("scripts/browser/serve_pages.py").path
        let status = try CLI.shell("python3 '\(script)' --url '\(server.root)' --photo '\(CLI.photos)/fruits.jpg' --out '\(shots.path)'")
        #expect(status == 0, "the browser check failed (its output is above)")
        #expect(FileManager.default.fileExists(atPath: shots.appendingPathComponent("explain.png").path))
    }
}
