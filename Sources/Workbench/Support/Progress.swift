/// How far a long use case has come, for a progress line on a terminal.
public struct LibraryProgress: Sendable, Equatable {
    /// What is being done ("embedding", "hashing", ...).
    public var phase: String
    public var done: Int
    public var total: Int
    public var failed: Int

    public init(phase: String, done: Int, total: Int, failed: Int = 0) {
        self.phase = phase; self.done = done; self.total = total; self.failed = failed
    }
}

/// One input that could not be processed, as INTERFACE.md's `errors` entries.
public struct FileFailure: Codable, Sendable, Equatable {
    public var image: String
    public var error: String

    public init(image: String, error: String) { self.image = image; self.error = error }

    /// A failure with the error's own description.
    public init(image: String, error: Error) {
        self.init(image: image, error: "\(error)")
    }

    /// A failure whose message begins with the file's path (INTERFACE.md's rule), whatever the error said.
    static func of(_ url: URL, _ error: Error) -> FileFailure {
        let text = "\(error)".split(separator: "\n").joined(separator: " ")
        return FileFailure(image: url.path, error: text.hasPrefix(url.path) ? text : "\(url.path): \(text)")
    }
}

import Foundation
