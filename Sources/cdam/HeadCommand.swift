import ArgumentParser
import Concepts
import Foundation
import Store
import Workbench

/// `cdam head`: linear classifiers on the model's CLS embeddings, for class CDAM (`query --head`).
struct HeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head",
        abstract: "Train, evaluate, list, show, remove, export and import linear heads (class CDAM).",
        discussion: """
        A head is a linear classifier on the frozen model's CLS embedding: logit_k = w_k . e + b_k. Its class logits are the targets of class CDAM, the paper's first variant: `cdam query IMAGE --head NAME --class LABEL`.
        """,
        subcommands: [Train.self, Eval.self, List.self, Show.self, Remove.self, Export.self, Import.self])

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a head on labelled folders: multinomial logistic regression (softmax, L2) on the images' embeddings.",
            discussion: """
            Give the classes as --class LABEL=DIR (repeatable; DIR is a folder, file or glob) or --labels DIR with one sub-folder per class (the sub-folder's name is the label). Images are embedded once and reused by content hash.

            The fit minimises 0.5 |W|^2 + C * sum_i cross-entropy_i (scikit-learn's LogisticRegression convention, the bias unpenalised) by L-BFGS; smaller --C means a stronger penalty. Afterwards --folds K stratified cross-validation reports held-out accuracy, per-class precision and recall and the confusion matrix (0: skip).

            Examples:
              cdam head train pets --class dog=photos/dogs --class cat=photos/cats
              cdam head train animals --labels imagenet-groups/ --C 0.5 --json
              cdam head train pets --labels pets/ --replace
            """)
        @Argument(help: ArgumentHelp("The head's name.", valueName: "name")) var name: String
        @Option(name: .customLong("class"), help: ArgumentHelp("A class: LABEL=DIR (repeatable).", valueName: "label=dir"))
        var classes: [String] = []
        @Option(name: .long, help: ArgumentHelp("A folder with one sub-folder of images per class.", valueName: "dir"))
        var labels: String?
        @Option(name: .customLong("C"), help: ArgumentHelp("Inverse L2 strength (larger: weaker penalty).", valueName: "c"))
        var c: Double = 1
        @Option(name: .long, help: ArgumentHelp("Folds of the cross-validation after training (0: none).", valueName: "k"))
        var folds = 5
        @Flag(name: .long, help: "Train again when a head of this name exists for the model.") var replace = false
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard classes.isEmpty != (labels == nil) else {
                throw ValidationError(classes.isEmpty ? "give the classes: --class LABEL=DIR (at least twice) or --labels DIR" : "give either --class LABEL=DIR or --labels DIR, not both")
            }
            for value in classes {
                let parts = value.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ValidationError("--class \(value): write LABEL=DIR, e.g. --class dog=photos/dogs")
                }
            }
            guard c > 0, c.isFinite else { throw ValidationError("--C \(c): give a positive number") }
            guard folds == 0 || folds >= 2 else { throw ValidationError("--folds \(folds): give 0 (none) or 2 or more") }
        }

        func run() async throws {
            try await runReportingErrors {
                let pairs: [(label: String, sources: [String])]
                if let labels {
                    pairs = try HeadTrainingRequest.classes(fromLabelsFolder: URL(fileURLWithPath: labels))
                } else {
                    pairs = classes.map { v in
                        let parts = v.split(separator: "=", maxSplits: 1).map(String.init)
                        return (parts[0], [parts[1]])
                    }
                }
                let progress = ProgressLine()
                let summary = try homeOptions.session().trainHead(HeadTrainingRequest(name: name, classes: pairs, C: c, folds: folds),
                                                                  input: try preprocess.settings(modelOptions), replace: replace,
                                                                  progress: progress.update)
                progress.finish()
                if output.json { try printJSON(summary) } else { printHead(summary) }
                for failure in summary.errors ?? [] { printError(failure.error) }
                if !(summary.errors ?? []).isEmpty { throw ExitCode(3) }
            }
        }
    }

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a head: k-fold cross-validation on its training images, or the head itself on a held-out labelled folder.",
            discussion: """
            Without --labels: stratified k-fold cross-validation (each training image is predicted by a head retrained, with the same C, without it). With --labels DIR (one sub-folder per class, named as the head's classes): the stored head predicts those images. Reports accuracy, the majority-class baseline, per-class precision and recall, and the confusion matrix (rows: true class, columns: predicted). The result is stored with the head (`head show`).

            Examples:
              cdam head eval pets
              cdam head eval pets --folds 10 --json
              cdam head eval imagenet-head --labels held-out/
            """)
        @Argument(help: ArgumentHelp("The head.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("Folds of the cross-validation.", valueName: "k")) var folds = 5
        @Option(name: .long, help: ArgumentHelp("A held-out folder with one sub-folder per class.", valueName: "dir")) var labels: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard folds >= 2 else { throw ValidationError("--folds \(folds): give 2 or more") }
        }

        func run() async throws {
            try await runReportingErrors {
                let progress = ProgressLine()
                let evaluation = try homeOptions.session().evaluateHead(name, folds: folds, labels: labels.map { URL(fileURLWithPath: $0) },
                                                                        input: try preprocess.settings(modelOptions), progress: progress.update)
                progress.finish()
                if output.json { return try printJSON(evaluation) }
                printEvaluation(evaluation, head: name)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every stored head (of --model only, when given).", discussion: "Examples:\n  cdam head list\n  cdam head list --json")
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.heads(model: modelOptions.model) }) { heads in
                if heads.isEmpty { print("no heads yet (train one with `cdam head train NAME --labels DIR`)"); return }
                for h in heads {
                    let accuracy = h.evaluation.map { String(format: "  accuracy %.3f", $0.accuracy) } ?? ""
                    print("\(h.name)\t\(h.model)\t\(h.source)\t\(h.labels.count) classes\t\(h.imagesPerClass.reduce(0, +)) images\(accuracy)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A stored head: classes, training, evaluation and training images.", discussion: "Examples:\n  cdam head show pets\n  cdam head show pets --json")
        @Argument(help: ArgumentHelp("The head.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.head(name, model: modelOptions.model) }) { details in
                printHead(details.summary)
                for (k, label) in details.summary.labels.enumerated() {
                    print(String(format: "  %@: |w| %.4g, bias %.4g", label, details.weightNorms[k], details.bias[k]))
                }
                print("  trained \(details.summary.createdAt), updated \(details.summary.updatedAt), preprocessing \(details.summary.preprocessing)")
                for image in details.images { print("  \(details.summary.labels[image.classIndex])\t\(image.path)\t\(image.sha256.prefix(12))") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a stored head (its images' embeddings stay cached).", discussion: "Examples:\n  cdam head remove pets")
        @Argument(help: ArgumentHelp("The head.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.removeHead(name, model: modelOptions.model) }) { removed in
                print("removed head '\(removed.name)' (\(removed.model))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a head as JSON (labels, weights, training, evaluation, images) or as safetensors (weight, bias).",
            discussion: """
            The format follows the file's extension: .safetensors writes tensors `weight` [classes, width] and `bias` [classes] (float32, PyTorch nn.Linear's layout) with the labels, model and preprocessing in the metadata; anything else writes cdam's JSON document. Both import back with `cdam head import`.

            Examples:
              cdam head export pets --out pets.head.json
              cdam head export pets --out pets.safetensors
            """)
        @Argument(help: ArgumentHelp("The head.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("The file to write (.safetensors or JSON).", valueName: "file")) var out: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions

        func run() async throws {
            try await runReportingErrors {
                let url = URL(fileURLWithPath: out)
                try homeOptions.session().exportHead(name, model: modelOptions.model, to: url)
                printError("wrote \(url.path)")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a head: a JSON file of `head export`, or a linear classifier from a safetensors file.",
            discussion: """
            A safetensors file must hold a float32 (or F16/BF16) weight of shape [classes, width] (PyTorch nn.Linear's layout; width is the model's embedding width, 384 for the default model) and a bias of shape [classes]. Without --weight-tensor the first pair present of: weight/bias, classifier.weight/classifier.bias, head.weight/head.bias, fc.weight/fc.bias, linear.weight/linear.bias is used. The class names come from --labels-file (one per line, in row order), else from the file's metadata key `labels` (a JSON array), else class0, class1, ... The head must act on the same embedding as the model's CLS output (after its final LayerNorm).

            Examples:
              cdam head import pets.head.json
              cdam head import classifier.safetensors --name imagenet --labels-file imagenet-classes.txt
              cdam head import model.safetensors --name mine --weight-tensor heads.cls.weight --bias-tensor heads.cls.bias
            """)
        @Argument(help: ArgumentHelp("The head file (.json or .safetensors).", valueName: "file")) var file: String
        @Option(name: .long, help: ArgumentHelp("Store it under this name (needed for a safetensors file without one).", valueName: "name")) var name: String?
        @Option(name: .long, help: ArgumentHelp("The weight tensor [classes, width] in a safetensors file.", valueName: "tensor")) var weightTensor: String?
        @Option(name: .long, help: ArgumentHelp("The bias tensor [classes] (default: the weight's name with 'bias' for 'weight').", valueName: "tensor")) var biasTensor: String?
        @Option(name: .long, help: ArgumentHelp("Class names, one per line, in the weight's row order.", valueName: "file")) var labelsFile: String?
        @Flag(name: .long, help: "Overwrite a head of the same name and model.") var replace = false
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let options = HeadImportOptions(name: name, weightTensor: weightTensor, biasTensor: biasTensor,
                                                labelsFile: labelsFile.map { URL(fileURLWithPath: $0) }, replace: replace)
                let summary = try homeOptions.session().importHead(URL(fileURLWithPath: file), input: try preprocess.settings(modelOptions),
                                                                   options: options)
                if output.json { return try printJSON(summary) }
                printHead(summary)
                for warning in summary.warnings ?? [] { printError("warning: \(warning)") }
            }
        }
    }
}

/// The head's one-paragraph summary.
func printHead(_ h: HeadSummary) {
    let status = h.status.map { "\($0) " } ?? ""
    let images = h.imagesPerClass.isEmpty ? "" : " on \(h.imagesPerClass.reduce(0, +)) images"
    print("\(status)head '\(h.name)' (\(h.model), \(h.source)\(images)): \(h.labels.count) classes")
    if !h.imagesPerClass.isEmpty {
        print("  " + zip(h.labels, h.imagesPerClass).map { "\($0) \($1)" }.joined(separator: ", "))
    }
    if let t = h.training, t.importedFrom == nil {
        var line = String(format: "  C %g", t.C)
        if let o = t.objective, let i = t.iterations { line += String(format: ", objective %.6g after %d L-BFGS iterations", o, i) }
        if let s = t.fitSeconds { line += String(format: ", fit %.3f s", s) }
        print(line)
    } else if let from = h.training?.importedFrom {
        print("  imported from \(from)")
    }
    if let e = h.evaluation { printEvaluation(e, head: nil) }
    for warning in h.warnings ?? [] { printError("warning: \(warning)") }
}

/// Accuracy, per-class figures and the confusion matrix.
func printEvaluation(_ e: HeadEvaluation, head: String?) {
    let how = e.folds >= 2 ? "\(e.folds)-fold cross-validated" : "held-out"
    print(String(format: "  %@%@ accuracy %.3f on %d images (majority class %.3f)", head.map { "head '\($0)': " } ?? "", how,
                 e.accuracy, e.count, e.majorityBaseline))
    let width = max(8, (e.labels.map(\.count).max() ?? 0) + 1)
    func pad(_ s: String) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
    print("  " + pad("class") + "precision  recall  support")
    for c in e.perClass {
        let precision = c.precision.map { String(format: "%.3f", $0) } ?? "-"
        print("  " + pad(c.label) + String(repeating: " ", count: max(0, 9 - precision.count)) + precision + String(format: "  %6.3f  %7d", c.recall, c.support))
    }
    print("  confusion (rows: true, columns: predicted, in the order above):")
    for (label, row) in zip(e.labels, e.confusion) {
        print("  " + pad(label) + row.map { String(format: "%5d", $0) }.joined())
    }
}
