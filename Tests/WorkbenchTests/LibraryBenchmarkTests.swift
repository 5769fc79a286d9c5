import Foundation
import Testing
@testable import Workbench

/// The search benchmark at full size, run on demand: `CDAM_BENCH_DB=/tmp/bench.sqlite swift test --filter LibraryBenchmark`.
@Suite struct LibraryBenchmarkTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CDAM_BENCH_DB"] != nil))
    func searchOver100kEmbeddings() throws {
        let url = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CDAM_BENCH_DB"]!)
        let report = try benchmarkSearch(databaseURL: url, count: 100_000, width: 384, top: 10, repeats: 20)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        #expect(report.count == 100_000)
    }
}
