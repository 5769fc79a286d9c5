/// An error a use case reports to the user: one line, and the exit code it maps to (INTERFACE.md).
public enum WorkbenchError: Error, CustomStringConvertible, Sendable {
    /// Nothing useful was done (exit 1).
    case failed(String)
    /// The request itself was wrong: a bad option or combination (exit 2).
    case usage(String)

    public var description: String {
        switch self {
        case .failed(let message), .usage(let message): return message
        }
    }

    /// The process exit code for this error.
    public var exitCode: Int32 {
        switch self {
        case .failed: return 1
        case .usage: return 2
        }
    }
}
