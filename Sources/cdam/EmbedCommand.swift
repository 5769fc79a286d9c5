import ArgumentParser
import Foundation
import Workbench

struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the CLS embeddings of images (files or folders).",
        discussion: """
        Each image is decoded by content (JPEG, PNG, WebP), resized to --size as Pillow's bicubic does, normalized with the ImageNet mean and std, and run through the model; the CLS embedding is the final LayerNorm of token 0. Bad files are reported one per line on stderr and the others still embedded (exit 3).

        Examples:
          cdam embed photo.jpg
          cdam embed photos/ --json > embeddings.json
          cdam embed photo.jpg --size 448 --crop
        """)

    @Argument(help: "Image files or folders (searched recursively).")
    var images: [String]

    @OptionGroup var preprocess: PreprocessOptions
    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let progress = ProgressLine()
            let report = try homeOptions.session().embed(images, input: try preprocess.settings(modelOptions), progress: progress.update)
            for e in report.errors { printError("\(e.error)") }
            if output.json {
                try printJSON(report)
            } else {
                for r in report.results {
                    let head = r.embedding.prefix(4).map { String(format: "%.4f", $0) }.joined(separator: ", ")
                    print("\(r.image)  \(r.size[1])x\(r.size[0])  sha256 \(r.sha256.prefix(12))  [\(head), ...] (\(r.embedding.count) numbers)")
                }
            }
            try exitForPartialFailure(failed: report.errors.count, total: report.results.count + report.errors.count)
        }
    }
}

/// Exit 1 when every input failed, 3 when some did (INTERFACE.md).
func exitForPartialFailure(failed: Int, total: Int) throws {
    guard failed > 0 else { return }
    throw ExitCode(failed == total ? 1 : 3)
}
