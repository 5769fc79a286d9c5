import Foundation

/// The `embed` document of INTERFACE.md.
public struct EmbedReport: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var image: String
        public var sha256: String
        /// The decoded image's [height, width].
        public var size: [Int]
        public var embedding: [Float]
    }
    public var model: String
    public var results: [Entry]
    public var errors: [FileFailure]
}

/// Embeds image files (CLS embeddings), keeping going past bad files.
public func embedFiles(_ files: [URL], embedder: ImageEmbedder, progress: ((LibraryProgress) -> Void)? = nil) -> EmbedReport {
    var report = EmbedReport(model: embedder.modelName, results: [], errors: [])
    var done = 0
    for chunk in stride(from: 0, to: files.count, by: 8).map({ Array(files[$0..<min($0 + 8, files.count)]) }) {
        for (file, result) in zip(chunk, embedder.embed(chunk)) {
            switch result {
            case .success(let e):
                report.results.append(.init(image: file.path, sha256: e.sha256, size: [e.height, e.width], embedding: e.embedding))
            case .failure(let error):
                report.errors.append(FileFailure(image: file.path, error: error))
            }
        }
        done += chunk.count
        progress?(LibraryProgress(phase: "embedding", done: done, total: files.count))
    }
    return report
}
