import ArgumentParser

struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
