import Foundation

/// Atomic writes that never destroy what they should not: a file is written to a temporary file beside its
/// target and renamed into place, but
/// - a symlink to a regular file is written through (its target is replaced, the link kept);
/// - a FIFO, a device, a socket or a directory at the path (or behind its symlink) is refused with a clear
///   error, never renamed over (as root, `--out /dev/full` used to replace the device node);
/// - a missing folder is created only when asked.
public enum SafeWrite {
    /// What is at a path, after following symlinks.
    enum Kind: Equatable { case missing, regular, directory, special(String) }

    static func kind(atPath path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFIFO: return .special("a FIFO")
        case S_IFCHR: return .special("a character device")
        case S_IFBLK: return .special("a block device")
        case S_IFSOCK: return .special("a socket")
        default: return .special("not a regular file")
        }
    }

    /// Whether `path` itself (not followed) is a symlink.
    static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    /// The path a write to `url` should replace: the final target of a symlink chain, or `url` itself.
    /// - Throws: `WorkbenchError.failed` when the path (or its symlink's target) is not a regular file.
    public static func destination(_ url: URL, what: String = "file") throws -> URL {
        let path = url.path
        switch kind(atPath: path) {
        case .directory:
            throw WorkbenchError.failed("\(path): is a folder, not a \(what); give a file path")
        case .special(let name):
            throw WorkbenchError.failed("\(path): is \(name), not a regular file; cdam writes only regular files (choose another path)")
        case .missing:
            // A dangling symlink: write where it points would create a file elsewhere; refuse.
            if isSymlink(path) {
                throw WorkbenchError.failed("\(path): is a symlink to a missing file; remove it or choose another path")
            }
            return url
        case .regular:
            return isSymlink(path) ? url.resolvingSymlinksInPath() : url
        }
    }

    /// Writes `data` to `url` atomically (temporary file + rename), following a symlink to a regular file.
    /// - Parameter createFolder: create missing parent folders (otherwise a missing folder is an error).
    /// - Throws: `WorkbenchError.failed` naming the path and what is wrong.
    public static func write(_ data: Data, to url: URL, what: String = "file", createFolder: Bool = false) throws {
        let target = try destination(url, what: what)
        let folder = target.deletingLastPathComponent()
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if !fm.fileExists(atPath: folder.path, isDirectory: &isDir) {
            guard createFolder else {
                throw WorkbenchError.failed("\(url.path): folder \(folder.path) does not exist; create it first")
            }
            do { try fm.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw WorkbenchError.failed("\(folder.path): cannot create the folder (\(reason(error)))")
            }
        } else if !isDir.boolValue {
            throw WorkbenchError.failed("\(url.path): \(folder.path) is not a folder")
        }
        let temp = folder.appendingPathComponent(".\(clippedName(target.lastPathComponent, limit: 180)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard fm.createFile(atPath: temp.path, contents: data, attributes: [.posixPermissions: 0o644]) else {
            throw WorkbenchError.failed("\(url.path): cannot write the \(what) (folder \(folder.path) not writable, or the disk is full)")
        }
        // Checked again just before the rename: the path may have changed while the data was written.
        if case .special(let name) = kind(atPath: target.path) {
            try? fm.removeItem(at: temp)
            throw WorkbenchError.failed("\(target.path): is \(name), not a regular file; cdam writes only regular files")
        }
        if rename(temp.path, target.path) != 0 {
            let message = String(cString: strerror(errno))
            try? fm.removeItem(at: temp)
            throw WorkbenchError.failed("\(url.path): cannot write the \(what) (\(message))")
        }
    }

    /// Replaces the folder `url` by the folder `staged` as a whole (the old one is removed after the swap).
    /// An existing folder is replaced only if it is empty or holds a previous report (`marker` inside).
    /// - Throws: `WorkbenchError.failed` when `url` is a file or a folder of something else.
    public static func swapFolder(_ staged: URL, into url: URL, marker: String) throws {
        let fm = FileManager.default
        var target = url
        if isSymlink(url.path) { target = url.resolvingSymlinksInPath() }
        switch kind(atPath: target.path) {
        case .missing:
            break
        case .directory:
            let contents = (try? fm.contentsOfDirectory(atPath: target.path)) ?? []
            guard contents.isEmpty || contents.contains(marker) else {
                throw WorkbenchError.failed("\(url.path): folder exists and is not a cdam report (no \(marker)); choose a new or empty folder")
            }
        case .regular, .special:
            throw WorkbenchError.failed("\(url.path): exists and is not a folder; choose a folder path for the report")
        }
        let old = target.deletingLastPathComponent().appendingPathComponent(".\(clippedName(target.lastPathComponent, limit: 180)).old-\(getpid())")
        let hadOld = kind(atPath: target.path) == .directory
        if hadOld {
            try? fm.removeItem(at: old)
            guard rename(target.path, old.path) == 0 else {
                throw WorkbenchError.failed("\(url.path): cannot replace the folder (\(String(cString: strerror(errno))))")
            }
        }
        guard rename(staged.path, target.path) == 0 else {
            let message = String(cString: strerror(errno))
            if hadOld { _ = rename(old.path, target.path) }
            throw WorkbenchError.failed("\(url.path): cannot move the new report into place (\(message))")
        }
        if hadOld { try? fm.removeItem(at: old) }
    }

    /// Checks before any work that `url` can take a report: missing, empty, or a previous report.
    /// - Throws: `WorkbenchError.failed` otherwise.
    public static func checkReportFolder(_ url: URL, marker: String = "report.json") throws {
        let target = isSymlink(url.path) ? url.resolvingSymlinksInPath() : url
        switch kind(atPath: target.path) {
        case .missing: return
        case .directory:
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: target.path)) ?? []
            guard contents.isEmpty || contents.contains(marker) else {
                throw WorkbenchError.failed("\(url.path): folder exists and is not a cdam report (no \(marker)); choose a new or empty folder")
            }
        case .regular, .special:
            throw WorkbenchError.failed("\(url.path): exists and is not a folder; choose a folder path for the report")
        }
    }

    /// A staging folder beside `url` (same file system, so the final rename is atomic).
    /// - Throws: `WorkbenchError.failed` when the parent folder cannot be created or written.
    public static func stagingFolder(for url: URL) throws -> URL {
        var target = url
        if isSymlink(url.path) { target = url.resolvingSymlinksInPath() }
        let parent = target.deletingLastPathComponent()
        let staged = parent.appendingPathComponent(".\(clippedName(target.lastPathComponent, limit: 180)).new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: staged, withIntermediateDirectories: false)
        } catch {
            throw WorkbenchError.failed("\(url.path): cannot create the folder (\(reason(error)))")
        }
        return staged
    }

    /// A readable reason for a Foundation error (not "NSCocoaErrorDomain error 512").
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}

