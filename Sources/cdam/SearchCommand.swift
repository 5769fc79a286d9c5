import ArgumentParser

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
