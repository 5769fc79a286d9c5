import ArgumentParser

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "(not yet built)")
    func run() async throws { throw ExitCode(1) }
}
