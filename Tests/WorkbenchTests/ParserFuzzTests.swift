import Foundation
import FuzzTargets
import Testing

/// A few thousand mutations of each parser's seeds through the fuzz entries (`FuzzTargets`), in-suite: every
/// input must end in a value or an error (a trap ends the test run). The long runs are `fuzz/run.sh parsers`.
struct ParserFuzzTests {
    /// Byte- and token-level mutations, deterministic (a linear congruential generator seeded per parser).
    struct Mutator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
        static let tokens = ["1e39", "-1", "0", "NaN", "3e38", "-3.4e38", "1e-45", "9223372036854775807", "18446744073709551616",
                             "[]", "{}", "null", "\"\"", "\"\\u0000\"", "true", "[1,2]", "-0", "1.5", "${NOPE}", "#", ":", "\n"]

        mutating func mutate(_ seed: Data, pool: [Data]) -> Data {
            var bytes = [UInt8](seed)
            for _ in 0...next(4) {
                switch next(7) {
                case 0 where !bytes.isEmpty: bytes[next(bytes.count)] ^= UInt8(1 << next(8))
                case 1 where !bytes.isEmpty: bytes[next(bytes.count)] = [0, 0xff, 0x7f, 0x80, 0x22, 0x5c][next(6)]
                case 2 where !bytes.isEmpty:  // delete a run
                    let start = next(bytes.count), end = min(bytes.count, start + 1 + next(16))
                    bytes.removeSubrange(start..<end)
                case 3:  // insert a token
                    bytes.insert(contentsOf: Array(Mutator.tokens[next(Mutator.tokens.count)].utf8), at: next(bytes.count + 1))
                case 4 where !bytes.isEmpty:  // replace a number with a token
                    let digits = bytes.indices.filter { (0x30...0x39).contains(bytes[$0]) }
                    guard let at = digits.isEmpty ? nil : digits[next(digits.count)] else { break }
                    var end = at
                    while end < bytes.count, (0x30...0x39).contains(bytes[end]) || bytes[end] == 0x2e || bytes[end] == 0x65 { end += 1 }
                    bytes.replaceSubrange(at..<end, with: Array(Mutator.tokens[next(Mutator.tokens.count)].utf8))
                case 5:  // splice with another seed
                    let other = [UInt8](pool[next(pool.count)])
                    let cut = next(bytes.count + 1), from = next(other.count + 1)
                    bytes = Array(bytes[..<cut]) + Array(other[from...])
                case 6 where bytes.count > 8:  // duplicate a run
                    let start = next(bytes.count - 4), end = min(bytes.count, start + 1 + next(64))
                    bytes.insert(contentsOf: bytes[start..<end], at: next(bytes.count))
                default: break
                }
            }
            return Data(bytes)
        }
    }

    @Test(arguments: ParserFuzz.Parser.allCases)
    func mutatedInputsEndInAValueOrAnError(_ parser: ParserFuzz.Parser) {
        defer { ParserFuzz.cleanUp() }
        let seeds = ParserFuzz.seeds(parser)
        for seed in seeds { #expect(ParserFuzz.run(parser, seed), "a seed of \(parser.rawValue) is rejected") }
        var mutator = Mutator(state: UInt64(parser.rawValue.utf8.reduce(7) { $0 &* 31 &+ Int($1) }.magnitude))
        let count = parser == .safetensors ? 1_500 : 3_000
        var accepted = 0
        for i in 0..<count {
            if ParserFuzz.run(parser, mutator.mutate(seeds[i % seeds.count], pool: seeds)) { accepted += 1 }
        }
        // Some mutations keep the input valid (a flipped digit in a weight): the parser's happy path is exercised too.
        #expect(accepted < count, "every mutation of \(parser.rawValue) accepted: the mutator does nothing")
    }
}
