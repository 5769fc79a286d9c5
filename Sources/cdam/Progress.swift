import Foundation

/// A one-line progress counter on stderr, shown only when stderr is a terminal (INTERFACE.md).
final class ProgressCounter {
    let label: String
    let enabled: Bool
    let start = Date()

    init(_ label: String, enabled: Bool = stderrIsTerminal) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let line = String(format: "\r%@ %d/%d (%.1f/s)", label, done, total, rate)
        FileHandle.standardError.write(Data(line.utf8))
        if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
