import Concepts
import Foundation
import Store

/// A stored concept in full: its summary, definition, examples and target.
public struct ConceptDetails: Codable, Sendable {
    public var summary: ConceptSummary
    public var definition: ConceptDefinition?
    /// Positive and negative examples with their last seen paths (background images are only counted).
    public var examples: [ExampleEntry]
    public var bias: Float
    /// |direction|, a quick check of the target's scale.
    public var directionNorm: Float

    public struct ExampleEntry: Codable, Sendable, Equatable {
        public var role: String
        public var sha256: String
        public var path: String?
    }
}

/// Finds the stored concept `name`: of model `modelName` when given, else of the one model that has it.
/// - Throws: `WorkbenchError.failed` when it does not exist, `.usage` when several models have it and none was
///   chosen, `StoreError.conceptFromOtherModel` when only another model has it.
public func resolveConcept(_ name: String, modelName: String?, store: Store) throws -> (concept: ConceptRecord, model: ModelRecord) {
    if let modelName {
        guard let model = try store.model(named: modelName) else {
            let others = try store.concepts(modelID: nil).filter { $0.name == name }
            if let other = others.first, let otherModel = try store.model(id: other.modelID) {
                throw StoreError.conceptFromOtherModel(path: store.path, concept: name, definedWith: otherModel.name,
                                                       definedSHA256: otherModel.weightsSHA256, requested: modelName)
            }
            throw WorkbenchError.failed("concept '\(name)' is not defined for model \(modelName)\(didYouMean(name, among: try store.concepts(modelID: nil).map(\.name))) (see `cdam concept list`)")
        }
        guard let concept = try store.concept(named: name, modelID: model.id) else {
            let names = try store.concepts(modelID: model.id).map(\.name)
            throw WorkbenchError.failed("concept '\(name)' is not defined\(didYouMean(name, among: names)) (see `cdam concept list`, or define it with `cdam concept define \(name) --examples DIR`)")
        }
        return (concept, model)
    }
    let matches = try store.concepts(modelID: nil).filter { $0.name == name }
    switch matches.count {
    case 0:
        let names = try store.concepts(modelID: nil).map(\.name)
        throw WorkbenchError.failed("concept '\(name)' is not defined\(didYouMean(name, among: names)) (see `cdam concept list`, or define it with `cdam concept define \(name) --examples DIR`)")
    case 1:
        guard let model = try store.model(id: matches[0].modelID) else {
            throw WorkbenchError.failed("concept '\(name)': its model is missing from \(store.path)")
        }
        return (matches[0], model)
    default:
        let names = try matches.compactMap { try store.model(id: $0.modelID)?.name }.sorted()
        throw WorkbenchError.usage("concept '\(name)' exists for models \(names.joined(separator: ", ")): choose one with --model")
    }
}

/// The target a stored concept scores with.
/// - Parameter width: the model's embedding width, checked against the stored direction.
/// - Throws: `WorkbenchError.failed` when the stored kind is unknown to this cdam, or the vector is damaged
///   (wrong width, NaN or infinite numbers, too large for finite scores).
public func target(of concept: ConceptRecord, width: Int? = nil) throws -> Target {
    guard let kind = Target.Kind(rawValue: concept.kind) else {
        throw WorkbenchError.failed("concept '\(concept.name)': unknown kind '\(concept.kind)' (made by a newer cdam?)")
    }
    let t = Target(name: concept.name, kind: kind, direction: concept.direction, bias: concept.bias,
                   block: BlockTag.block(of: concept.preprocessingID))
    if let problem = t.problem(width: width) {
        throw WorkbenchError.failed("concept '\(concept.name)' is damaged: \(problem); define it again (`cdam concept define \(concept.name) --replace ...`) or remove it")
    }
    return t
}

/// Every stored concept (of model `modelName` only, when given), by name.
/// - Throws: `WorkbenchError.failed` for an unknown model, `StoreError` on database failures.
public func listConcepts(modelName: String? = nil, store: Store) throws -> [ConceptSummary] {
    var modelID: Int64?
    if let modelName {
        guard let model = try store.model(named: modelName) else { return [] }
        modelID = model.id
    }
    var models: [Int64: ModelRecord] = [:]
    for model in try store.models() { models[model.id] = model }
    return try store.concepts(modelID: modelID).compactMap { record in
        guard let model = models[record.modelID] else { return nil }
        return try summarize(record, model: model, store: store)
    }
}

