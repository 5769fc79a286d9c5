import ArgumentParser

struct ConceptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "concept", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
