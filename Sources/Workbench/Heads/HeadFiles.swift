import Concepts
import Foundation
import Store
import ViT

/// The self-describing JSON file `head export` writes and `head import` reads.
public struct HeadExport: Codable, Sendable {
    public static let formatName = "cdam-head"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var name: String
    public var model: ConceptExport.Model
    public var preprocessing: String
    public var labels: [String]
    /// K rows of D numbers.
    public var weights: [[Float]]
    public var bias: [Float]
    public var source: String
    public var training: HeadTraining?
    public var evaluation: HeadEvaluation?
    /// The training images (by content; paths as they were).
    public var images: [HeadImage]
    public var createdAt: String
    public var updatedAt: String
}

/// The tensor names `head import` looks for in a safetensors file when none are given, in order: a weight
/// [classes, width] and a bias [classes] (PyTorch's nn.Linear layout, as a classifier checkpoint stores it).
public let headTensorNames: [(weight: String, bias: String)] = [
    ("weight", "bias"), ("classifier.weight", "classifier.bias"), ("head.weight", "head.bias"),
    ("fc.weight", "fc.bias"), ("linear.weight", "linear.bias"),
]

/// Export formats of a head.
public enum HeadFileFormat: String, Sendable, CaseIterable {
    case json, safetensors

    /// The format a path's extension names (.safetensors, else JSON).
    public static func of(_ url: URL) -> HeadFileFormat {
        url.pathExtension.lowercased() == "safetensors" ? .safetensors : .json
    }
}

/// Writes a stored head to `url`: the JSON document, or a safetensors file with tensors `weight` [K, D] and
/// `bias` [K] and the labels, model and preprocessing in its metadata.
/// - Throws: as `resolveHead`; `WorkbenchError.failed` naming the file when it cannot be written.
public func exportHead(_ name: String, modelName: String? = nil, to url: URL, format: HeadFileFormat? = nil, store: Store) throws {
    let (head, model) = try resolveHead(name, modelName: modelName, store: store)
    let d = head.width
    let summary = try summarizeHead(head, model: model, store: store)
    do {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        switch format ?? HeadFileFormat.of(url) {
        case .json:
            let export = HeadExport(format: HeadExport.formatName, version: HeadExport.currentVersion, name: head.name,
                                    model: .init(name: model.name, weightsSHA256: model.weightsSHA256, width: model.width, patchSize: model.patchSize),
                                    preprocessing: head.preprocessingID, labels: head.labels,
                                    weights: (0..<head.classes).map { Array(head.weights[($0 * d)..<(($0 + 1) * d)]) }, bias: head.bias,
                                    source: head.source, training: summary.training, evaluation: summary.evaluation,
                                    images: try store.headImages(headID: head.id), createdAt: head.createdAt, updatedAt: head.updatedAt)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            try encoder.encode(export).write(to: url, options: .atomic)
        case .safetensors:
            let metadata = ["format": HeadExport.formatName, "name": head.name, "labels": try jsonString(head.labels),
                            "model": model.name, "model_sha256": model.weightsSHA256, "preprocessing": head.preprocessingID]
            try SafetensorsWriter.write([SafetensorsEntry(name: "weight", shape: [head.classes, d], values: head.weights),
                                         SafetensorsEntry(name: "bias", shape: [head.classes], values: head.bias)],
                                        metadata: metadata, to: url)
        }
    } catch let error as WorkbenchError {
        throw error
    } catch let error as SafetensorsWriteError {
        throw WorkbenchError.failed(error.description)
    } catch {
        throw WorkbenchError.failed("\(url.path): cannot write the head file (\(error.localizedDescription))")
    }
}

/// Options of `head import` for a safetensors file.
public struct HeadImportOptions: Sendable {
    /// Store under this name (required for a safetensors file without a name in its metadata).
    public var name: String?
    /// The weight and bias tensors' names (default: the first pair of `headTensorNames` present).
    public var weightTensor: String?
    public var biasTensor: String?
    /// Class names, one per line, in the weight's row order (default: the file's metadata `labels`, else class0...).
    public var labelsFile: URL?
    public var replace: Bool
    public init(name: String? = nil, weightTensor: String? = nil, biasTensor: String? = nil, labelsFile: URL? = nil, replace: Bool = false) {
        self.name = name; self.weightTensor = weightTensor; self.biasTensor = biasTensor; self.labelsFile = labelsFile; self.replace = replace
    }
}

