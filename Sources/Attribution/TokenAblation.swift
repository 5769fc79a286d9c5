// TAM, the token ablation map of the CDAM paper: for each patch token i, f(all) - f(without i), the
// token removed after position embeddings and before the first block. Plus the deletion and
// insertion curves, which remove or reveal tokens in the order of a map (Petsiuk et al., RISE, 2018).
//
// Shapes: N tokens (CLS + P patches), D width, K targets.

import Concepts
import TensorMath
import ViT

/// Runs the model on subsets of one image's tokens and scores each subset for every target.
public struct TokenSubsetScorer {
    public let model: VisionTransformer
    /// The image's tokens after position embeddings. (N, D)
    public let tokens: FloatBuffer
    public let count: Int
    public let targets: [Target]
    /// Sequences per forward pass: enough rows to keep the BLAS busy, few enough to keep memory small.
    public var batchSize = 8

    /// Prepares the tokens of one normalized image (C, H, W).
    public init(model: VisionTransformer, pixels: [Float], height: Int, width: Int, targets: [Target]) {
        self.model = model
        self.tokens = pixels.withUnsafeBufferPointer { model.embed(pixels: $0.baseAddress!, batch: 1, height: height, width: width) }
        self.count = tokens.count / model.config.hiddenSize
        self.targets = targets
    }

    /// Scores for each subset (patch indices 0..<P to keep; CLS is always kept). All subsets must have
    /// the same size. Returns subsets x K.
    public func scores(keeping subsets: [[Int]]) -> [[Float]] {
        guard let size = subsets.first?.count else { return [] }
        precondition(subsets.allSatisfy { $0.count == size }, "subsets of one call must have one size")
        let d = model.config.hiddenSize, n = 1 + size
        var out: [[Float]] = []
        out.reserveCapacity(subsets.count)
        var start = 0
        while start < subsets.count {
            let chunk = Array(subsets[start..<min(start + batchSize, subsets.count)])
            let seq = FloatBuffer(uninitialized: chunk.count * n * d)
            for (s, keep) in chunk.enumerated() {
                let dst = seq.ptr + s * n * d
                dst.update(from: tokens.ptr, count: d)
                for (r, patch) in keep.enumerated() {
                    (dst + (1 + r) * d).update(from: tokens.ptr + (1 + patch) * d, count: d)
                }
            }
            let result = model.encode(tokens: seq, batch: chunk.count, count: n, gridHeight: 0, gridWidth: 0)
            for s in 0..<chunk.count {
                let e = result.embedding(s)
                out.append(targets.map { $0.score(e) })
            }
            start += chunk.count
        }
        return out
    }

    /// TAM for every target: f(all) - f(without patch i). Returns K maps of P values
    /// (or of `patches.count` values, for only those patches).
    public func tokenAblationMaps(fullScores: [Float], patches: [Int]? = nil) -> [[Float]] {
        let p = count - 1
        let which = patches ?? Array(0..<p)
        let subsets = which.map { i in (0..<p).filter { $0 != i } }
        let ablated = scores(keeping: subsets)
        return targets.indices.map { k in which.indices.map { i in fullScores[k] - ablated[i][k] } }
    }

    /// Deletion and insertion curves of each map for target `k`: tokens removed (or revealed) in decreasing
    /// order of the map, in `steps` equal steps; each curve has steps + 1 points from 0% to 100%.
    ///
    /// Deleting the top c tokens leaves as many tokens as revealing the top P - c, so every step's
    /// sequences (both curves, every map) have one length and run as one batch.
    public func curves(maps: [[Float]], target k: Int, fullScore: Float, steps: Int = 16) -> [FaithfulnessCurves] {
        let p = count - 1
        let orders = maps.map { map in map.indices.sorted { map[$0] > map[$1] } }
        let counts = (0...steps).map { $0 * p / steps }
        var deletion = [[Float]](repeating: [Float](repeating: fullScore, count: counts.count), count: maps.count)
        var insertion = deletion
        // Group the sequences by length: deletion at step s keeps p - counts[s] tokens, insertion shows counts[s].
        var byLength: [Int: [(map: Int, step: Int, deleting: Bool, keep: [Int])]] = [:]
        for (m, order) in orders.enumerated() {
            for (s, c) in counts.enumerated() {
                if c > 0 { byLength[p - c, default: []].append((m, s, true, Array(order[c...]).sorted())) }
                if c < p { byLength[c, default: []].append((m, s, false, Array(order[..<c]).sorted())) }
            }
        }
        for (_, jobs) in byLength.sorted(by: { $0.key < $1.key }) {
            let results = scores(keeping: jobs.map(\.keep))
            for (job, r) in zip(jobs, results) {
                if job.deleting { deletion[job.map][job.step] = r[k] } else { insertion[job.map][job.step] = r[k] }
            }
        }
        let fractions = counts.map { Float($0) / Float(p) }
        return maps.indices.map { FaithfulnessCurves(fractions: fractions, deletion: deletion[$0], insertion: insertion[$0]) }
    }
}

/// A deletion and an insertion curve and their areas (trapezoid rule over the fraction of tokens).
public struct FaithfulnessCurves: Codable, Sendable {
    public var fractions: [Float]
    public var deletion: [Float]
    public var insertion: [Float]
    public var deletionArea: Float { trapezoid(fractions, deletion) }
    public var insertionArea: Float { trapezoid(fractions, insertion) }
}

func trapezoid(_ x: [Float], _ y: [Float]) -> Float {
    var area: Float = 0
    for i in 1..<x.count { area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2 }
    return area
}
