import Foundation
import Store

/// What `indexImages` did: counts, and the files that failed (the exit code is 3 when some did).
public struct IndexReport: Codable, Sendable, Equatable {
    public var model: String
    public var collection: String
    public var directory: String
    /// Image files found.
    public var found: Int
    /// Files embedded in this run.
    public var embedded: Int
    /// Files whose content was already embedded for this model and preprocessing (only recorded).
    public var alreadyStored: Int
    public var errors: [FileFailure]

    /// 0 when every file was indexed, 3 when some failed (INTERFACE.md).
    public var exitCode: Int32 { errors.isEmpty ? 0 : 3 }
}

/// Indexes a folder into a collection: every image file under `directory` (recursively) is named by
/// its content's sha256, embedded unless that content is already stored for this model and
/// preprocessing, recorded at its path and added to the collection. Batches of `batchSize` are
/// committed one transaction each, so an interruption loses at most one batch and a rerun finishes
/// the job. Bad files are reported, not fatal.
/// - Parameter collection: the collection's name; by default the folder's name.
/// - Throws: `WorkbenchError` when the folder cannot be read, `StoreError` when the database fails.
public func indexImages(directory: URL, collection: String? = nil, embedder: ImageEmbedder, store: Store,
                        batchSize: Int = 8, progress: ((LibraryProgress) -> Void)? = nil) throws -> IndexReport {
    let folder = directory.standardizedFileURL
    let name = collection ?? folder.lastPathComponent
    guard !name.isEmpty, name != "/" else {
        throw WorkbenchError.usage("\(folder.path): give the collection a name with --collection")
    }
    let found = try ImageFiles.search(folder)
    let files = found.files
    let model = try store.register(embedder)
    // Every batch checks that the collection is still this one: a `collection remove` during the run stops it
    // with an error instead of leaving a partly refilled collection that reports success.
    let collectionID = try store.createCollection(named: name)
    let result = try ensureEmbedded(files, embedder: embedder, store: store, model: model, collection: name,
                                    collectionID: collectionID, batchSize: batchSize, keepEmbeddings: false, progress: progress)
    return IndexReport(model: embedder.modelName, collection: name, directory: folder.path, found: files.count,
                       embedded: result.newlyEmbedded, alreadyStored: result.alreadyStored,
                       errors: found.skipped + result.failures)
}
