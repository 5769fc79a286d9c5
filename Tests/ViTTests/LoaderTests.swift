import Foundation
import Testing
import TensorMath
import ViT

/// Tiny random-weight checkpoints written by the tests, in both HuggingFace layouts: the loader's
/// checks and error messages, and the non-square path, with no network and no real model.
struct LoaderTests {
    enum Layout: String, CaseIterable { case dinov2, vit }

    /// config.json + model.safetensors of a 2-block, width-8 model; `edit` may change the tensors first.
    static func writeCheckpoint(_ layout: Layout, prefix: String = "", in dir: URL,
                                edit: (inout [String: (shape: [Int], values: [Float])]) -> Void = { _ in }) throws {
        let d = 8, m = 16, p = 2, grid = 3
        var seed: UInt32 = 7
        func r(_ shape: [Int]) -> (shape: [Int], values: [Float]) {
            (shape, (0..<shape.reduce(1, *)).map { _ in
                seed = seed &* 1_664_525 &+ 1_013_904_223
                return Float(Int(seed >> 9) % 2001 - 1000) / 2000
            })
        }
        var t: [String: (shape: [Int], values: [Float])] = [
            "embeddings.cls_token": r([1, 1, d]),
            "embeddings.position_embeddings": r([1, 1 + grid * grid, d]),
            "embeddings.patch_embeddings.projection.weight": r([d, 3, p, p]),
            "embeddings.patch_embeddings.projection.bias": r([d]),
            "layernorm.weight": r([d]), "layernorm.bias": r([d]),
        ]
        for l in 0..<2 {
            let pre = "encoder.layer.\(l)."
            for part in ["query", "key", "value"] {
                t[pre + "attention.attention.\(part).weight"] = r([d, d])
                t[pre + "attention.attention.\(part).bias"] = r([d])
            }
            t[pre + "attention.output.dense.weight"] = r([d, d])
            t[pre + "attention.output.dense.bias"] = r([d])
            switch layout {
            case .dinov2:
                t["embeddings.mask_token"] = r([1, d])
                for name in ["norm1", "norm2"] { t[pre + name + ".weight"] = r([d]); t[pre + name + ".bias"] = r([d]) }
                t[pre + "layer_scale1.lambda1"] = r([d]); t[pre + "layer_scale2.lambda1"] = r([d])
                t[pre + "mlp.fc1.weight"] = r([m, d]); t[pre + "mlp.fc1.bias"] = r([m])
                t[pre + "mlp.fc2.weight"] = r([d, m]); t[pre + "mlp.fc2.bias"] = r([d])
            case .vit:
                for name in ["layernorm_before", "layernorm_after"] { t[pre + name + ".weight"] = r([d]); t[pre + name + ".bias"] = r([d]) }
                t[pre + "intermediate.dense.weight"] = r([m, d]); t[pre + "intermediate.dense.bias"] = r([m])
                t[pre + "output.dense.weight"] = r([d, m]); t[pre + "output.dense.bias"] = r([d])
                t["pooler.dense.weight"] = r([d, d]); t["pooler.dense.bias"] = r([d])
            }
        }
        edit(&t)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let entries = t.map { SafetensorsEntry(name: prefix + $0.key, shape: $0.value.shape, values: $0.value.values) }
        try SafetensorsWriter.write(entries, to: dir.appendingPathComponent("model.safetensors"))
        let config: String
        switch layout {
        case .dinov2:
            config = #"{"model_type": "dinov2", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "mlp_ratio": 2, "patch_size": 2, "image_size": 6, "layer_norm_eps": 1e-6}"#
        case .vit:
            config = #"{"model_type": "vit", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "patch_size": 2, "image_size": 6, "layer_norm_eps": 1e-12}"#
        }
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
    }

    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("cdam-loader-\(UUID().uuidString)")
    }

    static func loadError(_ dir: URL) -> String? {
        do { _ = try VisionTransformer(directory: dir); return nil } catch { return "\(error)" }
    }

    @Test(arguments: Layout.allCases, ["", "dinov2.", "vit."])
    func loadsAndRunsNonSquare(_ layout: Layout, _ prefix: String) throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(layout, prefix: prefix, in: dir)
        let model = try VisionTransformer(directory: dir)
        #expect(model.config.family.rawValue == layout.rawValue)
        // 4 x 8 pixels: a 2 x 4 grid from a 3 x 3 stored grid (bicubic resize, non-square).
        let pixels: [Float] = (0..<(2 * 3 * 4 * 8)).map { (i: Int) -> Float in Float((i * 37) % 17) / 8 - 1 }
        let out = try model.forward(pixels: pixels, batch: 2, height: 4, width: 8, options: ForwardOptions(allTokens: true))
        #expect(out.tokens == 9 && out.gridHeight == 2 && out.gridWidth == 4)
        #expect(out.cls.array.allSatisfy { $0.isFinite })
        // The CLS-only last block gives the same CLS embedding as the full one.
        let clsOnly = try model.forward(pixels: pixels, batch: 2, height: 4, width: 8)
        for i in 0..<out.cls.count { #expect(abs(out.cls[i] - clsOnly.cls[i]) < 1e-5) }
        #expect(model.weights.extras.keys.sorted() == (layout == .dinov2 ? ["embeddings.mask_token"] : ["pooler.dense.bias", "pooler.dense.weight"]))
    }

    @Test func missingTensorIsNamed() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.dinov2, in: dir) { $0["encoder.layer.1.mlp.fc2.bias"] = nil }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("encoder.layer.1.mlp.fc2.bias") && message.contains("[8]"))
    }

    @Test func wrongShapeNamesBothShapes() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.vit, in: dir) { $0["encoder.layer.0.attention.attention.key.weight"]!.shape = [4, 16] }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("attention.attention.key.weight") && message.contains("[4, 16]") && message.contains("[8, 8]"))
    }

    @Test func unknownTensorIsRefused() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.dinov2, in: dir) { $0["decoder.head.weight"] = ([2], [0, 0]) }
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("decoder.head.weight"))
    }

    @Test func truncatedFileIsRefused() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.dinov2, in: dir)
        let file = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: file)
        try data.prefix(data.count - 100).write(to: file)
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("model.safetensors") && message.contains("truncated"))
    }

    @Test func tamperedHeaderIsRefused() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.dinov2, in: dir)
        let file = dir.appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: file)
        data[8] = 0x78   // the header's opening brace: no longer JSON
        try data.write(to: file)
        #expect(Self.loadError(dir)?.contains("model.safetensors") == true)
    }

    @Test func configMissingKeyIsNamed() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.dinov2, in: dir)
        try Data(#"{"model_type": "dinov2", "hidden_size": 8}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let message = try #require(Self.loadError(dir))
        #expect(message.contains("config.json") && message.contains("num_hidden_layers"))
    }

    /// F16 and BF16 tensors are widened to Float on load.
    @Test func halfPrecisionTensorsAreWidened() throws {
        let values: [Float] = [1.5, -2.25, 0.125]
        var body = Data()
        for v in values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        for v in values { withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { body.append(contentsOf: $0) } }
        let header = #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[6,12]}}"#
        var file = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(Data(header.utf8))
        file.append(body)
        let url = Self.tempDir().appendingPathExtension("safetensors")
        try file.write(to: url)
        let f = try SafetensorsFile(url: url)
        #expect(try f.floats("h") == values)
        #expect(try f.floats("b") == values)
    }

    @Test func sizeMustBeAMultipleOfThePatch() throws {
        let dir = Self.tempDir()
        try Self.writeCheckpoint(.vit, in: dir)
        let model = try VisionTransformer(directory: dir)
        #expect(throws: ModelError.self) { try model.forward(pixels: [Float](repeating: 0, count: 3 * 5 * 4), batch: 1, height: 5, width: 4) }
    }
}
