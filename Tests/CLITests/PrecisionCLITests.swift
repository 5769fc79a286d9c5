import Foundation
import Testing

/// `--precision` and CDAM_PRECISION end to end: bad values are usage errors naming the option or variable;
/// bf16 embeds like fp32 where the CPU has AVX512-BF16 and is refused, with what to do, where it has not
/// (CDAM_LINEAR=blas stands in for such a CPU); auto and fp32 always run.
@Suite(.enabled(if: CLI.modelInstalled && FileManager.default.fileExists(atPath: CLI.photos + "/apple.jpg")))
struct PrecisionCLITests {
    static func embedding(_ r: CLI.Run) -> [Double] {
        let results = r.json?["results"] as? [[String: Any]]
        return (results?.first?["embedding"] as? [NSNumber])?.map(\.doubleValue) ?? []
    }

    @Test func badValuesAreUsageErrors() throws {
        let flag = try CLI.run(["embed", "\(CLI.photos)/apple.jpg", "--precision", "fp8"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("--precision fp8: expected fp32, bf16 or auto"), "\(flag.stderr)")
        let env = try CLI.run(["embed", "\(CLI.photos)/apple.jpg"], environment: ["CDAM_PRECISION": "half"])
        #expect(env.status == 2)
        #expect(env.stderr.contains("CDAM_PRECISION=half"), "\(env.stderr)")
        #expect(flag.stdout.isEmpty && env.stdout.isEmpty)
    }

    @Test func bf16EmbedsLikeFP32OrIsRefused() throws {
        let photo = "\(CLI.photos)/apple.jpg"
        let fp32 = try CLI.run(["embed", photo, "--json", "--precision", "fp32"])
        let auto = try CLI.run(["embed", photo, "--json"], environment: ["CDAM_PRECISION": "auto"])
        #expect(fp32.status == 0 && auto.status == 0, "\(fp32.stderr)\(auto.stderr)")
        let a = Self.embedding(fp32)
        #expect(a.count == 384)

        // Without the instruction (forced): one line saying what to use instead, nothing on stdout.
        let refused = try CLI.run(["embed", photo, "--json", "--precision", "bf16"], environment: ["CDAM_LINEAR": "blas"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("AVX512-BF16") && refused.stderr.contains("--precision fp32 or auto"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)

        let bf16 = try CLI.run(["embed", photo, "--json"], environment: ["CDAM_PRECISION": "bf16"])
        if bf16.status == 2 {
            #expect(bf16.stderr.contains("AVX512-BF16"), "\(bf16.stderr)")
            print("this CPU lacks AVX512-BF16: the bf16 embedding is not compared here")
            return
        }
        #expect(bf16.status == 0, "\(bf16.stderr)")
        let b = Self.embedding(bf16)
        #expect(b.count == a.count)
        let dot = zip(a, b).map(*).reduce(0, +)
        let cosine = dot / (a.map { $0 * $0 }.reduce(0, +) * b.map { $0 * $0 }.reduce(0, +)).squareRoot()
        #expect(cosine >= 0.999, "cosine \(cosine) between the fp32 and bf16 embeddings")
        #expect(a != b, "bf16 gave fp32's numbers exactly: did it run?")
    }
}
