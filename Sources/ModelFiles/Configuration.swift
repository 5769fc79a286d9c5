import Foundation

/// The architecture of a checkpoint, decoded from its HuggingFace `config.json`.
///
/// Two families share one forward pass: DINOv2 (`Dinov2Model`: LayerScale, MLP width from
/// `mlp_ratio`) and plain ViT / DINO v1 (`ViTModel`: no LayerScale, `intermediate_size`).
public struct ViTConfiguration: Codable, Equatable, Sendable {
    public enum Family: String, Codable, Sendable {
        case dinov2
        case vit
    }

    public var family: Family
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var mlpSize: Int
    public var patchSize: Int
    /// The training image size: position embeddings are stored for (imageSize / patchSize)^2 patches.
    public var imageSize: Int
    public var channels: Int
    public var layerNormEps: Float
    public var qkvBias: Bool

    /// Width of one attention head.
    public var headSize: Int { hiddenSize / heads }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case layers = "num_hidden_layers"
        case heads = "num_attention_heads"
        case mlpRatio = "mlp_ratio"
        case intermediateSize = "intermediate_size"
        case patchSize = "patch_size"
        case imageSize = "image_size"
        case channels = "num_channels"
        case layerNormEps = "layer_norm_eps"
        case qkvBias = "qkv_bias"
        case hiddenAct = "hidden_act"
        case useSwiglu = "use_swiglu_ffn"
    }

    public init(family: Family, hiddenSize: Int, layers: Int, heads: Int, mlpSize: Int, patchSize: Int,
                imageSize: Int, channels: Int = 3, layerNormEps: Float = 1e-6, qkvBias: Bool = true) {
        self.family = family
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.mlpSize = mlpSize
        self.patchSize = patchSize
        self.imageSize = imageSize
        self.channels = channels
        self.layerNormEps = layerNormEps
        self.qkvBias = qkvBias
    }

    /// Decodes `config.json`; a missing required key is an error naming the key.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .modelType)
        switch type {
        case "dinov2": family = .dinov2
        case "vit", "dino": family = .vit
        default:
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c,
                debugDescription: "model_type '\(type)' is not supported (expected 'dinov2' or 'vit')")
        }
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? 3
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? (family == .dinov2 ? 1e-6 : 1e-12)
        qkvBias = try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? true
        if family == .dinov2 {
            let ratio = try c.decode(Double.self, forKey: .mlpRatio)
            guard ratio.isFinite, ratio > 0, ratio <= 64 else {
                throw DecodingError.dataCorruptedError(forKey: .mlpRatio, in: c,
                    debugDescription: "mlp_ratio \(ratio) is outside (0, 64]")
            }
            guard (1...ViTConfiguration.maxHidden).contains(hiddenSize) else {
                throw DecodingError.dataCorruptedError(forKey: .hiddenSize, in: c,
                    debugDescription: "hidden_size \(hiddenSize) is outside 1...\(ViTConfiguration.maxHidden)")
            }
            mlpSize = Int((Double(hiddenSize) * ratio).rounded())
            if try c.decodeIfPresent(Bool.self, forKey: .useSwiglu) == true {
                throw DecodingError.dataCorruptedError(forKey: .useSwiglu, in: c,
                    debugDescription: "use_swiglu_ffn is not supported (only the ViT-S/B/L MLP)")
            }
        } else {
            mlpSize = try c.decode(Int.self, forKey: .intermediateSize)
        }
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != "gelu" {
            throw DecodingError.dataCorruptedError(forKey: .hiddenAct, in: c,
                debugDescription: "hidden_act '\(act)' is not supported (expected 'gelu')")
        }
        if let problem = problem {
            throw DecodingError.dataCorruptedError(forKey: .heads, in: c, debugDescription: problem)
        }
    }

    /// Bounds of a sane checkpoint (ViT-g has width 1536, 40 layers, 24 heads).
    public static let maxHidden = 16_384
    public static let maxLayers = 256
    public static let maxMLP = 131_072
    public static let maxImageSize = 8_192

    /// What makes this architecture unusable, or nil: zero or negative sizes (a division by zero in the
    /// forward pass), a width not divisible by the heads, a LayerNorm eps that is not a small positive number
    /// (NaN embeddings), sizes that would not fit in memory.
    public var problem: String? {
        if !(1...ViTConfiguration.maxHidden).contains(hiddenSize) { return "hidden_size \(hiddenSize) is outside 1...\(ViTConfiguration.maxHidden)" }
        if !(1...ViTConfiguration.maxLayers).contains(layers) { return "num_hidden_layers \(layers) is outside 1...\(ViTConfiguration.maxLayers)" }
        if heads <= 0 || heads > hiddenSize { return "num_attention_heads \(heads) is outside 1...hidden_size (\(hiddenSize))" }
        if hiddenSize % heads != 0 { return "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)" }
        if !(1...ViTConfiguration.maxMLP).contains(mlpSize) { return "the MLP width \(mlpSize) is outside 1...\(ViTConfiguration.maxMLP)" }
        if !(1...1024).contains(patchSize) { return "patch_size \(patchSize) is outside 1...1024" }
        if imageSize < patchSize || imageSize > ViTConfiguration.maxImageSize || imageSize % patchSize != 0 {
            return "image_size \(imageSize) is not a multiple of patch_size \(patchSize) in \(patchSize)...\(ViTConfiguration.maxImageSize)"
        }
        if channels != 3 { return "num_channels \(channels): only RGB (3) models are supported" }
        if !(layerNormEps.isFinite && layerNormEps > 0 && layerNormEps < 1) { return "layer_norm_eps \(layerNormEps) is not a small positive number" }
        return nil
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(family == .dinov2 ? "dinov2" : "vit", forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(layers, forKey: .layers)
        try c.encode(heads, forKey: .heads)
        if family == .dinov2 {
            try c.encode(Double(mlpSize) / Double(hiddenSize), forKey: .mlpRatio)
        } else {
            try c.encode(mlpSize, forKey: .intermediateSize)
        }
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(channels, forKey: .channels)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(qkvBias, forKey: .qkvBias)
        try c.encode("gelu", forKey: .hiddenAct)
    }

    /// Reads and decodes `config.json`.
    /// - Throws: `ModelError.badConfig` naming the file and the problem.
    public static func load(_ url: URL) throws -> ViTConfiguration {
        var st = stat()
        guard stat(url.path, &st) == 0 else { throw ModelError.missingFile(url.path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelError.badConfig(url.path, "not a regular file") }
        guard st.st_size <= 1 << 20 else { throw ModelError.badConfig(url.path, "\(st.st_size) bytes: too large for a config.json") }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.missingFile(url.path)
        }
        do {
            return try JSONDecoder().decode(ViTConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError.badConfig(url.path, "missing required key '\(key.stringValue)'")
        } catch let DecodingError.dataCorrupted(context) {
            throw ModelError.badConfig(url.path, context.debugDescription)
        } catch let DecodingError.typeMismatch(_, context) {
            throw ModelError.badConfig(url.path, "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw ModelError.badConfig(url.path, "\(error)")
        }
    }
}
