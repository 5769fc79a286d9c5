import Foundation

/// Runs the built `cdam` binary the way a user does, and captures what it prints.
struct CLI {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
        }
    }

    static let repo = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The binary `swift build` made (debug, or release when CDAM_BINARY says so).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["CDAM_BINARY"] { return URL(fileURLWithPath: path) }
        return repo.appendingPathComponent(".build/debug/cdam")
    }

    /// The home with the installed model: $CDAM_HOME, else ~/.local/share/cdam.
    static var modelHome: String {
        ProcessInfo.processInfo.environment["CDAM_HOME"] ?? NSHomeDirectory() + "/.local/share/cdam"
    }

    /// The home the tests run in: a fresh folder whose `models` links to the installed models, so tests
    /// never read or write the user's database (one left by another cdam version would fail them).
    static let testHome: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-test-home-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try? FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("models").path,
                                                    withDestinationPath: modelHome + "/models")
        return dir.path
    }()

    static var modelInstalled: Bool {
        FileManager.default.fileExists(atPath: modelHome + "/models/dinov2-small-imgfocus/model.safetensors")
            || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Photos Debian's opencv-doc installs (scripts/setup.sh installs it).
    static let photos = "/usr/share/doc/opencv-doc/examples/data"

    static func run(_ arguments: [String], home: String? = nil, environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["CDAM_HOME"] = home ?? testHome
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a large JSON document cannot block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.data
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Copies named photos into a new folder.
    static func folder(_ names: [String], in parent: URL, named: String) throws -> URL {
        let dir = parent.appendingPathComponent(named)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for n in names { try FileManager.default.copyItem(atPath: "\(photos)/\(n)", toPath: dir.appendingPathComponent(n).path) }
        return dir
    }
}

extension CLI {
    /// A fresh home whose `models` links to the installed models: a database of its own.
    static func freshHome() throws -> URL {
        let dir = try temporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("models").path,
                                                   withDestinationPath: modelHome + "/models")
        return dir
    }

    /// Runs a shell command line (bash), for set-up the Swift API cannot express (non-UTF-8 names, FIFOs, sqlite).
    @discardableResult
    static func shell(_ command: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", command]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

extension CLI {
    /// The fruit concept's folders many tests define from: three fruit photos, and nine photos that are not fruit.
    static func fruitAndOthers(in dir: URL) throws -> (fruit: URL, others: URL) {
        (try folder(["apple.jpg", "orange.jpg", "fruits.jpg"], in: dir, named: "fruit"),
         try folder(["baboon.jpg", "butterfly.jpg", "building.jpg", "home.jpg", "messi5.jpg", "board.jpg",
                     "leuvenA.jpg", "stuff.jpg", "squirrel_cls.jpg"], in: dir, named: "others"))
    }
}
