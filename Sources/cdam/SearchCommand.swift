import ArgumentParser
import Foundation
import Store
import Workbench

/// `cdam search`: rank stored images by a concept's score.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Rank stored images by a concept's score (one matrix product over the stored embeddings).",
        discussion: """
        Searches the embeddings made with the concept's model and preprocessing; no model is loaded. The concept's own examples are left out (they would top the list and say nothing about the concept); --include-examples keeps them, marked. Each hit's percentile is its score's standing among the searched images.

        Examples:
          cdam search --concept dog --collection holiday --top 20
          cdam search --concept dog --include-examples --json
        """)

    @Option(name: .long, help: ArgumentHelp("The stored concept to rank by.", valueName: "name"))
    var concept: String

    @Option(name: .long, help: ArgumentHelp("Only this collection's images (default: every stored image).", valueName: "name"))
    var collection: String?

    @Option(name: .long, help: ArgumentHelp("How many results.", valueName: "k"))
    var top = 10

    @Flag(name: .long, help: "Rank the concept's examples too (marked 'example').")
    var includeExamples = false

    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top \(top): give a positive number of results") }
    }

    func run() async throws {
        try await runReportingErrors {
            let found = try homeOptions.session().search(concept, model: modelOptions.model, collection: collection, top: top,
                                                         includeExamples: includeExamples)
            for warning in found.warnings ?? [] { printError("warning: \(warning)") }
            if output.json { return try printJSON(found) }
            if found.results.isEmpty { print("no stored images to search\(found.excludedExamples > 0 ? " but the concept's examples" : "")"); return }
            let left = found.excludedExamples > 0 ? " (\(found.excludedExamples) examples left out; --include-examples keeps them)" : ""
            print("concept '\(found.concept)' (\(found.model)), top \(found.results.count)\(collection.map { " of collection '\($0)'" } ?? "")\(left):")
            print("rank       score  percentile  image")
            for hit in found.results {
                let pct = hit.percentile.map { String(format: "%10.1f", $0) } ?? "         -"
                print(String(format: "%4d  %10.4f  ", hit.rank, hit.score) + pct + "  " + hit.image + (hit.example ? "  [example]" : ""))
            }
        }
    }
}
