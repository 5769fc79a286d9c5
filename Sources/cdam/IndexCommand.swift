import ArgumentParser

struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