/// One stored concept in full.
/// - Throws: as `resolveConcept`.
public func showConcept(_ name: String, modelName: String? = nil, store: Store) throws -> ConceptDetails {
    let (record, model) = try resolveConcept(name, modelName: modelName, store: store)
    let examples = try store.conceptExamples(conceptID: record.id)
        .filter { $0.example.role != .background }
        .map { ConceptDetails.ExampleEntry(role: $0.example.role.rawValue, sha256: $0.example.sha256, path: $0.path) }
    let norm = record.direction.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
    return ConceptDetails(summary: try summarize(record, model: model, store: store),
                          definition: try? JSONDecoder().decode(ConceptDefinition.self, from: Data(record.definition.utf8)),
                          examples: examples, bias: record.bias, directionNorm: norm)
}

/// Removes a stored concept (its example images stay cached until `prune`).
/// - Returns: the removed concept's summary.
/// - Throws: as `resolveConcept`.
@discardableResult
public func removeConcept(_ name: String, modelName: String? = nil, store: Store) throws -> ConceptSummary {
    let (record, model) = try resolveConcept(name, modelName: modelName, store: store)
    let summary = try summarize(record, model: model, store: store)
    try store.removeConcept(named: record.name, modelID: model.id)
    return summary
}

/// The self-describing file `concept export` writes and `concept import` reads.
public struct ConceptExport: Codable, Sendable, Equatable {
    public static let formatName = "cdam-concept"
    public static let currentVersion = 1

    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        public var weightsSHA256: String
        public var width: Int
        public var patchSize: Int
    }

    public struct Example: Codable, Sendable, Equatable {
        public var role: String
        public var sha256: String
        public var path: String?
    }

    public var format: String
    public var version: Int
    public var name: String
    public var kind: String
    public var description: String
    public var model: Model
    public var preprocessing: String
    public var direction: [Float]
    public var bias: Float
    public var background: String
    public var quality: ConceptQuality?
    public var definition: ConceptDefinition?
    public var examples: [Example]
    public var fingerprint: String
    public var createdAt: String
    public var updatedAt: String
}

/// The export document of a stored concept.
/// - Throws: as `resolveConcept`.
public func exportConcept(_ name: String, modelName: String? = nil, store: Store) throws -> ConceptExport {
    let (record, model) = try resolveConcept(name, modelName: modelName, store: store)
    let details = try showConcept(record.name, modelName: model.name, store: store)
    return ConceptExport(format: ConceptExport.formatName, version: ConceptExport.currentVersion, name: record.name,
                         kind: record.kind, description: record.description,
                         model: .init(name: model.name, weightsSHA256: model.weightsSHA256, width: model.width, patchSize: model.patchSize),
                         preprocessing: record.preprocessingID, direction: record.direction, bias: record.bias,
                         background: record.background, quality: details.summary.quality, definition: details.definition,
                         examples: details.examples.map { .init(role: $0.role, sha256: $0.sha256, path: $0.path) },
                         fingerprint: record.fingerprint, createdAt: record.createdAt, updatedAt: record.updatedAt)
}

/// Writes `export` as pretty JSON to `url`.
/// - Throws: `WorkbenchError.failed` naming the file when it cannot be written.
public func writeConceptExport(_ export: ConceptExport, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    let data: Data
    do { data = try encoder.encode(export) } catch {
        throw WorkbenchError.failed("\(url.path): cannot encode concept '\(export.name)' (\(error))")
    }
    try SafeWrite.write(data, to: url, what: "concept file", createFolder: true)
}

