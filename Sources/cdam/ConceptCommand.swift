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
            Kinds: mean (the paper's: the examples' mean CLS embedding), cosine, and, against a background (--background COLLECTION and/or --negatives DIR): contrast ("examples and not negatives": c_A - c_B, B the negatives), centred, probe, whitened.

            Quality: coherence (mean pairwise cosine of the examples), each example's leave-one-out rank among the background (rebuilt without it, how many background images outscore it), the leave-one-out AUC, and a significance test: the AUC of --random-concepts random concepts of as many background images (p = the share that did as well; its floor is 1/(R+1)). A one-line verdict sums it up: usable, weak (not distinguishable from random concepts), inconsistent (named examples rank low when left out), untested or unjudged.

            A background collection is unlabelled: it may hold images of the concept, which a discriminative kind is then fitted against. Near-duplicates of examples are left out; --exclude-similar K also leaves out the K images most like the examples, and a warning says when images of the collection look more like the concept than your weakest example.

            Examples:
              cdam concept define dog --examples photos/dogs --kind probe --background street --exclude-similar 20
              cdam concept define cat-not-dog --kind contrast --examples cats/ --negatives dogs/
              cdam concept define fruit --examples fruit/ --replace --json
              cdam concept define dog --examples dogs/ --kind centred --negatives not-dogs/ --layer auto

            --layer L defines the concept on the CLS of block L (the network truncated after it; its CDAM maps are taken at the tokens entering block L's attention); --layer auto measures the last three blocks and keeps the best by leave-one-out AUC. A collection used as --background must be indexed at the same block (`cdam index DIR --collection C --layer L`).
            """)

        @Argument(help: ArgumentHelp("The concept's name.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("Example images: a folder, file or glob (repeatable).", valueName: "dir"))
        var examples: [String] = []
        @Option(name: .long, help: ArgumentHelp("Negative images: a folder, file or glob (repeatable); they join the background.", valueName: "dir"))
        var negatives: [String] = []
        @Option(name: .long, help: ArgumentHelp("mean | cosine | contrast | centred | probe | whitened.", valueName: "kind"))
        var kind: Target.Kind = .mean
        @Option(name: .long, help: ArgumentHelp("A stored collection to use as background.", valueName: "collection"))
        var background: String?
        @Option(name: .long, help: ArgumentHelp("A one-line description.", valueName: "text"))
        var description = ""
        @Option(name: .long, help: ArgumentHelp("Random concepts of the significance test.", valueName: "r"))
        var randomConcepts = 50
        @Option(name: .long, help: ArgumentHelp("Leave the K background images most like the examples out of the background (unlabelled examples of the concept).", valueName: "k"))
        var excludeSimilar = 0
        @Flag(name: .long, help: "Redefine the concept when one of this name already exists for the model.")
        var replace = false
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let definition = ConceptDefinition(name: name, description: description, kind: kind,
                                                   examples: examples, negatives: negatives, background: background,
                                                   randomConcepts: randomConcepts, excludeSimilar: excludeSimilar)
                let progress = ProgressLine()
                let summary = try homeOptions.session().define(definition, input: try preprocess.settings(modelOptions),
                                                               chooseLayer: preprocess.layer == "auto", replace: replace,
                                                               progress: progress.update)
                progress.finish()
                if output.json { try printJSON(summary) } else { printSummary(summary) }
                for failure in summary.errors ?? [] { printError(failure.error) }
                if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every stored concept (of --model only, when given).", discussion: "Examples:\n  cdam concept list\n  cdam concept list --json")
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.concepts(model: modelOptions.model) }) { concepts in
                if concepts.isEmpty { print("no concepts yet (define one with `cdam concept define NAME --examples DIR`)"); return }
                for c in concepts {
                    let auc = c.quality?.auc.map { String(format: "  AUC %.3f", $0) } ?? ""
                    print("\(c.name)\t\(c.kind)\t\(c.model)\t\(c.examples) examples\tbackground \(c.background)\(auc)\t\(c.description)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A stored concept: definition, quality and examples.", discussion: "Examples:\n  cdam concept show dog\n  cdam concept show dog --json")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.concept(name, model: modelOptions.model) }) { details in
                printSummary(details.summary)
                print(String(format: "  |direction| %.4g, bias %.4g, preprocessing ", details.directionNorm, details.bias) + details.summary.preprocessing)
                if let file = details.definition?.file { print("  from \(file)") }
                print("  defined \(details.summary.createdAt), updated \(details.summary.updatedAt)")
                for example in details.examples { print("  \(example.role)\t\(example.path ?? "(no path)")\t\(example.sha256.prefix(12))") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a stored concept.", discussion: "Examples:\n  cdam concept remove dog")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.removeConcept(name, model: modelOptions.model) }) { removed in
                print("removed concept '\(removed.name)' (\(removed.model))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a concept as a self-describing JSON file (model sha256, kind, direction, quality, provenance).",
            discussion: "Examples:\n  cdam concept export dog --out dog.concept.json\n  cdam concept export dog > dog.json")
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("The file to write (default: stdout).", valueName: "file")) var out: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions

        func run() async throws {
            try await runReportingErrors {
                let file = out.map { URL(fileURLWithPath: $0) }
                let export = try homeOptions.session().exportConcept(name, model: modelOptions.model, to: file)
                guard let file else { return try printJSON(export) }
                printError("wrote \(file.path)")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a concept file written by `concept export`; refuses one made with another model.",
            discussion: "Examples:\n  cdam concept import dog.concept.json\n  cdam concept import dog.concept.json --name dog-v2\n  cdam concept import dog.concept.json --replace")
        @Argument(help: ArgumentHelp("The concept file.", valueName: "file")) var file: String
        @Option(name: .long, help: ArgumentHelp("Store it under another name.", valueName: "name")) var name: String?
        @Flag(name: .long, help: "Overwrite a concept of the same name and model.") var replace = false
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let summary = try homeOptions.session().importConcept(URL(fileURLWithPath: file), input: try preprocess.settings(modelOptions),
                                                                      rename: name, replace: replace)
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
                let progress = ProgressLine()
                let report = try homeOptions.session().sync(URL(fileURLWithPath: directory), input: try preprocess.settings(modelOptions),
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
            abstract: "Judge a stored concept again: verdict, leave-one-out ranks, AUC, significance, and held-out positives.",
            discussion: """
            Uses the stored example embeddings; ranks them against the concept's stored negatives, or against a collection with --background. The concept itself is not changed.

            --layer auto also measures the concept's definition (its example and negative files, its background collection, which must be indexed at each block) again at the last three blocks by leave-one-out AUC, and says which block `concept define --layer auto` would choose and why; the stored concept is not changed.

            Leave-one-out figures cannot see images of the concept hidden in an unlabelled background. Give held-out positives (images of the concept that were not examples) with --positives DIR: the stored concept then scores them against the background, and the AUC and precision@10 on them are the figures to trust.

            Examples:
              cdam concept evaluate dog
              cdam concept evaluate dog --background imagenet --positives more-dogs/
              cdam concept evaluate dog --positives more-dogs/ --json
              cdam concept evaluate dog --layer auto
            """)
        @Argument(help: ArgumentHelp("The concept.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("Rank against this collection instead of the stored negatives.", valueName: "collection"))
        var background: String?
        @Option(help: ArgumentHelp("Held-out images of the concept (folder, file or glob; repeatable).", valueName: "dir"))
        var positives: [String] = []
        @Option(name: .customLong("random-concepts"), help: ArgumentHelp("Random concepts of the significance test.", valueName: "r"))
        var randomConcepts = 50
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var preprocess: PreprocessOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let progress = ProgressLine()
                let result = try homeOptions.session().evaluate(name, model: modelOptions.model, background: background,
                                                                randomConcepts: randomConcepts, positives: positives,
                                                                input: try preprocess.settings(modelOptions),
                                                                chooseLayer: preprocess.layer == "auto", progress: progress.update)
                progress.finish()
                for failure in result.errors ?? [] { printError(failure.error) }
                if output.json { try printJSON(result) } else { printEvaluation(result) }
                if !(result.errors ?? []).isEmpty { throw ExitCode(3) }
            }
        }
    }
}

/// The human-readable lines of `concept evaluate`.
func printEvaluation(_ result: ConceptEvaluation) {
    print("concept '\(result.concept)' (\(result.kind), model \(result.model)) against \(result.background):")
    print("  verdict: \(result.verdict.text)")
    print("  " + result.quality.summary)
    if let ranks = result.quality.leaveOneOutRanks {
        let shown = ranks.enumerated().prefix(12).map { i, r in "\(i < result.exampleNames.count ? result.exampleNames[i] : "example \(i + 1)") \(r)" }
        print("  leave-one-out ranks: " + shown.joined(separator: ", ") + (ranks.count > 12 ? ", ..." : ""))
    }
    for note in result.quality.notes { print("  note: \(note)") }
    if let h = result.heldOut {
        print(String(format: "  held-out positives: %d against %d background images: AUC %.3f, precision@10 %.2f (chance %.2f)",
                     h.positives, h.backgroundCount, h.auc, h.precisionAt10, h.chancePrecision))
        let shown = h.ranks.prefix(12).map { "\($0.image) \($0.rank)" }
        print("  their ranks among the background: " + shown.joined(separator: ", ") + (h.ranks.count > 12 ? ", ..." : ""))
    }
    if let choice = result.layerChoice {
        for c in choice.candidates {
            print("  block \(c.block): " + (c.auc.map { String(format: "leave-one-out AUC %.3f", $0) } ?? "not measured (\(c.problem ?? "no background"))"))
        }
        print("  layer: \(choice.reason)")
    }
    for warning in result.warnings ?? [] { print("  warning: \(warning)") }
}

/// The human-readable lines of a concept summary: what it is, its verdict, its figures with the examples
/// named, and warnings.
func printSummary(_ s: ConceptSummary) {
    let status = s.status.map { "\($0) " } ?? ""
    let background = s.background == "none" ? "no background" : "background \(s.background) (\(s.backgroundImages) images)"
    let block = s.block.map { ", block \($0)" } ?? ""
    print("\(status)concept '\(s.name)' (\(s.kind), model \(s.model)\(block)): \(s.examples) examples, \(background)\(s.description.isEmpty ? "" : " - \(s.description)")")
    if let choice = s.layerChoice { print("  layer: \(choice.reason)") }
    if let verdict = s.verdict { print("  verdict: \(verdict.text)") }
    guard let q = s.quality else { return }
    var parts: [String] = []
    if let c = q.coherence { parts.append(String(format: "coherence %.3f", c)) }
    if let auc = q.auc { parts.append(String(format: "leave-one-out AUC %.3f", auc)) }
    if let p = q.pDescription {
        let spread = q.randomAUCMean.map { m in String(format: ", random concepts' AUC %.3f ± %.3f", m, q.randomAUCStd ?? 0) } ?? ""
        parts.append(p + spread)
    }
    if !parts.isEmpty { print("  " + parts.joined(separator: ", ")) }
    if let ranks = q.leaveOneOutRanks, let n = q.backgroundCount {
        let names = s.exampleNames ?? []
        let shown = ranks.enumerated().prefix(12).map { i, r in "\(i < names.count ? names[i] : "example \(i + 1)") \(r)" }
        print("  leave-one-out rank of each example among \(n) background images (1 = above all): "
              + shown.joined(separator: ", ") + (ranks.count > 12 ? ", ... (\(ranks.count - 12) more; --json lists all)" : ""))
    }
    for note in q.notes { print("  note: \(note)") }
    for warning in s.warnings ?? [] { print("  warning: \(warning)") }
}
