// The libFuzzer driver for cdam's parsers (see FuzzTargets/Parsers.swift), and a replayer.
//
// Built by `fuzz/run.sh parsers` with `-sanitize=fuzzer,address -D FUZZING` and the release flags cdam ships
// with: libFuzzer then owns `main` and calls `LLVMFuzzerTestOneInput`; the parser comes from CDAM_FUZZ_PARSER.
// In a plain build, `cdam-fuzz PARSER FILE...` runs files through the same entry (to replay a crash).
import Foundation
import FuzzTargets

nonisolated(unsafe) let fuzzParser: ParserFuzz.Parser = {
    let name = ProcessInfo.processInfo.environment["CDAM_FUZZ_PARSER"] ?? "safetensors"
    guard let parser = ParserFuzz.Parser(rawValue: name) else {
        FileHandle.standardError.write(Data("cdam-fuzz: CDAM_FUZZ_PARSER '\(name)' is not one of \(ParserFuzz.Parser.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return parser
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    ParserFuzz.run(fuzzParser, Data(bytes: bytes, count: count))
    return 0
}

/// libFuzzer calls this once before fuzzing: with CDAM_FUZZ_SEEDS set, the parser's seeds are written there.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let dir = ProcessInfo.processInfo.environment["CDAM_FUZZ_SEEDS"] {
        writeSeeds(fuzzParser, to: dir)
    }
    return 0
}

func writeSeeds(_ parser: ParserFuzz.Parser, to dir: String) {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (i, seed) in ParserFuzz.seeds(parser).enumerated() {
        FileManager.default.createFile(atPath: "\(dir)/seed-\(i)", contents: seed)
    }
}

#if FUZZING
// SwiftPM names an executable's entry point `<module>_main` and aliases `main` to it: libFuzzer's own `main` is
// then not linked, so this entry hands the command line to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("cdam_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runFuzzerDriver(&argc, &argv, fuzzOneInput)
}
#else
@main
struct Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.count == 3, args[0] == "seeds", let parser = ParserFuzz.Parser(rawValue: args[1]) {
            writeSeeds(parser, to: args[2])
            return
        }
        guard let first = args.first, let parser = ParserFuzz.Parser(rawValue: first), args.count > 1 else {
            print("usage: cdam-fuzz PARSER FILE...   (PARSER: \(ParserFuzz.Parser.allCases.map(\.rawValue).joined(separator: ", ")))")
            print("       cdam-fuzz seeds PARSER DIR")
            print("Runs each file through the parser, as the fuzzer does; build the fuzzer itself with fuzz/run.sh parsers.")
            exit(args.isEmpty ? 0 : 2)
        }
        for path in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read"); exit(1)
            }
            print("\(path): \(ParserFuzz.run(parser, data) ? "accepted" : "rejected")")
        }
        ParserFuzz.cleanUp()
    }
}
#endif
