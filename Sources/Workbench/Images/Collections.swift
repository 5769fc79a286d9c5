import Foundation
import Store

/// A collection in full: its summary, which models' embeddings it has, and its images.
public struct CollectionDetails: Codable, Sendable {
    public var collection: CollectionSummary
    public var embeddings: [EmbeddingCount]
    public var images: [CollectionMember]
}

/// Every collection with its image count.
/// - Throws: `StoreError` on database failures.
public func listCollections(store: Store) throws -> [CollectionSummary] {
    try store.collections()
}

/// One collection: summary, embedding counts per model and preprocessing, and up to `limit` images.
/// - Throws: `WorkbenchError.failed` for an unknown collection, `StoreError` on database failures.
public func showCollection(_ name: String, limit: Int? = nil, store: Store) throws -> CollectionDetails {
    let summary = try requireCollection(name, store: store)
    return CollectionDetails(collection: summary, embeddings: try store.embeddingCounts(collection: name),
                             images: try store.collectionMembers(named: name, limit: limit))
}

/// Removes a collection (its images stay until `prune` finds nothing uses them).
/// - Throws: `WorkbenchError.failed` for an unknown collection, `StoreError` on database failures.
@discardableResult
public func removeCollection(_ name: String, store: Store) throws -> CollectionSummary {
    let summary = try requireCollection(name, store: store)
    guard try store.removeCollection(named: name) else {
        throw WorkbenchError.failed("collection '\(name)' does not exist (see `cdam collection list`)")
    }
    return summary
}

/// Forgets files that no longer exist at their recorded paths, and images nothing uses any more,
/// keeping the embeddings that concepts still use.
/// - Throws: `StoreError` on database failures (then nothing is forgotten).
public func pruneLibrary(store: Store) throws -> PruneSummary {
    try store.prune()
}
