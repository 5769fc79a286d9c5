import Foundation
import ViT

/// Where the real model and the reference fixtures are, for the tests that compare with PyTorch.
public enum Reference {
    /// The converted model: $CDAM_TEST_MODEL, else the default model under $CDAM_HOME or ~/.local/share/cdam.
    public static let modelDirectory: URL? = {
        let env = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let dir = env["CDAM_TEST_MODEL"] { candidates.append(dir) }
        if let home = env["CDAM_HOME"] { candidates.append(home + "/models/dinov2-small-imgfocus") }
        candidates.append(NSHomeDirectory() + "/.local/share/cdam/models/dinov2-small-imgfocus")
        return candidates.map { URL(fileURLWithPath: $0) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.safetensors").path) }
    }()

    /// Tests against the real model run when it is installed, and always in CI (where a missing model fails them).
    public static var available: Bool { modelDirectory != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    nonisolated(unsafe) static var loaded: VisionTransformer?
    static let lock = NSLock()

    /// The real model, loaded once per test process.
    public static func model() throws -> VisionTransformer {
        lock.lock(); defer { lock.unlock() }
        if let loaded { return loaded }
        guard let dir = modelDirectory else {
            throw ModelError.missingFile("dinov2-small-imgfocus (set CDAM_HOME or CDAM_TEST_MODEL; run `cdam model fetch`)")
        }
        let m = try VisionTransformer(directory: dir)
        loaded = m
        return m
    }

    /// A fixture file of a test target: Tests/<target>/Fixtures/<name>.
    public static func fixture(_ name: String, in target: String = "ViTTests") throws -> SafetensorsFile {
        let tests = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
        return try SafetensorsFile(url: tests.appendingPathComponent(target).appendingPathComponent("Fixtures").appendingPathComponent(name))
    }
}

/// The worst absolute difference between two tensors, and the larger tensor's largest magnitude.
public func worstDifference(_ a: [Float], _ b: [Float]) -> (worst: Float, scale: Float) {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var worst: Float = 0, scale: Float = 0
    for i in 0..<a.count {
        worst = max(worst, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return (worst, scale)
}
