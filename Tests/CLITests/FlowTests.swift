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
