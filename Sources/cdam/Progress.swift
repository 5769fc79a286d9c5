import Foundation
import Workbench

/// Progress on stderr, with rate and time left. On a terminal one line is redrawn in place; otherwise
/// (a log, CI, a pipe) a plain line is written at most every `interval` seconds once work has run that
/// long, so short runs print nothing and long ones show they are alive. Never on stdout (INTERFACE.md).
final class ProgressLine {
    private let terminal = stderrIsTerminal
    private let interval: TimeInterval
    private let start = Date()
    private var lastPlain = Date()
    private var shown = false

    init(interval: TimeInterval = 5) {
        // CDAM_PROGRESS: 0 turns progress off; a number of seconds sets the plain lines' interval.
        switch ProcessInfo.processInfo.environment["CDAM_PROGRESS"].flatMap(Double.init) {
        case .some(let seconds) where seconds <= 0: self.interval = .infinity
        case .some(let seconds): self.interval = seconds
        case .none: self.interval = interval
        }
    }

    /// Shows a use case's progress event: "phase done/total (rate/s, time left)"; the line ends when all is done.
    func update(_ progress: LibraryProgress) {
        let failed = progress.failed > 0 ? ", \(progress.failed) failed" : ""
        show(progress.phase, progress.done, progress.total, suffix: failed)
        if progress.done >= progress.total { finish() }
    }

    /// Ends the line so later output starts on a fresh one.
    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }

    private func show(_ phase: String, _ done: Int, _ total: Int, suffix: String) {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text = "\(phase) \(done)/\(total)\(suffix)"
        if done > 0, elapsed > 0.5 {
            text += String(format: " (%.1f/s", rate)
            if done < total, rate > 0 { text += ", " + ProgressLine.duration(Double(total - done) / rate) + " left" }
            text += ")"
        }
        if terminal {
            guard interval.isFinite else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            shown = true
        } else if elapsed >= interval, Date().timeIntervalSince(lastPlain) >= interval, done < total {
            lastPlain = Date()
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    /// "42 s", "3 min 05 s", "1 h 12 min".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }
}