/// Imports a head for model `model`: a JSON file of `head export` (made with the same model weights), or a
/// safetensors file holding a linear classifier's weight [classes, width] and bias [classes].
/// Training images of a JSON file are linked when their images are stored here.
/// - Throws: `WorkbenchError.failed` naming the file: unreadable, not a head file, another model's head,
///   a missing tensor (naming the tensors present), a wrong shape (both shapes), a label count that does not
///   match; `.usage` for an existing head without `replace` or a missing name; `StoreError`. Nothing is stored then.
public func importHead(from url: URL, model info: ModelInfo, options: HeadImportOptions = HeadImportOptions(),
                       store: Store) throws -> HeadSummary {
    let path = url.path
    guard FileManager.default.fileExists(atPath: path) else {
        throw WorkbenchError.failed("\(path): no such file; give a head file written by `cdam head export` or a .safetensors classifier")
    }
    var record: HeadRecord
    var images: [HeadImage] = []
    var warnings: [String] = []
    let head4 = (try? FileHandle(forReadingFrom: url).read(upToCount: 16)) ?? Data()
    let looksJSON = head4.first(where: { !$0.isWhitespace }) == UInt8(ascii: "{")
    if HeadFileFormat.of(url) == .safetensors || !looksJSON {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(url: url) } catch {
            throw WorkbenchError.failed("\(path): not a head file: neither cdam's JSON nor a readable safetensors file (\(error))")
        }
        let pair: (weight: String, bias: String)
        if let w = options.weightTensor {
            pair = (w, options.biasTensor ?? (w.hasSuffix("weight") ? String(w.dropLast(6)) + "bias" : "bias"))
        } else if let found = headTensorNames.first(where: { file.entries[$0.weight] != nil }) {
            pair = (found.weight, options.biasTensor ?? found.bias)
        } else {
            throw WorkbenchError.failed("\(path): no classifier weight tensor (looked for \(headTensorNames.map(\.weight).joined(separator: ", "))); the file has \(file.entries.keys.sorted().prefix(12).joined(separator: ", ")); name it with --weight-tensor NAME")
        }
        guard let we = file.entries[pair.weight] else {
            throw WorkbenchError.failed("\(path): no tensor '\(pair.weight)'; the file has \(file.entries.keys.sorted().prefix(12).joined(separator: ", "))")
        }
        guard we.shape.count == 2, we.shape[1] == info.width, we.shape[0] >= 2 else {
            throw WorkbenchError.failed("\(path): tensor '\(pair.weight)' has shape \(we.shape), expected [classes, \(info.width)] (classes >= 2) for model \(info.name)\(we.shape.count == 2 && we.shape[0] == info.width ? "; it looks transposed: store it as [classes, width]" : "")")
        }
        let k = we.shape[0]
        guard let be = file.entries[pair.bias] else {
            throw WorkbenchError.failed("\(path): no bias tensor '\(pair.bias)' (shape [\(k)]) beside '\(pair.weight)'; name it with --bias-tensor NAME")
        }
        guard be.shape == [k] else {
            throw WorkbenchError.failed("\(path): tensor '\(pair.bias)' has shape \(be.shape), expected [\(k)]")
        }
        let weights: [Float], bias: [Float]
        do { weights = try file.floats(pair.weight); bias = try file.floats(pair.bias) } catch {
            throw WorkbenchError.failed("\(path): \(error)")
        }
        guard weights.allSatisfy(\.isFinite), bias.allSatisfy(\.isFinite) else {
            throw WorkbenchError.failed("\(path): the head's tensors hold NaN or infinity")
        }
        var labels: [String]
        if let labelsFile = options.labelsFile {
            let text: String
            do { text = try String(contentsOf: labelsFile, encoding: .utf8) } catch {
                throw WorkbenchError.failed("\(labelsFile.path): cannot read the labels file (\(error.localizedDescription))")
            }
            labels = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard labels.count == k else {
                throw WorkbenchError.failed("\(labelsFile.path): \(labels.count) labels, but '\(pair.weight)' has \(k) classes; give one label per line, in the weight's row order")
            }
        } else if let text = file.metadata["labels"], let decoded = try? JSONDecoder().decode([String].self, from: Data(text.utf8)), decoded.count == k {
            labels = decoded
        } else {
            labels = (0..<k).map { "class\($0)" }
            warnings.append("no class names in the file: the classes are named class0...class\(k - 1); give --labels-file FILE (one name per line) for real names")
        }
        guard Set(labels).count == labels.count else {
            throw WorkbenchError.failed("\(path): the class names are not unique; give --labels-file FILE with distinct names")
        }
        if let sha = file.metadata["model_sha256"], sha != info.weightsSHA256 {
            throw WorkbenchError.failed("\(path): the head was made with model \(file.metadata["model"] ?? "?") (sha256 \(sha.prefix(12))…), not \(info.name); import it with that model (--model)")
        }
        guard let name = options.name ?? file.metadata["name"] else {
            throw WorkbenchError.usage("\(path): the file names no head; give one with --name NAME")
        }
        let training = HeadTraining(C: 0, importedFrom: path, tensors: [pair.weight, pair.bias])
        record = HeadRecord(name: name, modelID: 0, preprocessingID: file.metadata["preprocessing"] ?? "", labels: labels,
                            weights: weights, bias: bias, source: "imported", hyperparameters: try jsonString(training))
    } else {
        let export: HeadExport
        do { export = try JSONDecoder().decode(HeadExport.self, from: Data(contentsOf: url)) } catch {
            throw WorkbenchError.failed("\(path): not a head file written by `cdam head export` (\(decodingMessage(error)))")
        }
        guard export.format == HeadExport.formatName, export.version <= HeadExport.currentVersion else {
            throw WorkbenchError.failed("\(path): format '\(export.format)' version \(export.version) is not a head file this cdam reads")
        }
        guard export.model.weightsSHA256 == info.weightsSHA256 else {
            throw WorkbenchError.failed("\(path): head '\(export.name)' was trained with model \(export.model.name) (sha256 \(export.model.weightsSHA256.prefix(12))…), not \(info.name); import it with --model \(export.model.name)")
        }
        guard export.labels.count >= 2, export.weights.count == export.labels.count, export.bias.count == export.labels.count,
              export.weights.allSatisfy({ $0.count == info.width && $0.allSatisfy(\.isFinite) }) else {
            throw WorkbenchError.failed("\(path): head '\(export.name)' must have one weight row of \(info.width) finite numbers and one bias per label (\(export.labels.count) labels)")
        }
        let training = export.training
        record = HeadRecord(name: options.name ?? export.name, modelID: 0, preprocessingID: export.preprocessing, labels: export.labels,
                            weights: export.weights.flatMap { $0 }, bias: export.bias, source: export.source,
                            hyperparameters: try training.map(jsonString) ?? "{}", evaluation: try export.evaluation.map(jsonString) ?? "{}")
        let stored = try store.imageIDs(sha256s: export.images.map(\.sha256))
        images = export.images.filter { stored[$0.sha256] != nil }
        if images.count < export.images.count {
            warnings.append("\(export.images.count - images.count) of its \(export.images.count) training images are not stored here: `head eval` uses the \(images.count) that are")
        }
    }
    guard !record.name.isEmpty, !record.name.contains(where: \.isNewline), record.name != "all" else {
        throw WorkbenchError.usage("\(path): the head needs a one-line name other than 'all'; give one with --name NAME")
    }
    let model = try store.upsertModel(info)
    if !options.replace, try store.head(named: record.name, modelID: model.id) != nil {
        throw WorkbenchError.usage("head '\(record.name)' already exists for model \(model.name); add --replace, or import it under another --name")
    }
    record.modelID = model.id
    let saved = try store.saveHead(record, images: images)
    var summary = try summarizeHead(saved, model: model, store: store)
    summary.status = "imported"
    summary.warnings = warnings.isEmpty ? nil : warnings
    return summary
}

private extension UInt8 {
    var isWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}
