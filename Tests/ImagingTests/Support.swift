import Foundation
@testable import Imaging

/// The committed fixtures directory inside the test bundle.
let fixtures: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

/// Rows of a tab-separated fixture manifest.
func tsv(_ relative: String) -> [[String]] {
    let text = (try? String(contentsOf: fixtures.appendingPathComponent(relative), encoding: .utf8)) ?? ""
    return text.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
}

func bytes(_ relative: String) -> [UInt8] {
    [UInt8]((try? Data(contentsOf: fixtures.appendingPathComponent(relative))) ?? Data())
}

func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
    zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
}
