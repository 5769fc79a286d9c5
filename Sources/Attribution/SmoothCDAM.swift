// Smooth CDAM and Integrated CDAM (Brocki & Chung, arXiv 2312.02364, later version), after SmoothGrad
// (Smilkov et al. 2017) and Integrated Gradients (Sundararajan et al. 2017): CDAM averaged over noisy
// copies of the input, and CDAM with the gradient integrated along a path from a baseline to the input.
//
// Letters: N tokens, D width, K targets, P patches (N - 1), S copies (samples or path points).
// T is the last block's norm1 output, G = dF/dT (CDAM.md).
//   Smooth CDAM      S_i = 1/S sum_s sum_j T_s,ij G_s,ij       (T_s, G_s of the noisy copy s)
//   Integrated CDAM  S_i = sum_j T_ij gbar_ij,  gbar = sum_k w_k G(path point k)   (T of the input)
// Perturbing `pixels` runs the whole model per copy; perturbing `tokens` perturbs T itself, the residual
// stream entering the last block held fixed (the function CDAM differentiates), and runs only the last block.
// Every copy goes through the batched forward pass; each copy's backward serves all K targets at once.

import Concepts
import Foundation
import TensorMath
import ViT

/// The settings of Smooth and Integrated CDAM.
public struct AveragedMapSettings: Codable, Sendable, Equatable {
    /// Where the integration path starts.
    public enum Baseline: String, Codable, CaseIterable, Sendable {
        /// A black image (0 before normalisation).
        case black
        /// The image blurred by a Gaussian of σ = max(H, W) / 16 pixels (edges replicated).
        case blurred
        /// Every pixel the image's mean colour.
        case mean
    }
    /// The quadrature over M steps, α_k = k / M.
    public enum Integration: String, Codable, CaseIterable, Sendable {
        /// k = 0...M, weights 1/M halved at both ends: M + 1 passes.
        case trapezoid
        /// Right Riemann sum, k = 1...M, weights 1/M: M passes.
        case riemann
    }
    /// What the noise or the path changes.
    public enum Perturbation: String, Codable, CaseIterable, Sendable {
        /// The normalised pixels: every copy runs the whole model.
        case pixels
        /// The tokens T entering the last attention, the residual held fixed: only the last block runs per copy.
        case tokens
    }