/// A file name clipped to `limit` UTF-8 bytes (file systems allow 255), on a character boundary, with a short
/// hash of the whole name appended when clipped so that clipped names stay distinct.
public func clippedName(_ name: String, limit: Int = 200) -> String {
    guard name.utf8.count > limit else { return name }
    var hash: UInt64 = 0xcbf29ce484222325
    for b in name.utf8 { hash = (hash ^ UInt64(b)) &* 0x100000001b3 }
    let suffix = "~" + String(hash & 0xffffffff, radix: 16)
    var out = ""
    for ch in name {
        if out.utf8.count + String(ch).utf8.count + suffix.utf8.count > limit { break }
        out.append(ch)
    }
    return out + suffix
}

/// Reads a small input file whole, refusing what is not a regular file (a FIFO would block, /dev/zero never
/// ends) and files over `limit` bytes, with a message that says so (not "You don't have permission").
/// - Throws: `WorkbenchError.failed` naming the path.
public func readInputFile(_ url: URL, what: String, limit: Int) throws -> Data {
    switch SafeWrite.kind(atPath: url.path) {
    case .missing: throw WorkbenchError.failed("\(url.path): no such \(what)")
    case .directory: throw WorkbenchError.failed("\(url.path): is a folder, not a \(what)")
    case .special(let name): throw WorkbenchError.failed("\(url.path): is \(name), not a regular file; give a \(what)")
    case .regular: break
    }
    let size = ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
    guard size <= limit else {
        throw WorkbenchError.failed("\(url.path): \(size) bytes, more than a \(what) can be (\(limit >> 20) MB)")
    }
    do { return try Data(contentsOf: url) } catch {
        throw WorkbenchError.failed("\(url.path): cannot read the \(what) (\(SafeWrite.reason(error)))")
    }
}
