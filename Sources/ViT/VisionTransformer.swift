// A Vision Transformer backbone (Dosovitskiy et al. 2021; DINOv2, Oquab et al. 2023): the forward
// pass in batches, keeping what the attribution maps need.
//
// Shapes: B images, N = 1 + gh*gw tokens, D width, H heads.

import Foundation
import TensorMath

/// What a forward pass should keep besides the CLS embeddings.
public struct ForwardOptions: Sendable {
    /// Which blocks keep their `BlockCache` (activations for a backward pass, attention probabilities).
    public enum Keep: Sendable { case none, lastBlock, allBlocks }

    /// Keep all final tokens (the final LayerNorm of every token); otherwise the last block runs for CLS only.
    public var allTokens = false
    public var keep: Keep = .none
    /// Keep the attention probabilities of every block, even without full caches.
    public var attentions = false
    /// The linear layers' precision; nil for the model's `precision`.
    public var precision: Precision? = nil

    public init(allTokens: Bool = false, keep: Keep = .none, attentions: Bool = false, precision: Precision? = nil) {
        self.allTokens = allTokens
        self.keep = keep
        self.attentions = attentions
        self.precision = precision
    }
}

/// The result of a forward pass over B images.
public final class ForwardResult {
    public let batch: Int
    /// N = 1 + gridHeight * gridWidth.
    public let tokens: Int
    public let gridHeight: Int, gridWidth: Int
    /// The CLS embeddings, the final LayerNorm of token 0. (B, D)
    public let cls: FloatBuffer
    /// The final LayerNorm of every token, when asked for. (B*N, D)
    public let finalTokens: FloatBuffer?
    /// One entry per block; nil where the block's cache was not kept.
    public let caches: [BlockCache?]
    /// Attention probabilities per block (B, H, nq, N), when kept.
    public let attentions: [FloatBuffer?]
    /// The final LayerNorm's input for the CLS rows and its statistics, for the backward pass. (B, D), (B), (B)
    public let finalInput: FloatBuffer, finalMean: FloatBuffer, finalRstd: FloatBuffer

    init(batch: Int, tokens: Int, gridHeight: Int, gridWidth: Int, cls: FloatBuffer, finalTokens: FloatBuffer?,
         caches: [BlockCache?], attentions: [FloatBuffer?], finalInput: FloatBuffer, finalMean: FloatBuffer,
         finalRstd: FloatBuffer) {
        self.batch = batch; self.tokens = tokens; self.gridHeight = gridHeight; self.gridWidth = gridWidth
        self.cls = cls; self.finalTokens = finalTokens; self.caches = caches; self.attentions = attentions
        self.finalInput = finalInput; self.finalMean = finalMean; self.finalRstd = finalRstd
    }

    /// The CLS embedding of image `i`.
    public func embedding(_ i: Int) -> [Float] {
        let d = cls.count / batch
        return cls.slice(i * d, d)
    }

    /// The output of the last block's norm1 (B*N, D), when the last block's cache was kept.
    public var lastNorm1: FloatBuffer? { caches.last??.norm1Out }
}

/// A loaded ViT backbone.
public final class VisionTransformer {
    public let config: ViTConfiguration
    public let weights: ViTWeights
    private var positionCache: [Int: FloatBuffer] = [:]
    private let positionLock = NSLock()
    fileprivate var truncations: [Int: VisionTransformer] = [:]
    fileprivate let truncationLock = NSLock()
    /// The precision of the linear layers (qkv, proj, fc1, fc2) in passes that do not name one: fp32 unless
    /// set (the workbench sets it from `--precision`). The patch embedding and the attention products stay
    /// fp32, and so does every backward pass (it reads the fp32 weights).
    public var precision: Precision = .fp32

    public init(config: ViTConfiguration, weights: ViTWeights) {
        self.config = config
        self.weights = weights
    }

    /// Loads `config.json` and `model.safetensors` from a HuggingFace-layout model directory.
    /// - Throws: `ModelError` naming the file or tensor at fault.
    public convenience init(directory: URL) throws {
        let config = try ViTConfiguration.load(directory.appendingPathComponent("config.json"))
        let file = try SafetensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        self.init(config: config, weights: try WeightLoader.load(file, config: config))
    }

    /// Position embeddings for a gh x gw grid (1 + gh*gw, D), computed once per grid.
    public func positionEmbeddings(gridHeight gh: Int, gridWidth gw: Int) -> FloatBuffer {
        positionLock.lock(); defer { positionLock.unlock() }
        let key = gh * 100_000 + gw
        if let cached = positionCache[key] { return cached }
        let pos = interpolatePositions(weights.positions, grid: weights.positionGrid, width: config.hiddenSize, to: gh, gw)
        positionCache[key] = pos
        return pos
    }

    /// Checks that an input size fits the model: positive multiples of the patch size.
    /// - Throws: `ModelError.badInput` saying which sizes would work.
    public func validate(height: Int, width: Int) throws {
        let p = config.patchSize
        guard height >= p, width >= p, height % p == 0, width % p == 0 else {
            let near = { (s: Int) in max(p, (s + p / 2) / p * p) }
            throw ModelError.badInput("size \(height)x\(width) is not a multiple of the patch size \(p); try \(near(height))x\(near(width))")
        }
    }