    /// N, Smooth CDAM's noisy copies.
    public var samples: Int = 16
    /// The noise's standard deviation as a fraction of the input's range (max - min of the normalised pixels,
    /// or of T with `tokens`).
    public var sigma: Float = 0.05
    /// Seeds the noise (SplitMix64, Box-Muller): the same seed gives the same map.
    public var seed: UInt64 = 0
    /// M, Integrated CDAM's steps.
    public var steps: Int = 16
    public var baseline: Baseline = .black
    public var integration: Integration = .trapezoid
    public var perturb: Perturbation = .pixels
    /// Copies per forward pass (1: one pass each). Changes the speed, not the map.
    public var batchSize: Int = 16
    /// The normalised value of black in each channel (ImageNet's mean and std, as Imaging normalises).
    public var blackPixel: [Float] = zip([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).map { Float(-$0 / $1) }

    private enum CodingKeys: String, CodingKey { case samples, sigma, seed, steps, baseline, integration, perturb }

    public init() {}

    /// The quadrature points (α, weight) of the path.
    public var pathPoints: [(alpha: Float, weight: Float)] {
        let m = Float(steps)
        switch integration {
        case .riemann: return (1...steps).map { (Float($0) / m, 1 / m) }
        case .trapezoid: return (0...steps).map { (Float($0) / m, ($0 == 0 || $0 == steps ? 0.5 : 1) / m) }
        }
    }
}

/// Maps averaged over many passes, and what they cost.
public struct AveragedCDAMResult {
    /// K maps of P values, row-major over the patch grid.
    public var maps: [[Float]]
    /// Passes through the whole model (the input's own included where it was run here).
    public var fullPasses: Int
    /// Passes through the last block only (`--perturb tokens`).
    public var lastBlockPasses: Int
}

/// Smooth CDAM: the mean of the CDAM maps of `settings.samples` noisy copies of one image.
///
/// - Parameters:
///   - pixels: one normalised image (C, H, W).
///   - noise: standard normal draws, samples x (C*H*W) for `pixels` or samples x (N*D) for `tokens`; nil draws
///     them from `settings.seed`. They are scaled by sigma times the input's range.
///   - forward: a forward pass of this image that kept the last block (saves one pass with `tokens`).
/// - Throws: `ModelError.badInput` when the size does not fit the model.
public func smoothCDAM(_ model: VisionTransformer, pixels: [Float], height: Int, width: Int, targets: [Target],
                       settings: AveragedMapSettings = .init(), noise: [Float]? = nil,
                       forward: ForwardResult? = nil) throws -> AveragedCDAMResult {
    let copies = settings.samples, kk = targets.count, p = (height / model.config.patchSize) * (width / model.config.patchSize)
    precondition(copies > 0 && settings.batchSize > 0)
    var sums = [[Float]](repeating: [Float](repeating: 0, count: p), count: kk)
    if let noise {
        let needed = copies * (settings.perturb == .pixels ? pixels.count : (1 + p) * model.config.hiddenSize)
        precondition(noise.count >= needed, "noise holds \(noise.count) values, \(needed) needed")
    }
    // Copies first..<first+b of `center` (count values) plus scale times their noise, into out: copy s draws from
    // a stream of its own, so the map does not depend on the batch size and the copies fill on every core.
    func noisyCopies(_ center: UnsafePointer<Float>, count: Int, scale: Float, first: Int, _ b: Int,
                     into out: UnsafeMutablePointer<Float>) {
        DispatchQueue.concurrentPerform(iterations: b) { i in
            let o = out + i * count
            if let noise {
                noise.withUnsafeBufferPointer { o.update(from: $0.baseAddress! + (first + i) * count, count: count) }
            } else {
                var rng = GaussianNoise(seed: settings.seed, stream: UInt64(first + i))
                rng.fill(o, count: count)
            }
            for j in 0..<count { o[j] = center[j] + scale * o[j] }
        }
    }
    func accumulate(_ result: ForwardResult, images: Int) {
        let perImage = parallelMaps(images) { cdam(model, result, image: $0, targets: targets).maps }
        for maps in perImage { for k in 0..<kk { for j in 0..<p { sums[k][j] += maps[k][j] } } }
    }
    var full = 0, lastOnly = 0
    switch settings.perturb {
    case .pixels:
        let count = pixels.count
        let scale = settings.sigma * valueRange(pixels)
        var s = 0
        while s < copies {
            let b = min(settings.batchSize, copies - s)
            var batch = [Float](repeating: 0, count: b * count)
            batch.withUnsafeMutableBufferPointer { out in
                pixels.withUnsafeBufferPointer { x in
                    noisyCopies(x.baseAddress!, count: count, scale: scale, first: s, b, into: out.baseAddress!)
                }
            }
            accumulate(try model.forward(pixels: batch, batch: b, height: height, width: width,
                                         options: ForwardOptions(keep: .lastBlock)), images: b)
            full += b
            s += b
        }
    case .tokens:
        let base = try forward ?? model.forward(pixels: pixels, batch: 1, height: height, width: width,
                                                options: ForwardOptions(keep: .lastBlock))
        if forward == nil { full += 1 }
        let (x, t) = lastBlockTokens(base)
        let count = t.count
        let scale = settings.sigma * valueRange(t.array)
        var s = 0
        while s < copies {
            let b = min(settings.batchSize, copies - s)
            let batch = FloatBuffer(uninitialized: b * count)
            noisyCopies(t.ptr, count: count, scale: scale, first: s, b, into: batch.ptr)
            accumulate(model.lastBlockForward(input: x, norm1Out: batch, batch: b, gridHeight: base.gridHeight,
                                              gridWidth: base.gridWidth), images: b)
            lastOnly += b
            s += b
        }
    }
    let maps = sums.map { $0.map { $0 / Float(copies) } }
    return AveragedCDAMResult(maps: maps, fullPasses: full, lastBlockPasses: lastOnly)
}

/// Integrated CDAM: the gradient dF/dT integrated along the straight path from a baseline to the image
/// (`settings.integration` over `settings.steps`), times the image's tokens T, summed per token.
///
/// With `tokens` the path runs from the baseline image's T to the image's T, the residual stream of the image
/// held fixed. The point α = 1 is the image itself (exactly), so T comes from that pass.
/// - Parameter forward: a forward pass of this image that kept the last block (saves one pass with `tokens`).
/// - Throws: `ModelError.badInput` when the size does not fit the model.
public func integratedCDAM(_ model: VisionTransformer, pixels: [Float], height: Int, width: Int, targets: [Target],
                           settings: AveragedMapSettings = .init(), forward: ForwardResult? = nil) throws -> AveragedCDAMResult {
    precondition(settings.steps > 0 && settings.batchSize > 0)
    let d = model.config.hiddenSize, kk = targets.count
    let points = settings.pathPoints
    let start = baselineImage(settings.baseline, pixels: pixels, height: height, width: width, black: settings.blackPixel)
    var gbar: FloatBuffer? = nil            // (K, N, D)
    var tokensOfInput: FloatBuffer? = nil   // (N, D)
    var full = 0, lastOnly = 0
    func accumulate(_ result: ForwardResult, points chunk: ArraySlice<(alpha: Float, weight: Float)>) {
        let grads = parallelMaps(chunk.count) { cdam(model, result, image: $0, targets: targets, keepGradients: true).gradients! }
        for (i, point) in chunk.enumerated() {
            let g = grads[i]
            let n = result.tokens
            if gbar == nil { gbar = FloatBuffer(count: kk * n * d) }
            let acc = gbar!.ptr, w = point.weight
            for j in 0..<(kk * n * d) { acc[j] += w * g.ptr[j] }
            if point.alpha == 1 {
                let t = FloatBuffer(uninitialized: n * d)
                t.ptr.update(from: result.caches.last!!.norm1Out.ptr + i * n * d, count: n * d)
                tokensOfInput = t
            }
        }
    }
    var gridHeight = 0, gridWidth = 0
    switch settings.perturb {
    case .pixels:
        let count = pixels.count
        var s = 0
        while s < points.count {
            let chunk = points[s..<min(s + settings.batchSize, points.count)]
            var batch = [Float](repeating: 0, count: chunk.count * count)
            for (i, point) in chunk.enumerated() {
                for j in 0..<count {
                    batch[i * count + j] = point.alpha == 1 ? pixels[j] : start[j] + point.alpha * (pixels[j] - start[j])
                }
            }
            let result = try model.forward(pixels: batch, batch: chunk.count, height: height, width: width,
                                           options: ForwardOptions(keep: .lastBlock))
            gridHeight = result.gridHeight; gridWidth = result.gridWidth
            accumulate(result, points: chunk)
            full += chunk.count
            s += chunk.count
        }
    case .tokens:
        let base = try forward ?? model.forward(pixels: pixels, batch: 1, height: height, width: width,
                                                options: ForwardOptions(keep: .lastBlock))
        let baselinePass = try model.forward(pixels: start, batch: 1, height: height, width: width,
                                             options: ForwardOptions(keep: .lastBlock))
        full += forward == nil ? 2 : 1
        gridHeight = base.gridHeight; gridWidth = base.gridWidth
        let (x, t) = lastBlockTokens(base)
        let (_, t0) = lastBlockTokens(baselinePass)
        let count = t.count
        var s = 0
        while s < points.count {
            let chunk = points[s..<min(s + settings.batchSize, points.count)]
            let batch = FloatBuffer(uninitialized: chunk.count * count)
            for (i, point) in chunk.enumerated() {
                for j in 0..<count {
                    batch.ptr[i * count + j] = point.alpha == 1 ? t.ptr[j] : t0.ptr[j] + point.alpha * (t.ptr[j] - t0.ptr[j])
                }
            }
            accumulate(model.lastBlockForward(input: x, norm1Out: batch, batch: chunk.count, gridHeight: base.gridHeight,
                                              gridWidth: base.gridWidth), points: chunk)
            lastOnly += chunk.count
            s += chunk.count
        }
    }
    let n = 1 + gridHeight * gridWidth
    let t = tokensOfInput!.ptr, g = gbar!.ptr
    let maps = (0..<kk).map { k in (1..<n).map { i in simdDot(t + i * d, g + (k * n + i) * d, d) } }
    return AveragedCDAMResult(maps: maps, fullPasses: full, lastBlockPasses: lastOnly)
}

/// The baseline image of Integrated CDAM for one normalised image (C, H, W).
public func baselineImage(_ kind: AveragedMapSettings.Baseline, pixels: [Float], height: Int, width: Int,
                          black: [Float]) -> [Float] {
    let plane = height * width, channels = pixels.count / plane
    var out = [Float](repeating: 0, count: pixels.count)
    switch kind {
    case .black:
        for c in 0..<channels { for i in 0..<plane { out[c * plane + i] = black[c] } }
    case .mean:
        for c in 0..<channels {
            let mean = pixels[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Float(plane)
            for i in 0..<plane { out[c * plane + i] = mean }
        }
    case .blurred:
        let sigma = Double(max(height, width)) / 16
        for c in 0..<channels {
            let channel = Array(pixels[(c * plane)..<((c + 1) * plane)])
            let blurred = gaussianBlur(channel, height: height, width: width, sigma: sigma)
            for i in 0..<plane { out[c * plane + i] = blurred[i] }
        }
    }
    return out
}

/// A separable Gaussian blur of one plane (H, W), radius ceil(3σ), edges replicated.
func gaussianBlur(_ plane: [Float], height: Int, width: Int, sigma: Double) -> [Float] {
    let radius = Int((3 * sigma).rounded(.up))
    let raw = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
    let total = raw.reduce(0, +)
    let kernel = raw.map { Float($0 / total) }
    var rows = [Float](repeating: 0, count: plane.count)
    for y in 0..<height {
        for x in 0..<width {
            var s: Float = 0
            for (o, w) in kernel.enumerated() { s += w * plane[y * width + min(max(x + o - radius, 0), width - 1)] }
            rows[y * width + x] = s
        }
    }
    var out = [Float](repeating: 0, count: plane.count)
    for y in 0..<height {
        for x in 0..<width {
            var s: Float = 0
            for (o, w) in kernel.enumerated() { s += w * rows[min(max(y + o - radius, 0), height - 1) * width + x] }
            out[y * width + x] = s
        }
    }
    return out
}

/// The residual stream entering the last block and T = its norm1, of image 0 of a forward pass. (N, D) each
func lastBlockTokens(_ result: ForwardResult) -> (input: FloatBuffer, norm1: FloatBuffer) {
    guard let cache = result.caches.last ?? nil else {
        preconditionFailure("the forward pass must keep the last block: run it with keep: .lastBlock")
    }
    let count = result.tokens * (cache.norm1Out.count / (cache.batch * cache.tokens))
    let x = FloatBuffer(uninitialized: count), t = FloatBuffer(uninitialized: count)
    x.ptr.update(from: cache.input.ptr, count: count)
    t.ptr.update(from: cache.norm1Out.ptr, count: count)
    return (x, t)
}

func valueRange(_ values: [Float]) -> Float {
    guard let lo = values.min(), let hi = values.max() else { return 0 }
    return hi - lo
}

/// `body(i)` for i in 0..<count, spread over the cores, in order.
func parallelMaps<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
    var out = [T?](repeating: nil, count: count)
    let lock = NSLock()
    DispatchQueue.concurrentPerform(iterations: count) { i in
        let value = body(i)
        lock.lock(); out[i] = value; lock.unlock()
    }
    return out.map { $0! }
}

/// Standard normal draws: SplitMix64 uniforms (24 bits) through Box-Muller in Float, both outputs used.
/// One stream per (seed, copy). Reproducible everywhere.
struct GaussianNoise {
    private var state: UInt64

    init(seed: UInt64, stream: UInt64 = 0) {
        state = (seed &* 0xD1B5_4A32_D192_ED03) ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B
    }

    private mutating func uniform() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (Float((z ^ (z >> 31)) >> 40) + 0.5) * (1 / 16_777_216)
    }

    mutating func fill(_ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            let r = (-2 * log(uniform())).squareRoot(), a = 2 * Float.pi * uniform()
            out[i] = r * cos(a)
            if i + 1 < count { out[i + 1] = r * sin(a) }
            i += 2
        }
    }
}
