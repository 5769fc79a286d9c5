import Foundation
import TensorMath

/// Shapes: D width, M MLP width, P patch size, C channels, G0 stored position grid side.

/// The weights of one transformer block, in the layout the forward pass uses.
public struct BlockWeights {
    public var norm1Weight, norm1Bias: FloatBuffer        // (D)
    /// Query, key and value projections stacked: rows 0..<D query, D..<2D key, 2D..<3D value. (3D, D)
    public var qkv: LinearWeight
    public var qkvBias: FloatBuffer                        // (3D)
    public var proj: LinearWeight                          // (D, D)
    public var projBias: FloatBuffer                       // (D)
    public var layerScale1: FloatBuffer                    // (D), ones for plain ViT
    public var norm2Weight, norm2Bias: FloatBuffer         // (D)
    public var fc1: LinearWeight                           // (M, D)
    public var fc1Bias: FloatBuffer                        // (M)
    public var fc2: LinearWeight                           // (D, M)
    public var fc2Bias: FloatBuffer                        // (D)
    public var layerScale2: FloatBuffer                    // (D)

    /// The linear weights are given as (outputs, inputs) row-major; `LinearWeight` packs them for the
    /// forward pass where the CPU runs the packed kernel.
    public init(norm1Weight: FloatBuffer, norm1Bias: FloatBuffer, qkvWeight: FloatBuffer, qkvBias: FloatBuffer,
                projWeight: FloatBuffer, projBias: FloatBuffer, layerScale1: FloatBuffer,
                norm2Weight: FloatBuffer, norm2Bias: FloatBuffer, fc1Weight: FloatBuffer, fc1Bias: FloatBuffer,
                fc2Weight: FloatBuffer, fc2Bias: FloatBuffer, layerScale2: FloatBuffer) {
        let d = norm1Weight.count, m = fc1Bias.count
        self.norm1Weight = norm1Weight; self.norm1Bias = norm1Bias
        self.qkv = LinearWeight(qkvWeight, outputs: 3 * d, inputs: d); self.qkvBias = qkvBias
        self.proj = LinearWeight(projWeight, outputs: d, inputs: d); self.projBias = projBias
        self.layerScale1 = layerScale1
        self.norm2Weight = norm2Weight; self.norm2Bias = norm2Bias
        self.fc1 = LinearWeight(fc1Weight, outputs: m, inputs: d); self.fc1Bias = fc1Bias
        self.fc2 = LinearWeight(fc2Weight, outputs: d, inputs: m); self.fc2Bias = fc2Bias
        self.layerScale2 = layerScale2
    }
}

/// All weights of a ViT backbone.
public struct ViTWeights {
    public var patch: LinearWeight          // (D, C*P*P), the convolution kernel flattened
    public var patchBias: FloatBuffer       // (D)
    public var clsToken: FloatBuffer        // (D)
    /// Position embeddings as stored: row 0 for CLS, then the G0 x G0 patch grid. (1 + G0*G0, D)
    public var positions: FloatBuffer
    public var positionGrid: Int            // G0
    public var blocks: [BlockWeights]
    public var normWeight, normBias: FloatBuffer
    /// Known extra tensors kept for later use (a classifier head, a pooler), by canonical name.
    public var extras: [String: (shape: [Int], values: [Float])]

    public init(patchWeight: FloatBuffer, patchBias: FloatBuffer, clsToken: FloatBuffer, positions: FloatBuffer,
                positionGrid: Int, blocks: [BlockWeights], normWeight: FloatBuffer, normBias: FloatBuffer,
                extras: [String: (shape: [Int], values: [Float])]) {
        self.patch = LinearWeight(patchWeight, outputs: patchBias.count, inputs: patchWeight.count / max(patchBias.count, 1))
        self.patchBias = patchBias; self.clsToken = clsToken
        self.positions = positions; self.positionGrid = positionGrid; self.blocks = blocks
        self.normWeight = normWeight; self.normBias = normBias; self.extras = extras
    }
}

/// Reads a HuggingFace checkpoint's tensors into `ViTWeights`, strictly.
///
/// A missing tensor, a wrong shape, or any tensor that is neither used nor a known extra is an
/// error naming it: a checkpoint that half-loads would give plausible but wrong maps.
public enum WeightLoader {
    /// Extras that HuggingFace checkpoints carry and inference does not use (kept, not an error).
    static let knownExtras: [String] = [
        "embeddings.mask_token", "pooler.dense.weight", "pooler.dense.bias", "classifier.weight", "classifier.bias",
    ]

