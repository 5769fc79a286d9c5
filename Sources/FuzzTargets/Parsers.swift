import Foundation
import Store
import ViT
import Workbench

/// The parsers cdam runs on files a user may have been handed: each entry takes arbitrary bytes and must end in
/// a value or a thrown error, never a trap, a hang or a leak.
///
/// One function per parser, shared by the libFuzzer driver (`cdam-fuzz`, built by `fuzz/run.sh`) and by the
/// in-suite fuzz tests (`ParserFuzzTests`), which feed a few thousand mutations of the seeds through the same code.
public enum ParserFuzz {
    public enum Parser: String, CaseIterable, Sendable {
        /// `SafetensorsFile` then `WeightLoader` for a tiny ViT (what `model import` does with a checkpoint).
        case safetensors
        /// `ConceptExport.validated` (what `concept import` does before touching the store), then encoding.
        case conceptImport = "concept-import"
        /// `ConceptFile.parse` (what `concept sync` does with `concepts/*.concept`).
        case conceptFile = "concept-file"
        /// `config.json` decoding and its validation.
        case modelConfig = "model-config"
    }

    /// The model the concept seeds were made for: a 384-wide ViT-S/14 (its digest is a placeholder).
    public static let model = ModelInfo(name: "fuzz-model", weightsSHA256: String(repeating: "ab", count: 32),
                                        width: 384, patchSize: 14)

    /// The tiny ViT the safetensors seeds hold: width 8, two heads, one block, 2x2 patches of a 4x4 image.
    public static let tinyConfig = ViTConfiguration(family: .dinov2, hiddenSize: 8, layers: 1, heads: 2, mlpSize: 16,
                                                     patchSize: 2, imageSize: 4)

    /// Runs one input through `parser`. Returns whether it was accepted (for corpus statistics only).
    @discardableResult
    public static func run(_ parser: Parser, _ data: Data) -> Bool {
        switch parser {
        case .safetensors: return safetensors(data)
        case .conceptImport: return conceptImport(data)
        case .conceptFile: return conceptFile(data)
        case .modelConfig: return modelConfig(data)
        }
    }

    static func safetensors(_ data: Data) -> Bool {
        // The reader works on files (positioned reads): one scratch file per process, rewritten per input.
        let url = scratchFile
        guard FileManager.default.createFile(atPath: url.path, contents: data) else { return false }
        guard let file = try? SafetensorsFile(url: url) else { return false }
        for name in file.entries.keys.sorted() {
            guard let values = try? file.floats(name) else { continue }
            precondition(values.count == file.entries[name]!.shape.reduce(1, *), "element count of \(name)")
        }
        return (try? WeightLoader.load(file, config: tinyConfig)) != nil
    }

    static func conceptImport(_ data: Data) -> Bool {
        guard let export = try? ConceptExport.validated(data, path: "fuzz.json", model: model) else { return false }
        // Accepted vectors must reach every output: JSON (no NaN/Inf), and scores that fit a Float.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard (try? encoder.encode(export)) != nil else { preconditionFailure("an accepted concept does not encode") }
        let norm = export.direction.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        precondition(norm.isFinite && export.bias.isFinite, "an accepted concept has a non-finite vector")
        return true
    }

    static func conceptFile(_ data: Data) -> Bool {
        guard let text = String(data: data, encoding: .utf8) else { return false }
        let url = URL(fileURLWithPath: "/nonexistent/fuzz.concept")
        return (try? ConceptFile.parse(text, at: url, environment: ["HOME": "/home/fuzz", "DATA": "/data"])) != nil
    }

    static func modelConfig(_ data: Data) -> Bool {
        guard let config = try? JSONDecoder().decode(ViTConfiguration.self, from: data) else { return false }
        // A config that decodes has passed validation: its derived sizes must be usable without a trap.
        precondition(config.problem == nil, "a decoded config has a problem: \(config.problem!)")
        _ = config.headSize
        return true
    }

    nonisolated(unsafe) static var scratch: URL?
    static var scratchFile: URL {
        if let scratch { return scratch }
        let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: dir).appendingPathComponent("cdam-fuzz-\(getpid())-\(UUID().uuidString).safetensors")
        scratch = url
        return url
    }

    /// Removes this process's scratch file.
    public static func cleanUp() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }
}

// MARK: - Seeds

