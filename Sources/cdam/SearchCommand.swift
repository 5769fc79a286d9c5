import ArgumentParser
import Foundation
import Store
import Workbench

/// `cdam search`: rank stored images by a concept's score.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Rank stored images by a concept's score (one matrix product over the stored embeddings).",
        discussion: "Searches the embeddings made with the concept's model and preprocessing; no model is loaded.")

    @Option(name: .long, help: ArgumentHelp("The stored concept to rank by.", valueName: "name"))
    var concept: String

    @Option(name: .long, help: ArgumentHelp("Only this collection's images (default: every stored image).", valueName: "name"))
    var collection: String?

    @Option(name: .long, help: ArgumentHelp("How many results.", valueName: "k"))
    var top = 10

    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top \(top): give a positive number of results") }
    }

    func run() async throws {
        try await runReportingErrors {
            let store = try Store.open(at: homeOptions.databaseURL)
            let found = try searchConcept(concept, modelName: modelOptions.model, collection: collection, top: top, store: store)
            if output.json { return try printJSON(found) }
            if found.results.isEmpty { print("no stored images to search"); return }
            print("concept '\(found.concept)' (\(found.model)), top \(found.results.count)\(collection.map { " of collection '\($0)'" } ?? ""):")
            for hit in found.results {
                print(String(format: "%4d  %10.4f  ", hit.rank, hit.score) + hit.image)
            }
        }
    }
}