    /// Loads the weights for `config` from an opened safetensors file.
    /// - Throws: `ModelError.missingTensor`, `.wrongShape` or `.unexpectedTensor`.
    public static func load(_ file: SafetensorsFile, config: ViTConfiguration) throws -> ViTWeights {
        // Strip the task model's prefix ("dinov2.", "vit.") so base and task checkpoints load alike.
        var names: [String: String] = [:]   // canonical -> stored
        for stored in file.entries.keys {
            var canonical = stored
            for prefix in ["dinov2.", "vit.", "backbone."] where canonical.hasPrefix(prefix) {
                canonical = String(canonical.dropFirst(prefix.count))
            }
            names[canonical] = stored
        }
        var used = Set<String>()
        let d = config.hiddenSize, m = config.mlpSize, p = config.patchSize, c = config.channels

        func tensor(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
            guard let stored = names[name] else { throw ModelError.missingTensor(name, expected: shape) }
            used.insert(name)
            return FloatBuffer(try file.floats(stored, shape: shape))
        }
        func ones() -> FloatBuffer { FloatBuffer([Float](repeating: 1, count: d)) }

        let patchWeight = try tensor("embeddings.patch_embeddings.projection.weight", [d, c, p, p])
        let patchBias = try tensor("embeddings.patch_embeddings.projection.bias", [d])
        let cls = try tensor("embeddings.cls_token", [1, 1, d])
        guard let posName = names["embeddings.position_embeddings"], let posShape = file.entries[posName]?.shape else {
            throw ModelError.missingTensor("embeddings.position_embeddings", expected: [1, -1, d])
        }
        let grid = Int(Double(max(posShape.count == 3 ? posShape[1] - 1 : 0, 0)).squareRoot())
        guard posShape.count == 3, posShape[2] == d, grid * grid + 1 == posShape[1] else {
            throw ModelError.wrongShape("embeddings.position_embeddings", expected: [1, 1 + grid * grid, d], found: posShape)
        }
        let positions = try tensor("embeddings.position_embeddings", [1, 1 + grid * grid, d])

        var blocks: [BlockWeights] = []
        for l in 0..<config.layers {
            let pre = "encoder.layer.\(l)."
            let dino = config.family == .dinov2
            func qkvPart(_ part: String) throws -> (FloatBuffer, FloatBuffer) {
                let w = try tensor(pre + "attention.attention.\(part).weight", [d, d])
                let b = config.qkvBias ? try tensor(pre + "attention.attention.\(part).bias", [d]) : FloatBuffer(count: d)
                return (w, b)
            }
            let (qw, qb) = try qkvPart("query"), (kw, kb) = try qkvPart("key"), (vw, vb) = try qkvPart("value")
            let qkvW = FloatBuffer(count: 3 * d * d), qkvB = FloatBuffer(count: 3 * d)
            for (i, (w, b)) in [(qw, qb), (kw, kb), (vw, vb)].enumerated() {
                (qkvW.ptr + i * d * d).update(from: w.ptr, count: d * d)
                (qkvB.ptr + i * d).update(from: b.ptr, count: d)
            }
            blocks.append(BlockWeights(
                norm1Weight: try tensor(pre + (dino ? "norm1.weight" : "layernorm_before.weight"), [d]),
                norm1Bias: try tensor(pre + (dino ? "norm1.bias" : "layernorm_before.bias"), [d]),
                qkvWeight: qkvW, qkvBias: qkvB,
                projWeight: try tensor(pre + "attention.output.dense.weight", [d, d]),
                projBias: try tensor(pre + "attention.output.dense.bias", [d]),
                layerScale1: dino ? try tensor(pre + "layer_scale1.lambda1", [d]) : ones(),
                norm2Weight: try tensor(pre + (dino ? "norm2.weight" : "layernorm_after.weight"), [d]),
                norm2Bias: try tensor(pre + (dino ? "norm2.bias" : "layernorm_after.bias"), [d]),
                fc1Weight: try tensor(pre + (dino ? "mlp.fc1.weight" : "intermediate.dense.weight"), [m, d]),
                fc1Bias: try tensor(pre + (dino ? "mlp.fc1.bias" : "intermediate.dense.bias"), [m]),
                fc2Weight: try tensor(pre + (dino ? "mlp.fc2.weight" : "output.dense.weight"), [d, m]),
                fc2Bias: try tensor(pre + (dino ? "mlp.fc2.bias" : "output.dense.bias"), [d]),
                layerScale2: dino ? try tensor(pre + "layer_scale2.lambda1", [d]) : ones()))
        }
        let normWeight = try tensor("layernorm.weight", [d])
        let normBias = try tensor("layernorm.bias", [d])

        var extras: [String: (shape: [Int], values: [Float])] = [:]
        for (canonical, stored) in names.sorted(by: { $0.key < $1.key }) where !used.contains(canonical) {
            let shape = file.entries[stored]!.shape
            guard knownExtras.contains(canonical) else { throw ModelError.unexpectedTensor(stored, shape: shape) }
            extras[canonical] = (shape, try file.floats(stored))
        }
        return ViTWeights(patchWeight: patchWeight, patchBias: patchBias, clsToken: cls, positions: positions,
                          positionGrid: grid, blocks: blocks, normWeight: normWeight, normBias: normBias, extras: extras)
    }
}
