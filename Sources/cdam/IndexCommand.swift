import ArgumentParser
import Foundation
import Store
import Workbench

/// `cdam index DIR`: embed a folder once into a named collection.
struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Embed every image under a folder (recursively) into a collection, skipping content already stored.",
        discussion: """
        Images are named by the sha256 of their bytes: a file already embedded for this model and preprocessing is only recorded at its path. Batches are committed one transaction each, so an interrupted run loses at most one batch and rerunning finishes the job. Bad files are listed at the end (exit code 3).

        Examples:
          cdam index ~/Pictures/holiday --collection holiday
          cdam index photos/ --collection mine --json
        """)

    @Argument(help: ArgumentHelp("The folder to index.", valueName: "dir"))
    var directory: String

    @Option(name: .long, help: ArgumentHelp("Collection name (default: the folder's name).", valueName: "name"))
    var collection: String?

    @Option(name: .long, help: ArgumentHelp("Images embedded and committed together.", valueName: "n"))
    var batchSize = 8

    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var preprocess: PreprocessOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size \(batchSize): give a positive number") }
    }

    func run() async throws {
        try await runReportingErrors {
            let progress = ProgressLine()
            let report = try homeOptions.session().index(URL(fileURLWithPath: directory), collection: collection,
                                                         input: try preprocess.settings(modelOptions), batchSize: batchSize,
                                                         progress: progress.update)
            progress.finish()
            if output.json {
                try printJSON(report)
            } else {
                print("indexed \(report.directory) into collection '\(report.collection)' with \(report.model): \(report.found) images, \(report.embedded) embedded, \(report.alreadyStored) already stored, \(report.errors.count) failed")
            }
            for failure in report.errors { printError(failure.error) }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }
}