/// Imports a concept file written by `concept export` for the current model (`model`, typically the
/// embedder's), replacing a concept of the same name. Its examples are linked when their images are stored.
/// - Parameter rename: store it under another name.
/// - Throws: `WorkbenchError.failed` naming the file when it is not a concept file of a known version, when it
///   was made with another model (weights sha256 differ), or its direction's width is wrong; `StoreError` on failures.
public func importConcept(from url: URL, model: ModelInfo, rename: String? = nil, replace: Bool = false,
                          store: Store) throws -> ConceptSummary {
    let data = try readInputFile(url, what: "concept file", limit: 64 << 20)
    let export = try ConceptExport.validated(data, path: url.path, model: model, rename: rename)
    let name = rename ?? export.name
    if !replace, let existing = try store.model(named: model.name),
       try store.concepts(modelID: existing.id).contains(where: { $0.name == name }) {
        throw WorkbenchError.usage("\(url.path): concept '\(name)' already exists for model \(model.name); add --replace to overwrite it, or --name to import it under another name")
    }
    let stored = try store.upsertModel(model)
    var examples: [ConceptExample] = []
    for example in export.examples {
        guard let role = ExampleRole(rawValue: example.role), try store.findImage(sha256: example.sha256) != nil else { continue }
        examples.append(ConceptExample(sha256: example.sha256, role: role))
    }
    var definition = export.definition
    definition?.name = name
    let record = ConceptRecord(name: name, modelID: stored.id, kind: export.kind, description: export.description,
                               direction: export.direction, bias: export.bias, preprocessingID: export.preprocessing,
                               background: export.background, definition: try definition.map(jsonString) ?? "{}",
                               quality: try export.quality.map(jsonString) ?? "{}",
                               fingerprint: "imported:" + export.fingerprint)
    let saved = try store.saveConcept(record, examples: examples)
    var summary = try summarize(saved, model: stored, store: store)
    summary.status = "imported"
    return summary
}

func decodingMessage(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "wrong value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
    case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
        return "a value out of range at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
    case DecodingError.dataCorrupted: return "not valid JSON"
    default: return "\(error)"
    }
}

extension ConceptExport {
    /// Decodes a concept file's bytes and applies every check `concept import` makes before touching the store:
    /// format and version, the model's weights, kind, name and description limits, the vector (finite, width,
    /// representable scores) and the preprocessing. The fuzz target `cdam-fuzz concept-import` drives this.
    /// - Parameter path: the file's path, for messages.
    /// - Throws: `WorkbenchError.failed` naming the file and what is wrong with it.
    public static func validated(_ data: Data, path: String, model: ModelInfo, rename: String? = nil) throws -> ConceptExport {
        let export: ConceptExport
        do { export = try JSONDecoder().decode(ConceptExport.self, from: data) } catch {
            throw WorkbenchError.failed("\(path): not a concept file written by `cdam concept export` (\(decodingMessage(error)))")
        }
        guard export.format == ConceptExport.formatName, export.version <= ConceptExport.currentVersion else {
            throw WorkbenchError.failed("\(path): format '\(export.format)' version \(export.version) is not one this cdam reads (\(ConceptExport.formatName) 1); update cdam")
        }
        guard export.model.weightsSHA256 == model.weightsSHA256 else {
            throw WorkbenchError.failed("\(path): concept '\(export.name)' was made with model \(export.model.name) (sha256 \(export.model.weightsSHA256.prefix(12))…), not \(model.name) (sha256 \(model.weightsSHA256.prefix(12))…); import it with --model \(export.model.name) if installed, or re-define it with `cdam concept define`")
        }
        guard export.version >= 1 else {
            throw WorkbenchError.failed("\(path): format version \(export.version) is not one this cdam reads (\(ConceptExport.formatName) 1)")
        }
        guard let kind = Target.Kind(rawValue: export.kind), kind != .classLogit else {
            throw WorkbenchError.failed("\(path): concept has kind '\(export.kind)'; expected mean, cosine, contrast, centred, probe or whitened")
        }
        let name = rename ?? export.name
        // The same checks as `concept define` (one validation for every entry point), then the vector's.
        do {
            try Limits.checkConceptName(name)
            try Limits.checkDescription(export.description, concept: name)
        } catch let error as WorkbenchError {
            throw WorkbenchError.failed("\(path): \(error.description)")
        }
        if let problem = Target(name: name, kind: kind, direction: export.direction, bias: export.bias).problem(width: model.width) {
            throw WorkbenchError.failed("\(path): concept \(printable(name)) cannot be imported: \(problem)")
        }
        guard Limits.isPreprocessingID(export.preprocessing, patch: model.patchSize) else {
            throw WorkbenchError.failed("\(path): preprocessing \(printable(String(export.preprocessing.prefix(80)))) is not one cdam makes (e.g. pil-bicubic-224x224: sides multiples of the patch size \(model.patchSize), up to \(Limits.maxSide))")
        }
        guard export.examples.count <= 1_000_000, export.background.count <= 10_000 else {
            throw WorkbenchError.failed("\(path): too many examples or too long a background name")
        }
        return export
    }
}