    /// Runs the model on B normalized images (B, C, H, W).
    /// - Throws: `ModelError.badInput` when the size does not fit the patch size or the pixel count is wrong.
    public func forward(pixels: [Float], batch: Int, height: Int, width: Int,
                        options: ForwardOptions = .init()) throws -> ForwardResult {
        try validate(height: height, width: width)
        guard pixels.count == batch * config.channels * height * width else {
            throw ModelError.badInput("expected \(batch * config.channels * height * width) pixel values, got \(pixels.count)")
        }
        let tokens = pixels.withUnsafeBufferPointer { embed(pixels: $0.baseAddress!, batch: batch, height: height, width: width) }
        let p = config.patchSize
        return encode(tokens: tokens, batch: batch, count: 1 + (height / p) * (width / p),
                      gridHeight: height / p, gridWidth: width / p, options: options)
    }

    /// Runs the blocks and the final LayerNorm on token sequences that already carry position embeddings.
    ///
    /// `tokens` is (B*N, D) with CLS in row 0 of each sequence. Sequences may omit patches (token ablation):
    /// the grid is then only a label for the maps.
    public func encode(tokens: FloatBuffer, batch b: Int, count n: Int, gridHeight: Int, gridWidth: Int,
                       options: ForwardOptions = .init()) -> ForwardResult {
        let d = config.hiddenSize, layers = config.layers
        let precision = options.precision ?? self.precision
        var x = tokens
        var caches = [BlockCache?](repeating: nil, count: layers)
        var attentions = [FloatBuffer?](repeating: nil, count: layers)
        var last: BlockCache! = nil
        for l in 0..<layers {
            let isLast = l == layers - 1
            let kept = options.keep == .allBlocks || (options.keep == .lastBlock && isLast)
            let cache = blockForward(l, x: x, batch: b, tokens: n, clsOnly: isLast && !options.allTokens,
                                     record: kept ? .all : options.attentions ? .attention : .output, precision: precision)
            switch options.keep {
            case .allBlocks: caches[l] = cache
            case .lastBlock where isLast: caches[l] = cache
            default: break
            }
            if options.attentions { attentions[l] = cache.probs }
            x = cache.output
            last = cache
        }
        // The final LayerNorm: CLS rows always, every token on request.
        let (clsInput, cls, mean, rstd) = finalNorm(clsRowsOf: x, batch: b, queries: last.queries)
        var finalTokens: FloatBuffer? = nil
        if options.allTokens {
            let out = FloatBuffer(uninitialized: b * n * d)
            parallelRanges(b * n, chunks: Self.parts(b * n)) { r in
                layerNormForward(x.ptr + r.lowerBound * d, rows: r.count, width: d, weight: weights.normWeight.ptr,
                                 bias: weights.normBias.ptr, eps: config.layerNormEps, out: out.ptr + r.lowerBound * d)
            }
            finalTokens = out
        }
        return ForwardResult(batch: b, tokens: n, gridHeight: gridHeight, gridWidth: gridWidth, cls: cls,
                             finalTokens: finalTokens, caches: caches, attentions: attentions,
                             finalInput: clsInput, finalMean: mean, finalRstd: rstd)
    }

    /// The final LayerNorm of the CLS rows of x (B*nq, D): its input, output and statistics. (B, D), (B, D), (B), (B)
    func finalNorm(clsRowsOf x: FloatBuffer, batch b: Int, queries nq: Int)
        -> (input: FloatBuffer, cls: FloatBuffer, mean: FloatBuffer, rstd: FloatBuffer) {
        let d = config.hiddenSize
        let clsInput = FloatBuffer(uninitialized: b * d)
        for i in 0..<b { (clsInput.ptr + i * d).update(from: x.ptr + i * nq * d, count: d) }
        let cls = FloatBuffer(uninitialized: b * d), mean = FloatBuffer(uninitialized: b), rstd = FloatBuffer(uninitialized: b)
        layerNormForward(clsInput.ptr, rows: b, width: d, weight: weights.normWeight.ptr, bias: weights.normBias.ptr,
                         eps: config.layerNormEps, out: cls.ptr, mean: mean.ptr, rstd: rstd.ptr)
        return (clsInput, cls, mean, rstd)
    }
}

// MARK: - The network truncated after an earlier block

extension VisionTransformer {
    /// The network truncated after block `blocks` (1-based): its first `blocks` blocks, then the final
    /// LayerNorm. Its CLS embedding is "the CLS of block L" and every map computed on it (CDAM at the
    /// tokens entering block L's attention, AM, rollout, RP, TAM) is the paper's construction applied to
    /// the truncated network. The weights are shared, not copied; `blocks` equal to the depth returns `self`.
    /// - Throws: `ModelError.badInput` when `blocks` is outside 1...layers.
    public func truncated(after blocks: Int) throws -> VisionTransformer {
        guard (1...config.layers).contains(blocks) else {
            throw ModelError.badInput("block \(blocks) does not exist: the model has blocks 1...\(config.layers)")
        }
        if blocks == config.layers { return self }
        truncationLock.lock(); defer { truncationLock.unlock() }
        if let cached = truncations[blocks] { cached.precision = precision; return cached }
        var c = config, w = weights
        c.layers = blocks
        w.blocks = Array(weights.blocks.prefix(blocks))
        let model = VisionTransformer(config: c, weights: w)
        model.precision = precision
        truncations[blocks] = model
        return model
    }
}
