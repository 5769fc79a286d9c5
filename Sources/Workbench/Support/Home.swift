import Foundation

/// The workbench's home: where models and the database live (INTERFACE.md, "Where things live").
public struct Home: Sendable {
    /// The home folder itself.
    public let root: URL

    /// `root/models`, one folder per installed model.
    public var models: URL { root.appendingPathComponent("models", isDirectory: true) }
    /// The default database, `root/cdam.sqlite`.
    public var database: URL { root.appendingPathComponent("cdam.sqlite") }

    public init(root: URL) { self.root = root }

    /// Resolves the home from `--home`, then `$CDAM_HOME`, then `$XDG_DATA_HOME/cdam`, then `~/.local/share/cdam`.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Home {
        if let explicit, !explicit.isEmpty { return Home(root: URL(fileURLWithPath: explicit)) }
        if let home = environment["CDAM_HOME"], !home.isEmpty { return Home(root: URL(fileURLWithPath: home)) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return Home(root: URL(fileURLWithPath: xdg).appendingPathComponent("cdam"))
        }
        let user = environment["HOME"] ?? NSHomeDirectory()
        return Home(root: URL(fileURLWithPath: user).appendingPathComponent(".local/share/cdam"))
    }

    /// Creates the home and its models folder if they do not exist.
    /// - Throws: a `WorkbenchError` naming the folder when it cannot be created.
    public func create() throws {
        do {
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        } catch {
            throw WorkbenchError.failed("\(root.path): cannot create the cdam home (\(error.localizedDescription)); set CDAM_HOME or --home to a writable folder")
        }
    }
}
