import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding image files and naming them by content.
public enum ImageFiles {
    /// Extensions taken as images without looking inside (a bad one then fails loudly, not silently).
    public static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "png", "webp"]

    /// The format the first bytes announce ("jpeg", "png", "webp"), or nil.
    public static func sniff(_ head: Data) -> String? {
        let b = [UInt8](head.prefix(12))
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return "jpeg" }
        if b.count >= 8, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return "png" }
        if b.count >= 12, b[0..<4] == [0x52, 0x49, 0x46, 0x46], b[8..<12] == [0x57, 0x45, 0x42, 0x50] { return "webp" }
        return nil
    }

    /// Whether `url` is an image file to process: an image extension, or image content under another name.
    public static func isCandidate(_ url: URL) -> Bool {
        if extensions.contains(url.pathExtension.lowercased()) { return true }
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return sniff((try? handle.read(upToCount: 12)) ?? Data()) != nil
    }

    /// Image files under `directory`, recursively, hidden entries skipped, sorted by path.
    /// - Throws: `WorkbenchError.failed` naming the folder when it does not exist or cannot be read.
    public static func find(in directory: URL) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw WorkbenchError.failed("\(directory.path): no such file or folder")
        }
        guard isDirectory.boolValue else {
            return isCandidate(directory) ? [directory.standardizedFileURL] : []
        }
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw WorkbenchError.failed("\(directory.path): cannot read the folder")
        }
        var files: [URL] = []
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            if isCandidate(url) { files.append(url.standardizedFileURL) }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Expands a source (a folder, a file, or a glob such as `data/{apple,orange}*.jpg`) into image
    /// files; a relative source is taken relative to `base`.
    /// - Throws: `WorkbenchError.failed` when the source names nothing.
    public static func expand(_ source: String, relativeTo base: URL) throws -> [URL] {
        let expanded = source.hasPrefix("~/") ? NSString(string: source).expandingTildeInPath : source
        let absolute = expanded.hasPrefix("/") ? expanded : base.appendingPathComponent(expanded).path
        if absolute.contains(where: { "*?[{".contains($0) }) {
            let matches = globPaths(absolute)
            if matches.isEmpty { throw WorkbenchError.failed("\(absolute): the pattern matches no file") }
            return try matches.flatMap { try find(in: URL(fileURLWithPath: $0)) }
        }
        return try find(in: URL(fileURLWithPath: absolute))
    }

    /// The C library's glob with brace expansion, sorted.
    static func globPaths(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, Int32(GLOB_BRACE | GLOB_TILDE), nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }

    /// Lowercase hex sha256 of bytes.
    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads a file and names it by content.
    /// - Throws: `WorkbenchError.failed` naming the file when it cannot be read.
    public static func hashFile(_ url: URL) throws -> (sha256: String, byteSize: Int) {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw WorkbenchError.failed("\(url.path): cannot read the file (\(error.localizedDescription))")
        }
        return (sha256(data), data.count)
    }
}
