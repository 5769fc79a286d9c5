// Seeded synthetic embeddings for the Concepts tests: Gaussian clusters in D dimensions.

@testable import Concepts

/// Standard normal draws (Box-Muller) from a seeded SplitMix64, so every test sees the same data.
struct Gaussian {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// `count` rows of `centre` + sigma * N(0, I).
    mutating func cluster(_ count: Int, centre: [Double], sigma: Double = 1) -> [[Float]] {
        (0..<count).map { _ in centre.map { Float($0 + sigma * normal()) } }
    }

    /// A vector of `width` standard normals.
    mutating func vector(_ width: Int, scale: Double = 1) -> [Double] {
        (0..<width).map { _ in scale * normal() }
    }
}

import Foundation

func mean(_ rows: [[Float]]) -> [Double] {
    var s = [Double](repeating: 0, count: rows[0].count)
    for r in rows { for j in 0..<r.count { s[j] += Double(r[j]) } }
    return s.map { $0 / Double(rows.count) }
}

func cosine(_ a: [Double], _ b: [Double]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for j in 0..<a.count { ab += a[j] * b[j]; aa += a[j] * a[j]; bb += b[j] * b[j] }
    return ab / (aa * bb).squareRoot()
}

func doubles(_ v: [Float]) -> [Double] { v.map(Double.init) }

/// Wall-clock seconds taken by `body`, with its result.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// Wall-clock and process CPU seconds (all threads) taken by `body`: on a shared machine the
/// CPU time is the steadier figure.
func timedCPU<T>(_ body: () throws -> T) rethrows -> (T, wall: Double, cpu: Double) {
    let c0 = clock()
    let (r, wall) = try timed(body)
    return (r, wall, Double(clock() - c0) / Double(CLOCKS_PER_SEC))
}

/// The AUC of a target's scores of fresh positives against fresh negatives.
func heldOutAUC(_ t: Target, positives: [[Float]], negatives: [[Float]]) -> Double {
    ConceptBuilder.auc(positives: positives.map(t.score), negatives: negatives.map(t.score)) ?? .nan
}
