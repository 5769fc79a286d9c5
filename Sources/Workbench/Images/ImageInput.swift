import Foundation
import Imaging

/// An image file decoded and preprocessed for the model.
public struct PreparedImage: Sendable {
    public var url: URL
    public var sha256: String
    public var format: ImageFormat
    /// The decoded image (orientation applied), before resizing.
    public var original: RGBImage
    /// What the model sees, before normalization (H x W).
    public var resized: RGBImage
    /// The normalized input tensor (3, H, W).
    public var pixels: [Float]
    public var warnings: [String]
    /// How `resized` was made from `original` (maps are drawn back onto the original through it).
    public var preprocessing: Preprocessing = Preprocessing(size: 224)
}

/// Finding and loading the images a command is given.
public enum ImageInput {
    /// Expands files and folders into image files: a file named on the command line is taken whatever its
    /// name (an unsupported format then fails with its name); folders are searched as `ImageFiles.find` does.
    /// - Throws: `WorkbenchError.failed` for a path that does not exist.
    public static func expand(_ paths: [String]) throws -> [URL] {
        try paths.flatMap { path -> [URL] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw WorkbenchError.failed("\(path): no such file or folder")
            }
            return isDirectory.boolValue ? try ImageFiles.find(in: URL(fileURLWithPath: path)) : [URL(fileURLWithPath: path)]
        }
    }

    /// Expands as `expand` does, but a path that does not exist is returned as a failed input instead of
    /// stopping the command: the other images are still processed (exit 3).
    public static func expandKeepingGoing(_ paths: [String]) throws -> (files: [URL], missing: [FileFailure]) {
        var files: [URL] = [], missing: [FileFailure] = []
        for path in paths {
            guard FileManager.default.fileExists(atPath: path) else {
                missing.append(FileFailure(image: path, error: WorkbenchError.failed("\(path): no such file or folder")))
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let found = try ImageFiles.search(URL(fileURLWithPath: path))
                files += found.files
                missing += found.skipped.map { FileFailure(image: $0.image, error: WorkbenchError.failed($0.error)) }
            } else {
                files += try expand([path])
            }
        }
        return (files, missing)
    }

    /// Reads, decodes and preprocesses one file.
    /// - Throws: `ImageError` naming the file and what is wrong with it.
    public static func prepare(_ url: URL, preprocessing: Preprocessing, options: DecodeOptions) throws -> PreparedImage {
        var st = stat()
        if stat(url.path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            // A FIFO would block the read and /dev/zero never end; say what it is (not "permission denied").
            throw ImageError(path: url.path, reason: .unreadable((st.st_mode & S_IFMT) == S_IFDIR ? "a folder, not an image file" : "not a regular file (a FIFO, socket or device)"))
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError(path: url.path, reason: .unreadable(error.localizedDescription))
        }
        let decoded = try decodeImage(data: data, name: url.path, options: options)
        let resized = preprocessedImage(decoded.image, preprocessing)
        return PreparedImage(url: url, sha256: ImageFiles.sha256(data), format: decoded.format, original: decoded.image,
                             resized: resized, pixels: normalize(resized), warnings: decoded.warnings,
                             preprocessing: preprocessing)
    }

    /// Prepares several files on all cores; each result stands alone.
    public static func prepareAll(_ urls: [URL], preprocessing: Preprocessing, options: DecodeOptions) -> [Result<PreparedImage, Error>] {
        var results = [Result<PreparedImage, Error>?](repeating: nil, count: urls.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: urls.count) { i in
            let r = Result { try prepare(urls[i], preprocessing: preprocessing, options: options) }
            lock.lock(); results[i] = r; lock.unlock()
        }
        return results.map { $0! }
    }
}
