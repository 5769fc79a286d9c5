import Foundation
import Testing

/// Smooth and Integrated CDAM through the binary (issue 14): the maps and their settings in the JSON, the
/// seed, the token perturbation, the pictures, and bad option values refused with one clear line.
@Suite(.enabled(if: CLI.modelInstalled, "the model is not installed (run `cdam model fetch`)"), .serialized)
struct SmoothCLITests {
    /// The `maps` of the first target of a query at 112 px (64 patches: every pass stays cheap).
    static func query(_ extra: [String], examples: URL) throws -> (CLI.Run, [String: [Double]], [String: Any]) {
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", examples.path, "--size", "112", "--json"] + extra)
        let maps = ((((r.json?["results"] as? [[String: Any]])?.first)?["targets"] as? [[String: Any]])?.first?["maps"] as? [String: [Double]]) ?? [:]
        return (r, maps, r.json?["mapSettings"] as? [String: Any] ?? [:])
    }

    @Test func smoothAndIntegratedMapsWithTheirSettings() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fruit = try CLI.folder(["apple.jpg", "orange.jpg"], in: dir, named: "fruit")
        let (r, maps, settings) = try Self.query(["--maps", "cdam,scdam,icdam", "--smooth-samples", "4", "--smooth-sigma", "0.1",
                                                  "--integrated-steps", "4", "--baseline", "blurred", "--seed", "7"], examples: fruit)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Set(maps.keys) == ["cdam", "scdam", "icdam"] && maps.values.allSatisfy { $0.count == 64 })
        #expect(maps["scdam"] != maps["cdam"] && maps["icdam"] != maps["cdam"])
        let smooth = try #require(settings["scdam"] as? [String: Any])
        #expect(smooth["samples"] as? Int == 4 && smooth["seed"] as? Int == 7 && abs((smooth["sigma"] as? Double ?? 0) - 0.1) < 1e-6)
        let integrated = try #require(settings["icdam"] as? [String: Any])
        #expect(integrated["steps"] as? Int == 4 && integrated["baseline"] as? String == "blurred"
                && integrated["integration"] as? String == "trapezoid")
        #expect(integrated["fullPasses"] as? Int == 5)   // trapezoid: M + 1 points

        // The same seed, the same map; another seed, another map.
        let same = try Self.query(["--maps", "scdam", "--smooth-samples", "4", "--smooth-sigma", "0.1", "--seed", "7"], examples: fruit)
        #expect(same.1["scdam"] == maps["scdam"])
        let other = try Self.query(["--maps", "scdam", "--smooth-samples", "4", "--smooth-sigma", "0.1", "--seed", "8"], examples: fruit)
        #expect(other.1["scdam"] != maps["scdam"])

        // Tokens perturbed instead of pixels: only the last block runs per copy.
        let tokens = try Self.query(["--maps", "scdam,icdam", "--smooth-samples", "4", "--integrated-steps", "4", "--integration", "riemann",
                                     "--perturb", "tokens"], examples: fruit)
        #expect(tokens.0.status == 0, "\(tokens.0.stderr)")
        let t = try #require(tokens.2["scdam"] as? [String: Any])
        #expect(t["perturb"] as? String == "tokens" && t["fullPasses"] as? Int == 0 && t["lastBlockPasses"] as? Int == 4)
        #expect((tokens.2["icdam"] as? [String: Any])?["lastBlockPasses"] as? Int == 4)   // riemann: M points

        // Without scdam or icdam, no settings are reported.
        let plain = try Self.query([], examples: fruit)
        #expect(plain.0.status == 0 && plain.0.json?["mapSettings"] == nil)
    }

    @Test(arguments: [
        (["--smooth-samples", "0"], "--smooth-samples"),
        (["--smooth-samples", "-3"], "--smooth-samples"),
        (["--smooth-sigma", "-0.1"], "--smooth-sigma"),
        (["--smooth-sigma", "2"], "--smooth-sigma"),
        (["--smooth-sigma", "nan"], "--smooth-sigma"),
        (["--integrated-steps", "0"], "--integrated-steps"),
        (["--integrated-steps", "-2"], "--integrated-steps"),
        (["--baseline", "grey"], "--baseline"),
        (["--integration", "simpson"], "--integration"),
        (["--perturb", "weights"], "--perturb"),
        (["--seed", "-1"], "--seed"),
    ])
    func badValuesAreRefusedWithOneClearLine(_ options: [String], _ named: String) throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        let r = try CLI.run(["query", "\(CLI.photos)/fruits.jpg", "--examples", dir.path, "--maps", "cdam,scdam,icdam",
                             "--out", out.path] + options)
        #expect(r.status == 2, "\(options): exit \(r.status)")
        let lines = r.stderr.split(separator: "\n")
        // One line says what is wrong, first; then at most the option's help and the usage hint.
        let error = try #require(lines.first, "\(r.stderr)")
        #expect(error.hasPrefix("Error:") && error.contains(named), "\(r.stderr)")
        #expect(!error.contains("Missing value"), "\(r.stderr)")   // a negative number is a value, refused as such
        #expect(lines.count <= 4, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(r.stdout.isEmpty)
    }

    @Test func reportRefusesBadValuesToo() throws {
        let r = try CLI.run(["report", "fruit", "--out", "/tmp/never-written-\(UUID().uuidString)", "--smooth-samples", "0"])
        #expect(r.status == 2 && r.stderr.contains("--smooth-samples 0"), "\(r.stderr)")
    }
}
