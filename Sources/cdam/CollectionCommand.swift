import ArgumentParser

struct CollectionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "collection", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
