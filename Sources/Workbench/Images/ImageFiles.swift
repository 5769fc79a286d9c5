import Foundation
import Imaging
import ViT
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
        sniffFormat(head).flatMap { decodableFormats.contains($0) ? $0 : nil }
    }

    /// The formats cdam decodes (Imaging's sniffer names more, to say what an unsupported file is).
    public static let decodableFormats: Set<String> = ["jpeg", "png", "webp"]

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
        try search(directory).files
    }

    /// What a folder search found: the image files, and every entry it could not take, with why.
    public struct Search: Sendable {
        public var files: [URL]
        /// Entries not processed: unreadable folders, broken symlinks, symlink loops, FIFOs and devices,
        /// names that are not UTF-8. (Hidden entries and files that are not images are left out quietly.)
        public var skipped: [FileFailure]
    }

    /// Image files under `directory`, recursively: symlinked folders and files are followed (each real folder
    /// is visited once, so a symlink loop ends), hidden entries are skipped, and every other entry that cannot
    /// be processed is reported in `skipped`. Sorted by path.
    /// - Throws: `WorkbenchError.failed` naming the folder when it does not exist or cannot be read.
    public static func search(_ directory: URL) throws -> Search {
        var st = stat()
        guard stat(directory.path, &st) == 0 else {
            if lstat(directory.path, &st) == 0 { throw WorkbenchError.failed("\(directory.path): a symlink to a missing file or folder") }
            throw WorkbenchError.failed("\(directory.path): no such file or folder")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            return Search(files: isCandidate(directory) ? [directory.standardizedFileURL] : [], skipped: [])
        }
        var out = Search(files: [], skipped: [])
        var visited = Set<String>()
        guard let root = opendir(directory.path) else {
            throw WorkbenchError.failed("\(directory.path): cannot read the folder (\(String(cString: strerror(errno))))")
        }
        closedir(root)
        walk(directory.standardizedFileURL.path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), visited: &visited, into: &out)
        out.files.sort { $0.path < $1.path }
        return out
    }

    private static func walk(_ path: String, device: UInt64, inode: UInt64, visited: inout Set<String>, into out: inout Search) {
        guard visited.insert("\(device):\(inode)").inserted else { return }
        guard let dir = opendir(path) else {
            out.skipped.append(FileFailure(image: path, error: "\(path): cannot read the folder (\(String(cString: strerror(errno)))); skipped"))
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let raw = withUnsafeBytes(of: entry.pointee.d_name) { bytes -> [UInt8] in Array(bytes.prefix(while: { $0 != 0 })) }
            guard let name = String(validating: raw, as: UTF8.self) else {
                let shown = raw.map { (32..<127).contains($0) && $0 != 92 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
                out.skipped.append(FileFailure(image: path + "/" + shown, error: "\(path)/\(shown): the file name is not UTF-8; rename it to process it"))
                continue
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        closedir(dir)
        for name in names.sorted() {
            let child = path == "/" ? "/" + name : path + "/" + name
            var st = stat()
            guard stat(child, &st) == 0 else {
                let why = errno == ELOOP ? "a symlink loop" : "a broken symlink or unreadable entry (\(String(cString: strerror(errno))))"
                out.skipped.append(FileFailure(image: child, error: "\(child): \(why); skipped"))
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                walk(child, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), visited: &visited, into: &out)
            case S_IFREG:
                let url = URL(fileURLWithPath: child)
                if isCandidate(url) { out.files.append(url) }
            default:
                if extensions.contains(URL(fileURLWithPath: child).pathExtension.lowercased()) {
                    out.skipped.append(FileFailure(image: child, error: "\(child): not a regular file (a FIFO, socket or device); skipped"))
                }
            }
        }
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
        ModelFetch.sha256Hex(data)
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
