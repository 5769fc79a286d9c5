import Foundation
import Workbench

/// A progress line on stderr, redrawn in place, shown only when stderr is a terminal (INTERFACE.md).
final class ProgressLine {
    private let enabled = stderrIsTerminal
    private let label: String
    private let start = Date()
    private var shown = false

    init(_ label: String = "") { self.label = label }

    /// Redraws the line for a use case's progress event.
    func update(_ progress: LibraryProgress) {
        let failed = progress.failed > 0 ? ", \(progress.failed) failed" : ""
        draw("\(progress.phase) \(progress.done)/\(progress.total)\(failed)")
    }

    /// Redraws the line as "label done/total (rate/s)".
    func update(_ done: Int, _ total: Int) {
        let elapsed = Date().timeIntervalSince(start)
        draw(String(format: "%@ %d/%d (%.1f/s)", label, done, total, elapsed > 0 ? Double(done) / elapsed : 0))
        if done >= total { finish() }
    }

    /// Ends the line so later output starts on a fresh one.
    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }

    private func draw(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
        shown = true
    }
}
