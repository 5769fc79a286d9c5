import Concepts
import Foundation
import Store

/// What `head train` is asked to do.
public struct HeadTrainingRequest: Sendable {
    /// The head's name (one line).
    public var name: String
    /// The classes, in order: a label and the folders (files, globs) of its images.
    public var classes: [(label: String, sources: [String])]
    /// Inverse L2 strength (scikit-learn's C): objective 0.5 |W|^2 + C sum CE.
    public var C: Double
    /// Folds of the cross-validation run after training (0: none).
    public var folds: Int
    /// Relative paths are read from here.
    public var base: URL

    public init(name: String, classes: [(label: String, sources: [String])], C: Double = 1, folds: Int = 5,
                base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.name = name; self.classes = classes; self.C = C; self.folds = folds; self.base = base
    }

    /// The classes of a folder with one sub-folder per class (sorted by name; folders without images are skipped
    /// by the caller's check).
    /// - Throws: `WorkbenchError.failed` when the folder cannot be read or has fewer than 2 sub-folders.
    public static func classes(fromLabelsFolder dir: URL) throws -> [(label: String, sources: [String])] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw WorkbenchError.failed("\(dir.path): no such folder; --labels takes a folder with one sub-folder of images per class")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            throw WorkbenchError.failed("\(dir.path): cannot list the folder (\(error.localizedDescription))")
        }
        let folders = names.filter { !$0.hasPrefix(".") }.sorted().filter {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path, isDirectory: &d) && d.boolValue
        }
        guard folders.count >= 2 else {
            throw WorkbenchError.failed("\(dir.path): \(folders.count) sub-folder\(folders.count == 1 ? "" : "s"); --labels needs one sub-folder per class, at least 2")
        }
        return folders.map { ($0, [dir.appendingPathComponent($0).path]) }
    }
}

/// The hyper-parameters and fit figures stored with a trained head (its `hyperparameters` JSON).
public struct HeadTraining: Codable, Sendable, Equatable {
    public var C: Double
    public var objective: Double?
    public var iterations: Int?
    public var converged: Bool?
    /// Seconds the fit took (embedding excluded).
    public var fitSeconds: Double?
    /// Per class: the folders given.
    public var sources: [String: [String]]?
    /// An imported head: the file and tensor names it came from.
    public var importedFrom: String?
    public var tensors: [String]?
}

/// A head as `head list`, `train` and `show` print it.
public struct HeadSummary: Codable, Sendable {
    public var name: String
    public var model: String
    public var source: String
    public var labels: [String]
    public var width: Int
    public var preprocessing: String
    /// Training images per class (empty for an imported head).
    public var imagesPerClass: [Int]
    public var training: HeadTraining?
    public var evaluation: HeadEvaluation?
    public var createdAt: String
    public var updatedAt: String
    /// Status of the command that produced it ("trained", "imported").
    public var status: String?
    /// Files that could not be read or embedded.
    public var errors: [FileFailure]?
    public var warnings: [String]?
}

/// Finds the stored head `name`: of model `modelName` when given, else of the one model that has it.
/// - Throws: `WorkbenchError.failed` when it does not exist (naming a close name, or the models that have it),
///   `.usage` when several models have it and none was chosen; `StoreError`.
public func resolveHead(_ name: String, modelName: String?, store: Store) throws -> (head: HeadRecord, model: ModelRecord) {
    let all = try store.heads(modelID: nil)
    let matches = all.filter { $0.name == name }
    let hint = "see `cdam head list`, or train one with `cdam head train \(name) --labels DIR`"
    if let modelName {
        if let model = try store.model(named: modelName), let head = try store.head(named: name, modelID: model.id) {
            return (head, model)
        }
        let others = try store.modelsWithHead(named: name)
        if !others.isEmpty {
            throw WorkbenchError.failed("head '\(name)' was trained for model \(others.joined(separator: ", ")), not \(modelName); run with --model \(others[0]), or train it again for \(modelName)")
        }
        throw WorkbenchError.failed("head '\(name)' does not exist\(didYouMean(name, among: all.map(\.name))) (\(hint))")
    }
    switch matches.count {
    case 0:
        throw WorkbenchError.failed("head '\(name)' does not exist\(didYouMean(name, among: all.map(\.name))) (\(hint))")
    case 1:
        guard let model = try store.model(id: matches[0].modelID) else {
            throw WorkbenchError.failed("head '\(name)': its model is missing from \(store.path)")
        }
        return (matches[0], model)
    default:
        let names = try matches.compactMap { try store.model(id: $0.modelID)?.name }.sorted()
        throw WorkbenchError.usage("head '\(name)' exists for models \(names.joined(separator: ", ")): choose one with --model")
    }
}

