import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
