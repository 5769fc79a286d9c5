import ArgumentParser

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