/// Trains a linear head on labelled folders: embeds the images (reusing stored embeddings by content hash),
/// fits a multinomial logistic regression (`SoftmaxRegression`), cross-validates it (`folds`) and stores the
/// head with its training images.
/// - Throws: `WorkbenchError.usage` for a bad request (fewer than 2 classes, a repeated label, C <= 0, an
///   existing head without `replace`), `.failed` when a class has no readable image or one image is given two
///   labels; `StoreError` on database failures. Nothing is stored when it throws.
public func trainHead(_ request: HeadTrainingRequest, embedder: ImageEmbedder, store: Store, replace: Bool = false,
                      batchSize: Int = 8, progress: ((LibraryProgress) -> Void)? = nil) throws -> HeadSummary {
    let name = request.name
    guard !name.isEmpty, !name.contains(where: { $0.isNewline }), name != "all" else {
        throw WorkbenchError.usage("a head needs a one-line, non-empty name other than 'all'")
    }
    guard request.classes.count >= 2 else {
        throw WorkbenchError.usage("head '\(name)': \(request.classes.count) class\(request.classes.count == 1 ? "" : "es") given; give at least 2 with --class LABEL=DIR, or --labels DIR")
    }
    var seenLabels = Set<String>()
    for c in request.classes {
        guard !c.label.isEmpty else { throw WorkbenchError.usage("head '\(name)': a class has an empty label; write --class LABEL=DIR") }
        guard seenLabels.insert(c.label).inserted else {
            throw WorkbenchError.usage("head '\(name)': class '\(c.label)' is given twice; give each class once (several folders: --class \(c.label)=DIR1 --class ... is not merged, use a glob)")
        }
    }
    guard request.C > 0, request.C.isFinite else {
        throw WorkbenchError.usage("head '\(name)': --C \(request.C): give a positive number (larger: weaker L2 penalty)")
    }
    if !replace, let model = try store.model(named: embedder.modelName), try store.head(named: name, modelID: model.id) != nil {
        throw WorkbenchError.usage("head '\(name)' already exists for model \(model.name); add --replace to train it again, or choose another name")
    }
    // Every folder is listed before anything is embedded, so a typo fails fast.
    var files: [[URL]] = []
    for c in request.classes {
        let found = try unique(c.sources.flatMap { try ImageFiles.expand($0, relativeTo: request.base) })
        guard !found.isEmpty else {
            throw WorkbenchError.failed("head '\(name)': class '\(c.label)': no image files in \(c.sources.joined(separator: ", "))")
        }
        files.append(found)
    }
    let model = try store.register(embedder)
    var failures: [FileFailure] = []
    var labelOf: [String: (index: Int, path: String)] = [:]
    var order: [String] = []
    var embeddings: [String: [Float]] = [:]
    for (k, classFiles) in files.enumerated() {
        let embedded = try ensureEmbedded(classFiles, embedder: embedder, store: store, model: model, collection: nil,
                                          batchSize: batchSize, keepEmbeddings: true, progress: progress)
        failures += embedded.failures
        for (url, sha) in embedded.sha256ByFile where embedded.embeddings[sha] != nil {
            if let other = labelOf[sha] {
                if other.index != k {
                    throw WorkbenchError.failed("\(url.path): the same image (sha256 \(sha.prefix(12))…) is in class '\(request.classes[other.index].label)' (\(other.path)) and class '\(request.classes[k].label)'; give each image one label")
                }
                continue
            }
            labelOf[sha] = (k, url.path)
            order.append(sha)
            embeddings[sha] = embedded.embeddings[sha]
        }
    }
    let counts = (0..<request.classes.count).map { k in order.filter { labelOf[$0]!.index == k }.count }
    if let empty = counts.firstIndex(of: 0) {
        let first = failures.first.map { "; first error: \($0.image): \($0.error)" } ?? ""
        throw WorkbenchError.failed("head '\(name)': no image of class '\(request.classes[empty].label)' could be embedded\(first)")
    }
    let width = model.width
    var rows = [Double](); rows.reserveCapacity(order.count * width)
    for sha in order {
        let e = embeddings[sha]!
        guard e.count == width, e.allSatisfy(\.isFinite) else {
            throw WorkbenchError.failed("\(labelOf[sha]!.path): its stored embedding is not \(width) finite numbers; re-embed it")
        }
        rows += e.map(Double.init)
    }
    let labels = order.map { labelOf[$0]!.index }
    let names = request.classes.map(\.label)
    progress?(LibraryProgress(phase: "training", done: 0, total: 1))
    let clock = ContinuousClock()
    let start = clock.now
    let fit = SoftmaxRegression.fit(rows: rows, width: width, labels: labels, classes: names.count, options: .init(C: request.C))
    let elapsed = clock.now - start
    var warnings: [String] = []
    if !fit.converged { warnings.append("the optimizer stopped after \(fit.iterations) iterations before its tolerance; the head is usable but not exactly optimal") }
    var evaluation: HeadEvaluation? = nil
    if request.folds >= 2 {
        if (counts.min() ?? 0) >= 2 {
            progress?(LibraryProgress(phase: "cross-validating", done: 0, total: 1))
            evaluation = HeadEvaluation.crossValidate(rows: rows, width: width, labels: labels, names: names, folds: request.folds,
                                                      options: .init(C: request.C))
        } else {
            warnings.append("no cross-validation: a class has a single image (give at least 2 per class)")
        }
    }
    if let small = counts.enumerated().filter({ $0.element < 5 }).first {
        warnings.append("class '\(names[small.offset])' has only \(small.element) image\(small.element == 1 ? "" : "s"); a head needs more examples per class to generalise")
    }
    let training = HeadTraining(C: request.C, objective: fit.objective, iterations: fit.iterations, converged: fit.converged,
                                fitSeconds: seconds(elapsed),
                                sources: Dictionary(uniqueKeysWithValues: request.classes.map { ($0.label, $0.sources) }))
    let record = HeadRecord(name: name, modelID: model.id, preprocessingID: embedder.preprocessingID, labels: names,
                            weights: fit.weights.map(Float.init), bias: fit.bias.map(Float.init), source: "trained",
                            hyperparameters: try jsonString(training), evaluation: try evaluation.map(jsonString) ?? "{}")
    let saved = try store.saveHead(record, images: order.map { HeadImage(sha256: $0, classIndex: labelOf[$0]!.index, path: labelOf[$0]!.path) })
    var summary = try summarizeHead(saved, model: model, store: store)
    summary.status = "trained"
    summary.errors = failures.isEmpty ? nil : failures
    summary.warnings = warnings.isEmpty ? nil : warnings
    return summary
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

/// The summary of a stored head.
func summarizeHead(_ head: HeadRecord, model: ModelRecord, store: Store) throws -> HeadSummary {
    let images = try store.headImages(headID: head.id)
    let perClass = (0..<head.classes).map { k in images.filter { $0.classIndex == k }.count }
    let decoder = JSONDecoder()
    return HeadSummary(name: head.name, model: model.name, source: head.source, labels: head.labels, width: head.width,
                       preprocessing: head.preprocessingID, imagesPerClass: images.isEmpty ? [] : perClass,
                       training: try? decoder.decode(HeadTraining.self, from: Data(head.hyperparameters.utf8)),
                       evaluation: try? decoder.decode(HeadEvaluation.self, from: Data(head.evaluation.utf8)),
                       createdAt: head.createdAt, updatedAt: head.updatedAt)
}

/// Every stored head (of model `modelName` only, when given), by name.
/// - Throws: `WorkbenchError.failed` for an unknown model; `StoreError`.
public func listHeads(modelName: String? = nil, store: Store) throws -> [HeadSummary] {
    var modelID: Int64? = nil
    if let modelName {
        guard let model = try store.model(named: modelName) else { return [] }
        modelID = model.id
    }
    return try store.heads(modelID: modelID).map { head in
        guard let model = try store.model(id: head.modelID) else { throw WorkbenchError.failed("head '\(head.name)': its model is missing") }
        return try summarizeHead(head, model: model, store: store)
    }
}

/// A stored head in full: its summary and its training images.
public struct HeadDetails: Codable, Sendable {
    public var summary: HeadSummary
    public var images: [HeadImage]
    /// |w_k| per class and the bias: a quick look at the head's scale.
    public var weightNorms: [Float]
    public var bias: [Float]
}

/// The head `name` in full.
/// - Throws: as `resolveHead`.
public func showHead(_ name: String, modelName: String? = nil, store: Store) throws -> HeadDetails {
    let (head, model) = try resolveHead(name, modelName: modelName, store: store)
    let d = head.width
    return HeadDetails(summary: try summarizeHead(head, model: model, store: store), images: try store.headImages(headID: head.id),
                       weightNorms: (0..<head.classes).map { k in head.weights[(k * d)..<((k + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot() },
                       bias: head.bias)
}

/// Removes the head `name` (its images and embeddings stay cached).
/// - Throws: as `resolveHead`.
public func removeHead(_ name: String, modelName: String? = nil, store: Store) throws -> HeadSummary {
    let (head, model) = try resolveHead(name, modelName: modelName, store: store)
    let summary = try summarizeHead(head, model: model, store: store)
    try store.removeHead(named: head.name, modelID: model.id)
    return summary
}

/// Evaluates a head and records the result: k-fold cross-validation on its training images (retraining
/// with the stored C), or, with `labelsFolder`, the stored head itself on a held-out folder with one
/// sub-folder per class (named as the head's classes).
/// - Throws: `WorkbenchError.failed` when the head has no stored training images (an imported head: give a
///   labels folder), when their embeddings are gone, or a held-out folder has no class of the head; `StoreError`.
public func evaluateHead(_ name: String, modelName: String? = nil, folds: Int = 5, labelsFolder: URL? = nil,
                         embedder: ImageEmbedder? = nil, store: Store, batchSize: Int = 8,
                         progress: ((LibraryProgress) -> Void)? = nil) throws -> HeadEvaluation {
    let (head, model) = try resolveHead(name, modelName: modelName, store: store)
    let d = head.width
    let evaluation: HeadEvaluation
    if let labelsFolder {
        guard let embedder else { throw WorkbenchError.failed("head '\(name)': a held-out folder needs the model to embed it") }
        guard embedder.modelName == model.name else {
            throw WorkbenchError.failed("head '\(name)' belongs to model \(model.name), not \(embedder.modelName); run with --model \(model.name)")
        }
        let classes = try HeadTrainingRequest.classes(fromLabelsFolder: labelsFolder)
        let unknown = classes.map(\.label).filter { !head.labels.contains($0) }
        guard unknown.count < classes.count else {
            throw WorkbenchError.failed("\(labelsFolder.path): none of its sub-folders (\(classes.map(\.label).joined(separator: ", "))) is a class of head '\(name)' (\(head.labels.joined(separator: ", ")))")
        }
        let regression = SoftmaxRegression(weights: head.weights.map(Double.init), bias: head.bias.map(Double.init),
                                           classes: head.classes, width: d, objective: 0, iterations: 0, converged: true)
        var truth: [Int] = [], predicted: [Int] = []
        for c in classes {
            guard let k = head.labels.firstIndex(of: c.label) else { continue }
            let files = try unique(c.sources.flatMap { try ImageFiles.expand($0, relativeTo: labelsFolder) })
            let embedded = try ensureEmbedded(files, embedder: embedder, store: store, model: model, collection: nil,
                                              batchSize: batchSize, keepEmbeddings: true, progress: progress)
            for sha in orderedUnique(embedded.sha256ByFile.map(\.sha256)) {
                guard let e = embedded.embeddings[sha], e.count == d else { continue }
                let logits = regression.logits(e)
                truth.append(k)
                predicted.append(logits.indices.max { logits[$0] < logits[$1] }!)
            }
        }
        evaluation = HeadEvaluation.summary(truth: truth, predicted: predicted, names: head.labels, folds: 0)
    } else {
        let images = try store.headImages(headID: head.id)
        guard !images.isEmpty else {
            throw WorkbenchError.failed("head '\(name)' was imported and has no training images; evaluate it on labelled images with --labels DIR")
        }
        let vectors = try store.embeddings(for: images.map(\.sha256), modelID: model.id, preprocessingID: head.preprocessingID)
        var rows = [Double](), labels = [Int]()
        for image in images {
            guard let e = vectors[image.sha256], e.count == d else { continue }
            rows += e.map(Double.init)
            labels.append(image.classIndex)
        }
        let counts = (0..<head.classes).map { k in labels.filter { $0 == k }.count }
        guard (counts.min() ?? 0) >= 2 else {
            throw WorkbenchError.failed("head '\(name)': a class has fewer than 2 training images with stored embeddings; train it again with more images")
        }
        guard folds >= 2 else { throw WorkbenchError.usage("--folds \(folds): give 2 or more") }
        let training = try? JSONDecoder().decode(HeadTraining.self, from: Data(head.hyperparameters.utf8))
        evaluation = HeadEvaluation.crossValidate(rows: rows, width: d, labels: labels, names: head.labels, folds: folds,
                                                  options: .init(C: training?.C ?? 1))
    }
    try store.setHeadEvaluation(headID: head.id, evaluation: try jsonString(evaluation))
    return evaluation
}
