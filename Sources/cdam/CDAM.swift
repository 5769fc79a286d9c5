import ArgumentParser
import Workbench
import Foundation

/// The `cdam` command: class-discriminative attention maps and concept probing for ViTs.
@main
struct CDAM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdam",
        abstract: "Concept-probing workbench for Vision Transformers (class-discriminative attention maps).",
        discussion: """
        Typical session:
          cdam model fetch                             # install the model
          cdam concept define dog --examples dogs/     # a concept from examples
          cdam query scene.jpg --concept dog --out m/  # where is "dog"?
          cdam index photos/ --collection mine         # embed a folder once
          cdam search --concept dog --collection mine  # best matches
          cdam report dog --collection mine --out r/   # a page to share

        Home: $CDAM_HOME or --home (default ~/.local/share/cdam) holds models/ and cdam.sqlite. Exit codes: 0 done, 1 failed, 2 usage error, 3 some inputs failed.
        """,
        version: cdamVersion,
        subcommands: [
            ModelCommand.self, EmbedCommand.self, QueryCommand.self, ConceptCommand.self,
            IndexCommand.self, CollectionCommand.self, SearchCommand.self, ReportCommand.self, HeadCommand.self,
            ServeCommand.self, BenchCommand.self,
        ]
    )

    /// Runs the command; usage errors exit with 2 as INTERFACE.md says (swift-argument-parser's default is 64).
    static func main() async {
        if let hint = subcommandHint(Array(CommandLine.arguments.dropFirst())) {
            printError("error: \(hint)")
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// The version `cdam --version` prints.
let cdamVersion = "0.4.0"

/// "unknown subcommand 'qurey'; did you mean 'query'?" when the words before the first option do not
/// name a subcommand but one is close; nil otherwise (argument-parser then reports what it finds).
func subcommandHint(_ arguments: [String], command: ParsableCommand.Type = CDAM.self, path: [String] = ["cdam"]) -> String? {
    let subcommands = command.configuration.subcommands
    guard let word = arguments.first, !word.hasPrefix("-"), !subcommands.isEmpty else { return nil }
    let names = subcommands.map { $0.configuration.commandName ?? $0._commandName }
    if let index = names.firstIndex(of: word) {
        return subcommandHint(Array(arguments.dropFirst()), command: subcommands[index], path: path + [word])
    }
    guard let close = closestName(to: word, among: names) else { return nil }
    return "unknown subcommand '\(word)' of `\(path.joined(separator: " "))`; did you mean '\(close)'? (see `\(path.joined(separator: " ")) --help`)"
}
