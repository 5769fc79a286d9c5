import Foundation
import Testing

/// What a user meets between the numbers (issue 12, "Flow"): suggestions, the version, help examples.
@Suite struct FlowTests {
    @Test func misspeltSubcommandsGetASuggestion() throws {
        let r = try CLI.run(["qurey", "x.jpg"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("did you mean 'query'"))
        let nested = try CLI.run(["concept", "defin", "x"])
        #expect(nested.status == 2 && nested.stderr.contains("did you mean 'define'"))
    }

    @Test func versionAndExamplesInHelp() throws {
        let v = try CLI.run(["--version"])
        #expect(v.status == 0 && v.stdout.split(separator: ".").count == 3)
        for command in [["embed"], ["index"], ["query"], ["search"], ["report"], ["concept", "define"], ["concept", "evaluate"],
                        ["concept", "list"], ["collection", "show"], ["model", "fetch"], ["model", "list"], ["bench"]] {
            let help = try CLI.run(command + ["--help"])
            #expect(help.stdout.contains("Examples:") || help.stdout.contains("Example:"), "\(command.joined(separator: " ")) --help has no example")
        }
    }

    @Test func progressReachesLogsToo() throws {
        guard CLI.modelInstalled else { return }
        // Progress comes per batch of 8: 17 photos give two lines before the end.
        let names = try FileManager.default.contentsOfDirectory(atPath: CLI.photos).filter { $0.hasSuffix(".jpg") }.sorted().prefix(17)
        let photos = names.map { "\(CLI.photos)/\($0)" }
        let r = try CLI.run(["embed"] + photos + ["--json"], environment: ["CDAM_PROGRESS": "0.001"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("embedding 8/\(photos.count)") && r.stderr.contains("left)"), "\(r.stderr)")
        #expect(r.json?["results"] is [Any])   // stdout stays one JSON document
        let quiet = try CLI.run(["embed"] + photos, environment: ["CDAM_PROGRESS": "0"])
        #expect(quiet.stderr.isEmpty)
    }

    @Test func misspeltNamesGetASuggestion() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("x.sqlite").path
        let r = try CLI.run(["collection", "show", "holidya", "--db", db])
        #expect(r.status == 1 && r.stderr.contains("does not exist"))
        guard CLI.modelInstalled else { return }
        let m = try CLI.run(["embed", "\(CLI.photos)/apple.jpg", "--model", "dinov2-small-imgfocsu", "--db", db])
        #expect(m.status == 1 && m.stderr.contains("did you mean 'dinov2-small-imgfocus'"), "\(m.stderr)")
    }
}
