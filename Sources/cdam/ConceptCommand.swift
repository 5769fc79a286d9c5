import ArgumentParser
import Concepts
import Foundation
import Store
import Workbench

/// `cdam concept`: concepts from example images, stored in the database.
struct ConceptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concept",
        abstract: "Define, list, show, remove, export, import and sync concepts.",
        subcommands: [Define.self, List.self, Show.self, Remove.self, Export.self, Import.self, Sync.self, Evaluate.self])

    struct Define: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Define (or redefine) a concept from example images and report how good it is.",
            discussion: """
            Kinds: mean (the paper's: the examples' mean CLS embedding), cosine, and, against a background (--background COLLECTION and/or --negatives DIR): contrast, centred, probe, whitened. Quality: coherence, leave-one-out ranks among the background, and a significance test against --random-concepts random concepts (AUC and p-value).
            """)

        @Argument(help: ArgumentHelp("The concept's name.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("Example images: a folder, file or glob (repeatable).", valueName: "dir"))
        var examples: [String] = []
        @Option(name: .long, help: ArgumentHelp("Negative images: a folder, file or glob (repeatable); they join the background.", valueName: "dir"))
        var negatives: [String] = []
        @Option(name: .long, help: ArgumentHelp("mean | cosine | contrast | centred | probe | whitened.", valueName: "kind"))
        var kind = "mean"
        @Option(name: .long, help: ArgumentHelp("A stored collection to use as background.", valueName: "collection"))
        var background: String?
        @Option(name: .long, help: ArgumentHelp("A one-line description.", valueName: "text"))
        var description = ""
        @Option(name: .long, help: ArgumentHelp("Random concepts of the significance test.", valueName: "r"))
        var randomConcepts = 50
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard !examples.isEmpty else { throw ValidationError("give example images with --examples DIR") }
            guard let k = Target.Kind(rawValue: kind), k != .classLogit else {
                throw ValidationError("--kind \(kind): use mean, cosine, contrast, centred, probe or whitened")
            }
            if ConceptDefinition.kindsNeedingBackground.contains(k), negatives.isEmpty, background == nil {
                throw ValidationError("--kind \(kind) needs a background: add --background COLLECTION or --negatives DIR (or use --kind mean)")
            }
            guard randomConcepts >= 0 else { throw ValidationError("--random-concepts \(randomConcepts): give 0 or more") }
        }

        func run() async throws {
            try await runReportingErrors {
                let store = try Store.open(at: homeOptions.databaseURL)
                let embedder = try commandEmbedder(homeOptions, modelOptions, preprocess)
                let definition = ConceptDefinition(name: name, description: description, kind: Target.Kind(rawValue: kind)!,
                                                   examples: examples, negatives: negatives, background: background,
                                                   randomConcepts: randomConcepts)
                let progress = ProgressLine()
                let summary = try defineConcept(definition, embedder: embedder, store: store, progress: progress.update)
                progress.finish()
                if output.json { try printJSON(summary) } else { printSummary(summary) }
                for failure in summary.errors ?? [] { printError(failure.error) }
                if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every stored concept (of --model only, when given).")
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let concepts = try listConcepts(modelName: modelOptions.model, store: try Store.open(at: homeOptions.databaseURL))
                if output.json { return try printJSON(concepts) }
                if concepts.isEmpty { print("no concepts yet (define one with `cdam concept define NAME --examples DIR`)"); return }
                for c in concepts {
                    let auc = c.quality?.auc.map { String(format: "  AUC %.3f", $0) } ?? ""
                    print("\(c.name)\t\(c.kind)\t\(c.model)\t\(c.examples) examples\tbackground \(c.background)\(auc)\t\(c.description)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A stored concept: definition, quality and examples.")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let details = try showConcept(name, modelName: modelOptions.model, store: try Store.open(at: homeOptions.databaseURL))
                if output.json { return try printJSON(details) }
                printSummary(details.summary)
                print(String(format: "  |direction| %.4g, bias %.4g, preprocessing ", details.directionNorm, details.bias) + details.summary.preprocessing)
                if let file = details.definition?.file { print("  from \(file)") }
                print("  defined \(details.summary.createdAt), updated \(details.summary.updatedAt)")
                for example in details.examples { print("  \(example.role)\t\(example.path ?? "(no path)")\t\(example.sha256.prefix(12))") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a stored concept.")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let removed = try removeConcept(name, modelName: modelOptions.model, store: try Store.open(at: homeOptions.databaseURL))
                if output.json { return try printJSON(removed) }
                print("removed concept '\(removed.name)' (\(removed.model))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a concept as a self-describing JSON file (model sha256, kind, direction, quality, provenance).")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("The file to write (default: stdout).", valueName: "file")) var out: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions

        func run() async throws {
            try await runReportingErrors {
                let export = try exportConcept(name, modelName: modelOptions.model, store: try Store.open(at: homeOptions.databaseURL))
                guard let out else { return try printJSON(export) }
                let url = URL(fileURLWithPath: out)
                try writeConceptExport(export, to: url)
                printError("wrote \(url.path)")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a concept file written by `concept export`; refuses one made with another model.")
        @Argument(help: ArgumentHelp("The concept file.", valueName: "file")) var file: String
        @Option(name: .long, help: ArgumentHelp("Store it under another name.", valueName: "name")) var name: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let store = try Store.open(at: homeOptions.databaseURL)
                let embedder = try commandEmbedder(homeOptions, modelOptions, preprocess)
                let model = ModelInfo(name: embedder.modelName, weightsSHA256: embedder.modelSHA256, width: embedder.width,
                                      patchSize: embedder.patchSize, preprocessing: embedder.preprocessingDescription)
                let summary = try importConcept(from: URL(fileURLWithPath: file), model: model, rename: name, store: store)
                if output.json { return try printJSON(summary) }
                printSummary(summary)
            }
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load concept files (DIR/*.concept) into the database; unchanged ones are skipped.",
            discussion: """
            A concept file has one `key: value` per line: name, description, kind, examples (repeatable), negatives (repeatable), background (a collection), random-concepts. Paths are relative to the file and may be globs, e.g. `examples: /usr/share/doc/opencv-doc/examples/data/{apple,orange}.jpg`.
            """)
        @Argument(help: ArgumentHelp("The folder of concept files.", valueName: "dir")) var directory = "concepts"
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let store = try Store.open(at: homeOptions.databaseURL)
                let embedder = try commandEmbedder(homeOptions, modelOptions, preprocess)
                let progress = ProgressLine()
                let report = try syncConcepts(directory: URL(fileURLWithPath: directory), embedder: embedder, store: store,
                                              progress: progress.update)
                progress.finish()
                if output.json {
                    try printJSON(report)
                } else {
                    for summary in report.concepts { printSummary(summary) }
                }
                for failure in report.errors { printError(failure.error) }
                if report.exitCode != 0 { throw ExitCode(report.exitCode) }
            }
        }
    }
}

extension ConceptCommand {
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Judge a stored concept again: coherence, leave-one-out ranks, AUC and significance.",
            discussion: "Uses the stored example embeddings; ranks them against the concept's stored negatives, or against a collection with --background. The concept itself is not changed.")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("Rank against this collection instead of the stored negatives.", valueName: "collection"))
        var background: String?
        @Option(name: .customLong("random-concepts"), help: ArgumentHelp("Random concepts of the significance test.", valueName: "r"))
        var randomConcepts = 50
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let store = try Store.open(at: homeOptions.databaseURL)
                let result = try evaluateConcept(name, modelName: modelOptions.model, collection: background,
                                                 randomConcepts: randomConcepts, store: store)
                if output.json { return try printJSON(result) }
                print("concept '\(result.concept)' (\(result.kind), model \(result.model)) against \(result.background):")
                print("  " + result.quality.summary)
                for note in result.quality.notes { print("  note: \(note)") }
            }
        }
    }
}

/// The human-readable lines of a concept summary.
func printSummary(_ s: ConceptSummary) {
    let status = s.status.map { "\($0) " } ?? ""
    let background = s.background == "none" ? "no background" : "background \(s.background) (\(s.backgroundImages) images)"
    print("\(status)concept '\(s.name)' (\(s.kind), model \(s.model)): \(s.examples) examples, \(background)\(s.description.isEmpty ? "" : " - \(s.description)")")
    guard let q = s.quality else { return }
    var parts: [String] = []
    if let c = q.coherence { parts.append(String(format: "coherence %.3f", c)) }
    if let ranks = q.leaveOneOutRanks, let n = q.backgroundCount {
        parts.append("leave-one-out ranks \(ranks.prefix(12).map(String.init).joined(separator: ","))\(ranks.count > 12 ? ",..." : "") of \(n + 1)")
    }
    if let auc = q.auc { parts.append(String(format: "AUC %.3f", auc)) }
    if let p = q.pValue, let r = q.randomConcepts {
        let spread = q.randomAUCMean.map { m in String(format: "; random AUC %.3f ± %.3f", m, q.randomAUCStd ?? 0) } ?? ""
        parts.append(String(format: "p = %.3f (%d random concepts", p, r) + spread + ")")
    }
    if !parts.isEmpty { print("  " + parts.joined(separator: ", ")) }
    for note in q.notes { print("  note: \(note)") }
}
