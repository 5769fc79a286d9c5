import Foundation
import Store

extension Store {
    /// Registers the embedder's model (name, weights sha256, width, patch size, preprocessing) and returns its record.
    /// - Throws: `StoreError.modelChanged` when the name is stored with other weights, another `StoreError` on failure.
    public func register(_ embedder: ImageEmbedder) throws -> ModelRecord {
        try upsertModel(ModelInfo(name: embedder.modelName, weightsSHA256: embedder.modelSHA256, width: embedder.width,
                                  patchSize: embedder.patchSize, preprocessing: embedder.preprocessingDescription))
    }
}

/// Files turned into stored embeddings: what `ensureEmbedded` found, embedded or could not read.
struct EmbeddedFiles {
    /// sha256 of each file that was read, in input order (a failed file is absent).
    var sha256ByFile: [(url: URL, sha256: String)] = []
    /// Embeddings by sha256 (every file of `sha256ByFile` has one unless its embedding failed).
    var embeddings: [String: [Float]] = [:]
    var newlyEmbedded = 0
    var alreadyStored = 0
    var failures: [FileFailure] = []
}

/// Hashes files, skips those already embedded for this model and preprocessing, embeds the rest in
/// batches, and commits each batch (images, paths, embeddings, collection membership) in one transaction.
/// An interruption loses at most the batch in flight; rerunning finishes the job.
func ensureEmbedded(_ files: [URL], embedder: ImageEmbedder, store: Store, model: ModelRecord,
                    collection: String?, collectionID: Int64? = nil, batchSize: Int, keepEmbeddings: Bool,
                    progress: ((LibraryProgress) -> Void)?) throws -> EmbeddedFiles {
    var out = EmbeddedFiles()
    let batch = max(1, batchSize)
    var done = 0
    for start in stride(from: 0, to: files.count, by: batch) {
        let chunk = Array(files[start..<min(start + batch, files.count)])
        var hashed: [(url: URL, sha256: String, byteSize: Int)] = []
        for url in chunk {
            do {
                let (sha, size) = try ImageFiles.hashFile(url)
                hashed.append((url, sha, size))
            } catch {
                out.failures.append(.of(url, error))
            }
        }
        let stored = try store.embeddedSHA256s(among: hashed.map(\.sha256), modelID: model.id, preprocessingID: embedder.preprocessingID)
        // Already stored: only the path and the membership are new. Identical files in one batch embed once.
        var sightings: [ImageSighting] = []
        var toEmbed: [(url: URL, sha256: String, byteSize: Int)] = []
        var pending = Set<String>()
        var duplicates: [(url: URL, sha256: String)] = []
        for file in hashed {
            if stored.contains(file.sha256) {
                sightings.append(ImageSighting(sha256: file.sha256, path: file.url.path))
            } else if pending.contains(file.sha256) {
                duplicates.append((file.url, file.sha256))
            } else {
                pending.insert(file.sha256)
                toEmbed.append(file)
            }
        }
        var newImages: [NewEmbeddedImage] = []
        if !toEmbed.isEmpty {
            let results = embedder.embed(toEmbed.map(\.url))
            for (file, result) in zip(toEmbed, results) {
                switch result {
                case .success(let image) where image.sha256 != file.sha256:
                    // The embedder hashes the bytes it decodes: a different hash means the file changed between
                    // the two reads. Storing the old hash with the new content's embedding would poison the cache.
                    pending.remove(file.sha256)
                    out.failures.append(FileFailure(image: file.url.path, error: "\(file.url.path): the file changed while it was being indexed; nothing was stored for it; run the command again"))
                case .success(let image) where !image.embedding.allSatisfy(\.isFinite):
                    pending.remove(file.sha256)
                    out.failures.append(FileFailure(image: file.url.path, error: "\(file.url.path): the model gave NaN or infinite numbers for this image (damaged weights? check with `cdam model verify`); nothing was stored"))
                case .success(let image):
                    newImages.append(NewEmbeddedImage(sha256: file.sha256, byteSize: file.byteSize, format: image.format,
                                                      height: image.height, width: image.width, path: file.url.path,
                                                      embedding: image.embedding))
                case .failure(let error):
                    pending.remove(file.sha256)
                    out.failures.append(.of(file.url, error))
                }
            }
        }
        for duplicate in duplicates where pending.contains(duplicate.sha256) {
            sightings.append(ImageSighting(sha256: duplicate.sha256, path: duplicate.url.path))
        }
        try store.saveEmbeddedImages(newImages, modelID: model.id, preprocessingID: embedder.preprocessingID,
                                     collection: collection, expectedCollectionID: collectionID)
        try store.recordSightings(sightings, collection: collection, expectedCollectionID: collectionID)
        out.newlyEmbedded += newImages.count
        out.alreadyStored += sightings.count
        let readable = hashed.filter { stored.contains($0.sha256) || pending.contains($0.sha256) }
        out.sha256ByFile += readable.map { ($0.url, $0.sha256) }
        if keepEmbeddings {
            for image in newImages { out.embeddings[image.sha256] = image.embedding }
            let cached = try store.embeddings(for: Array(stored), modelID: model.id, preprocessingID: embedder.preprocessingID)
            out.embeddings.merge(cached) { new, _ in new }
        }
        done += chunk.count
        progress?(LibraryProgress(phase: "embedding", done: done, total: files.count, failed: out.failures.count))
    }
    return out
}