extension ParserFuzz {
    /// Valid inputs for `parser`, from which the fuzzer and the in-suite tests mutate.
    public static func seeds(_ parser: Parser) -> [Data] {
        switch parser {
        case .safetensors: return [tinyCheckpoint(), tinyCheckpoint(metadata: ["format": "pt"], prefix: "dinov2.")]
        case .conceptImport: return [conceptJSON(kind: "centred", width: 384), conceptJSON(kind: "probe", width: 384, examples: 3)]
        case .conceptFile:
            return [
                "name: striped\ndescription: zebras # and tigers\nkind: centred\nexamples: photos/striped\nexamples: ${DATA}/{a,b}.jpg\nnegatives: photos/plain\nbackground: holiday\nrandom-concepts: 20\nexclude-similar: 5\n",
                "# comment\n\nexamples: /tmp/x\\#y.jpg\nkind: probe\n",
            ].map { Data($0.utf8) }
        case .modelConfig:
            return [
                #"{"model_type": "dinov2", "hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6, "mlp_ratio": 4, "patch_size": 14, "image_size": 518, "layer_norm_eps": 1e-6, "qkv_bias": true, "hidden_act": "gelu"}"#,
                #"{"model_type": "vit", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "patch_size": 2, "image_size": 6, "layer_norm_eps": 1e-12}"#,
            ].map { Data($0.utf8) }
        }
    }

    /// A checkpoint of `tinyConfig` with small deterministic weights, in memory.
    static func tinyCheckpoint(metadata: [String: String] = [:], prefix: String = "") -> Data {
        let c = tinyConfig, d = c.hiddenSize, m = c.mlpSize, p = c.patchSize, grid = c.imageSize / p
        var seed: UInt32 = 11
        var tensors: [(String, [Int])] = [
            ("embeddings.cls_token", [1, 1, d]), ("embeddings.position_embeddings", [1, 1 + grid * grid, d]),
            ("embeddings.patch_embeddings.projection.weight", [d, 3, p, p]),
            ("embeddings.patch_embeddings.projection.bias", [d]), ("layernorm.weight", [d]), ("layernorm.bias", [d]),
        ]
        let pre = "encoder.layer.0."
        for part in ["query", "key", "value"] {
            tensors += [(pre + "attention.attention.\(part).weight", [d, d]), (pre + "attention.attention.\(part).bias", [d])]
        }
        tensors += [(pre + "attention.output.dense.weight", [d, d]), (pre + "attention.output.dense.bias", [d]),
                    (pre + "norm1.weight", [d]), (pre + "norm1.bias", [d]), (pre + "norm2.weight", [d]), (pre + "norm2.bias", [d]),
                    (pre + "layer_scale1.lambda1", [d]), (pre + "layer_scale2.lambda1", [d]),
                    (pre + "mlp.fc1.weight", [m, d]), (pre + "mlp.fc1.bias", [m]),
                    (pre + "mlp.fc2.weight", [d, m]), (pre + "mlp.fc2.bias", [d])]
        tensors.sort { $0.0 < $1.0 }
        var header: [String] = []
        if !metadata.isEmpty {
            header.append("\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
        }
        var body = Data(), offset = 0
        for (name, shape) in tensors {
            let count = shape.reduce(1, *)
            for _ in 0..<count {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                var bits = (Float(Int(seed >> 9) % 2001 - 1000) / 2000).bitPattern.littleEndian
                withUnsafeBytes(of: &bits) { body.append(contentsOf: $0) }
            }
            header.append("\"\(prefix + name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + 4 * count)]}")
            offset += 4 * count
        }
        let json = Data(("{" + header.joined(separator: ",") + "}").utf8)
        var length = UInt64(json.count).littleEndian
        var file = Data()
        withUnsafeBytes(of: &length) { file.append(contentsOf: $0) }
        return file + json + body
    }

    /// A concept file as `concept export` writes it, for `model`.
    static func conceptJSON(kind: String, width: Int, examples: Int = 1) -> Data {
        let direction = (0..<width).map { i in String(format: "%.6g", sin(Double(i)) / Double(width).squareRoot()) }
        let list = (0..<examples).map { i in
            #"{"role": "\#(i == 0 ? "example" : "negative")", "sha256": "\#(String(repeating: String(i % 10), count: 64))", "path": "/photos/\#(i).jpg"}"#
        }
        let text = """
        {"format": "cdam-concept", "version": 1, "name": "striped", "kind": "\(kind)", "description": "zebras",
         "model": {"name": "\(model.name)", "weightsSHA256": "\(model.weightsSHA256)", "width": \(width), "patchSize": 14},
         "preprocessing": "pil-bicubic-224x224", "direction": [\(direction.joined(separator: ","))], "bias": -0.25,
         "background": "holiday",
         "definition": {"name": "striped", "description": "zebras", "kind": "\(kind)", "examples": ["photos/striped"],
                        "negatives": [], "background": "holiday", "randomConcepts": 50, "base": "/home/u", "excludeSimilar": 0},
         "examples": [\(list.joined(separator: ","))],
         "fingerprint": "0123abcd", "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z"}
        """
        return Data(text.utf8)
    }
}
