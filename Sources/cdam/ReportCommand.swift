import ArgumentParser
import Foundation
import Store
import Workbench

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a concept report: a self-contained HTML page, report.json and scores.csv.",
        discussion: """
        For each concept: its definition and example thumbnails, its verdict and quality figures (coherence, leave-one-out ranks, significance against random concepts), the distribution of its scores over the collection, and the top images with their CDAM overlays and percentiles. The concept's own examples are left out of its best matches (--include-examples keeps them, marked); scores.csv ranks every image and marks examples. For the first concept's best images, the comparison maps (AM, rollout, RP, TAM; --maps adds Smooth and Integrated CDAM: scdam, icdam) with sparsity, deletion/insertion curves and correlation with TAM. With several concepts, a concept x image grid. The page inlines its images: it opens from disk and can be sent as one file.

        Example:
          cdam report fruit animal --collection samples --out report/
          cdam report fruit --collection samples --significance --out report/
          cdam report --head pets --class dog --class cat --collection samples --out report/
        """)

    @Argument(help: "Stored concept names.")
    var concepts: [String] = []

    @Option(help: ArgumentHelp("A stored linear head: its classes (--class) are reported like concepts (class CDAM).", valueName: "name"))
    var head: String?

    @Option(name: .customLong("class"), help: ArgumentHelp("A class of --head (repeatable), or all (default).", valueName: "label"))
    var classNames: [String] = []

    @Option(help: ArgumentHelp("Rank this collection's images (default: every image stored for the model).", valueName: "name"))
    var collection: String?

    @Option(help: "Best images shown per concept.")
    var top: Int = 8

    @Option(help: "Images that also get every comparison map and the faithfulness figures (TAM costs one pass per patch).")
    var compare: Int = 2

    @Option(help: ArgumentHelp("Folder to write the report into.", valueName: "dir"))
    var out: String

    @Flag(help: "Show the concepts' own examples among their best matches too (marked).")
    var includeExamples = false

    @Option(help: ArgumentHelp("Maps of the --compare images, comma-separated: cdam, am, rollout, rp, tam, and on request scdam, icdam (about 16 passes each).", valueName: "list"))
    var maps = "cdam,am,rollout,rp,tam"

    @Flag(help: "Test each top image's CDAM map patch by patch against --random-concepts random concepts of the concept's kind (from its stored background; Benjamini-Hochberg at --fdr) and outline the significant patches.")
    var significance = false

    @Option(name: .customLong("random-concepts"), help: ArgumentHelp("R of --significance (the smallest p is 1/(R+1); keep R in the hundreds).", valueName: "r"))
    var randomConcepts = 200

    @Option(help: ArgumentHelp("False-discovery rate of --significance.", valueName: "q"))
    var fdr = 0.05

    @OptionGroup(title: "Smooth and Integrated CDAM (--maps ...,scdam,icdam)") var averaged: AveragedMapArguments

    @OptionGroup var render: RenderArguments
    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top \(top): give a positive number") }
        guard compare >= 0 else { throw ValidationError("--compare \(compare): give 0 or more") }
        guard fdr > 0, fdr < 1 else { throw ValidationError("--fdr \(fdr): give a false-discovery rate between 0 and 1 (0.05 is usual)") }
        guard !concepts.isEmpty || head != nil else { throw ValidationError("name at least one concept, or --head NAME") }
        guard classNames.isEmpty || head != nil else { throw ValidationError("--class needs --head NAME") }
    }

    func run() async throws {
        try await runReportingErrors {
            var options = ReportOptions(concepts: concepts, out: URL(fileURLWithPath: out))
            options.head = head
            options.classes = classNames
            options.collection = collection
            options.top = top
            options.compare = compare
            options.includeExamples = includeExamples
            options.maps = try MapKind.parseList(maps)
            options.averaged = averaged.settings
            options.render = try render.options()
            options.model = modelOptions.model
            if significance {
                options.significanceRandomConcepts = randomConcepts
                options.significanceQ = fdr
            }
            options.precision = try modelOptions.precisionChoice()
            let start = Date()
            let document = try homeOptions.session().report(options) { message in
                // Each step on its own line, with the time so far: few lines, also in logs.
                if !output.json || stderrIsTerminal { printError(String(format: "[%5.1f s] ", Date().timeIntervalSince(start)) + message) }
            }
            if output.json {
                try printJSON(document)
            } else {
                print("report: \(options.out.appendingPathComponent("index.html").path)")
                print("data:   \(options.out.appendingPathComponent("report.json").path), scores.csv")
            }
        }
    }
}
