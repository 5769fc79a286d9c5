import ArgumentParser

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
