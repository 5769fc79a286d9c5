import Foundation
import GRDB
import GRDBSQLite

extension Store {
    /// The stored image with this content hash, with its recorded paths, if any.
    /// - Throws: `StoreError` on a database failure.
    public func findImage(sha256: String) throws -> ImageRecord? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM images WHERE sha256 = ?", arguments: [sha256]) else { return nil }
            let id: Int64 = row["id"]
            let paths = try String.fetchAll(db, sql: """
                SELECT path FROM image_paths WHERE image_id = ? ORDER BY last_seen DESC, id DESC
                """, arguments: [id])
            return ImageRecord(id: id, sha256: row["sha256"], byteSize: row["byte_size"], format: row["format"],
                               height: row["height"], width: row["width"], paths: paths)
        }
    }

    /// Which of `sha256s` already have an embedding for this model and preprocessing.
    /// - Throws: `StoreError` on a database failure.
    public func embeddedSHA256s(among sha256s: [String], modelID: Int64, preprocessingID: String) throws -> Set<String> {
        try read { db in
            var found = Set<String>()
            for chunk in Store.chunks(Array(Set(sha256s))) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let sql = """
                    SELECT i.sha256 FROM images i JOIN embeddings e ON e.image_id = i.id
                    WHERE e.model_id = ? AND e.preprocessing_id = ? AND i.sha256 IN (\(marks))
                    """
                let arguments = StatementArguments([modelID, preprocessingID] as [any DatabaseValueConvertible])
                    + StatementArguments(chunk)
                found.formUnion(try String.fetchAll(db, sql: sql, arguments: arguments))
            }
            return found
        }
    }

    /// Stores a batch of embedded images in ONE transaction: the images (once per content hash),
    /// their paths, their embeddings for this model and preprocessing, and, when `collection` is
    /// given, their membership of it (the collection is created if needed).
    /// - Throws: `StoreError.widthMismatch` when an embedding's width is not the model's, `.notFound` for an
    ///   unknown model, or another `StoreError` (read-only, full disk, locked): then nothing of the batch is stored.
    /// - Parameter expectedCollectionID: the id the collection had when the caller created it: if it was removed
    ///   (or removed and made again) since, `StoreError.notFound` is thrown and nothing is stored, so an `index`
    ///   whose collection is removed under it stops instead of refilling part of it.
    ///
    /// Images stored with no collection (a concept's examples before the concept is saved) are leased to this
    /// `Store` for `Store.leaseDuration`: `prune` keeps them meanwhile.
    public func saveEmbeddedImages(_ images: [NewEmbeddedImage], modelID: Int64, preprocessingID: String,
                                   collection: String?, expectedCollectionID: Int64? = nil) throws {
        try write { db in
            let width = try Store.modelWidth(db, id: modelID, path: path)
            let now = Store.now()
            let collectionID = try collection.map { try collectionForAdding(db, name: $0, expected: expectedCollectionID, now: now) }
            var leased: [Int64] = []
            defer { if collection == nil, !leased.isEmpty { try? lease(db, imageIDs: leased) } }
            for image in images {
                guard image.embedding.count == width else {
                    throw StoreError.widthMismatch(path: path, what: "the embedding of \(image.path)", expected: width, got: image.embedding.count)
                }
                let imageID = try Store.ensureImage(db, image)
                try Store.recordPath(db, imageID: imageID, path: image.path, now: now)
                try db.execute(sql: """
                    INSERT INTO embeddings(image_id, model_id, preprocessing_id, vector, created_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(image_id, model_id, preprocessing_id) DO UPDATE SET vector = excluded.vector
                    """, arguments: [imageID, modelID, preprocessingID, VectorBlob.encode(image.embedding), now])
                if let collectionID {
                    try Store.addMember(db, collectionID: collectionID, imageID: imageID, path: image.path, now: now)
                } else {
                    leased.append(imageID)
                }
            }
        }
    }

    /// Records that already-stored images were seen at new (or the same) paths, and adds them to
    /// `collection` when given; all in one transaction.
    /// - Throws: `StoreError.unknownImage` for a hash never stored (nothing is then recorded), or another `StoreError`.
    public func recordSightings(_ sightings: [ImageSighting], collection: String?, expectedCollectionID: Int64? = nil) throws {
        guard !sightings.isEmpty || collection != nil else { return }
        try write { db in
            let now = Store.now()
            let collectionID = try collection.map { try collectionForAdding(db, name: $0, expected: expectedCollectionID, now: now) }
            var leased: [Int64] = []
            defer { if collection == nil, !leased.isEmpty { try? lease(db, imageIDs: leased) } }
            for sighting in sightings {
                guard let imageID = try Int64.fetchOne(db, sql: "SELECT id FROM images WHERE sha256 = ?", arguments: [sighting.sha256]) else {
                    throw StoreError.unknownImage(path: path, sha256: sighting.sha256)
                }
                try Store.recordPath(db, imageID: imageID, path: sighting.path, now: now)
                if let collectionID {
                    try Store.addMember(db, collectionID: collectionID, imageID: imageID, path: sighting.path, now: now)
                } else {
                    leased.append(imageID)
                }
            }
        }
    }

    /// The stored embeddings of these images for this model and preprocessing, by sha256 (missing ones are absent).
    /// - Throws: `StoreError` on a database failure.
    public func embeddings(for sha256s: [String], modelID: Int64, preprocessingID: String) throws -> [String: [Float]] {
        try read { db in
            var result: [String: [Float]] = [:]
            for chunk in Store.chunks(Array(Set(sha256s))) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let sql = """
                    SELECT i.sha256, e.vector FROM images i JOIN embeddings e ON e.image_id = i.id
                    WHERE e.model_id = ? AND e.preprocessing_id = ? AND i.sha256 IN (\(marks))
                    """
                let arguments = StatementArguments([modelID, preprocessingID] as [any DatabaseValueConvertible])
                    + StatementArguments(chunk)
                for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                    result[row[0]] = VectorBlob.decode(row[1])
                }
            }
            return result
        }
    }

    /// Every embedding of this model and preprocessing (only the collection's images when `collection`
    /// is given) as one row-major matrix, rows ordered by image id.
    /// - Parameter withLabels: also read each row's sha256 and path (else those arrays stay empty and
    ///   `labels(of:collection:)` fetches them for the few rows a caller needs).
    /// - Throws: `StoreError.notFound` for an unknown collection or model, `.widthMismatch` for a damaged vector,
    ///   another `StoreError` on a database failure.
    public func embeddingMatrix(modelID: Int64, preprocessingID: String, collection: String?,
                                withLabels: Bool = true) throws -> EmbeddingMatrix {
        try read { db in
            let width = try Store.modelWidth(db, id: modelID, path: path)
            var arguments: StatementArguments = [modelID, preprocessingID]
            let sql: String
            if let collection {
                guard let collectionID = try Int64.fetchOne(db, sql: "SELECT id FROM collections WHERE name = ?", arguments: [collection]) else {
                    throw StoreError.notFound(path: path, what: "no collection named '\(collection)' (see `cdam collection list`)")
                }
                sql = withLabels ? """
                    SELECT i.id, i.sha256, ci.path, e.vector
                    FROM collection_images ci
                    JOIN images i ON i.id = ci.image_id
                    JOIN embeddings e ON e.image_id = i.id AND e.model_id = ? AND e.preprocessing_id = ?
                    WHERE ci.collection_id = ?
                    ORDER BY ci.image_id
                    """ : """
                    SELECT e.image_id, NULL, NULL, e.vector
                    FROM collection_images ci
                    JOIN embeddings e ON e.image_id = ci.image_id AND e.model_id = ? AND e.preprocessing_id = ?
                    WHERE ci.collection_id = ?
                    ORDER BY ci.image_id
                    """
                arguments += [collectionID]
            } else {
                sql = withLabels ? """
                    SELECT i.id, i.sha256,
                           (SELECT p.path FROM image_paths p WHERE p.image_id = i.id ORDER BY p.last_seen DESC, p.id DESC LIMIT 1),
                           e.vector
                    FROM embeddings e JOIN images i ON i.id = e.image_id
                    WHERE e.model_id = ? AND e.preprocessing_id = ?
                    ORDER BY e.image_id
                    """ : """
                    SELECT e.image_id, NULL, NULL, e.vector FROM embeddings e
                    WHERE e.model_id = ? AND e.preprocessing_id = ?
                    ORDER BY e.image_id
                    """
            }
            // The matrix is the bulk of a search's cold start: step the statement with the C API and copy
            // each blob straight into a preallocated buffer instead of materializing GRDB rows.
            // An upper bound read from the index alone; the buffer is trimmed to the rows found.
            let bound = try Int.fetchOne(db, sql: "SELECT count(*) FROM embeddings WHERE model_id = ? AND preprocessing_id = ?",
                                         arguments: [modelID, preprocessingID]) ?? 0
            var ids: [Int64] = [], shas: [String] = [], paths: [String] = []
            ids.reserveCapacity(bound); shas.reserveCapacity(bound); paths.reserveCapacity(bound)
            let statement = try db.makeStatement(sql: sql)
            try statement.setArguments(arguments)
            let raw = statement.sqliteStatement
            defer { sqlite3_reset(raw) }
            var failure: Error?
            let values = [Float](unsafeUninitializedCapacity: bound * width) { buffer, initialized in
                initialized = 0
                guard let base = buffer.baseAddress.map(UnsafeMutableRawPointer.init) else { return }
                var row = 0
                while true {
                    let code = sqlite3_step(raw)
                    if code == SQLITE_DONE { break }
                    guard code == SQLITE_ROW else {
                        failure = DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                        return
                    }
                    let bytes = Int(sqlite3_column_bytes(raw, 3))
                    guard bytes == width * 4, row < bound, let blob = sqlite3_column_blob(raw, 3) else {
                        failure = StoreError.widthMismatch(path: path, what: "the stored embedding of image #\(sqlite3_column_int64(raw, 0))", expected: width, got: bytes / 4)
                        return
                    }
                    #if _endian(little)
                    (base + row * width * 4).copyMemory(from: blob, byteCount: bytes)
                    #else
                    VectorBlob.copy(Data(bytes: blob, count: bytes), into: base + row * width * 4, count: width)
                    #endif
                    ids.append(sqlite3_column_int64(raw, 0))
                    if withLabels {
                        shas.append(sqlite3_column_text(raw, 1).map { String(cString: $0) } ?? "")
                        paths.append(sqlite3_column_text(raw, 2).map { String(cString: $0) } ?? "")
                    }
                    row += 1
                    initialized = row * width
                }
            }
            if let failure { throw failure }
            return EmbeddingMatrix(imageIDs: ids, sha256s: shas, paths: paths, width: width, values: values)
        }
    }

    /// The sha256 and path of images by id: the collection's path when `collection` is given, else the
    /// most recently seen one (what `embeddingMatrix(withLabels: true)` would have read).
    /// - Throws: `StoreError` on a database failure.
    public func labels(of imageIDs: [Int64], collection: String?) throws -> [Int64: (sha256: String, path: String)] {
        try read { db in
            var out: [Int64: (sha256: String, path: String)] = [:]
            for id in imageIDs {
                let row: Row?
                if let collection {
                    row = try Row.fetchOne(db, sql: """
                        SELECT i.sha256, ci.path FROM images i
                        JOIN collection_images ci ON ci.image_id = i.id
                        JOIN collections c ON c.id = ci.collection_id AND c.name = ?
                        WHERE i.id = ?
                        """, arguments: [collection, id])
                } else {
                    row = try Row.fetchOne(db, sql: """
                        SELECT i.sha256, (SELECT p.path FROM image_paths p WHERE p.image_id = i.id ORDER BY p.last_seen DESC, p.id DESC LIMIT 1)
                        FROM images i WHERE i.id = ?
                        """, arguments: [id])
                }
                if let row { out[id] = (row[0], row[1] ?? "") }
            }
            return out
        }
    }

    /// The ids of stored images by content hash (hashes not stored are absent).
    /// - Throws: `StoreError` on a database failure.
    public func imageIDs(sha256s: [String]) throws -> [String: Int64] {
        try read { db in
            var out: [String: Int64] = [:]
            for chunk in Store.chunks(sha256s) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT sha256, id FROM images WHERE sha256 IN (\(marks))",
                                            arguments: StatementArguments(chunk)) {
                    out[row[0]] = row[1]
                }
            }
            return out
        }
    }

    // MARK: - Helpers inside transactions

    static func chunks(_ values: [String], size: Int = 500) -> [[String]] {
        stride(from: 0, to: values.count, by: size).map { Array(values[$0..<min($0 + size, values.count)]) }
    }

    static func modelWidth(_ db: Database, id: Int64, path: String) throws -> Int {
        guard let width = try Int.fetchOne(db, sql: "SELECT width FROM models WHERE id = ?", arguments: [id]) else {
            throw StoreError.notFound(path: path, what: "no model with id \(id) (register it by embedding with it first)")
        }
        return width
    }

    static func ensureImage(_ db: Database, _ image: NewEmbeddedImage) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO images(sha256, byte_size, format, height, width) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(sha256) DO NOTHING
            """, arguments: [image.sha256, image.byteSize, image.format, image.height, image.width])
        return try Int64.fetchOne(db, sql: "SELECT id FROM images WHERE sha256 = ?", arguments: [image.sha256])!
    }

    static func recordPath(_ db: Database, imageID: Int64, path: String, now: String) throws {
        try db.execute(sql: """
            INSERT INTO image_paths(image_id, path, first_seen, last_seen) VALUES (?, ?, ?, ?)
            ON CONFLICT(image_id, path) DO UPDATE SET last_seen = excluded.last_seen
            """, arguments: [imageID, path, now, now])
    }

    /// The collection to add to: created when missing, unless `expected` says which one it must still be.
    func collectionForAdding(_ db: Database, name: String, expected: Int64?, now: String) throws -> Int64 {
        guard let expected else { return try Store.ensureCollection(db, name: name, now: now) }
        let current = try Int64.fetchOne(db, sql: "SELECT id FROM collections WHERE name = ?", arguments: [name])
        guard current == expected else {
            throw StoreError.notFound(path: path, what: "collection '\(name)' was removed while images were being added to it; nothing more was added (run the command again to rebuild it)")
        }
        return expected
    }

    /// How long images stored without a collection are kept from `prune` (long enough for a `concept define`
    /// of thousands of examples to embed them and save the concept, which then keeps them).
    public static let leaseDuration: TimeInterval = 6 * 3600

    /// Leases images to this Store (in the caller's transaction): a `meta` row `lease.ID` with the expiry and ids.
    func lease(_ db: Database, imageIDs: [Int64]) throws {
        let key = "lease.\(leaseID)"
        let expiry = Store.timestamp(Date().addingTimeInterval(Store.leaseDuration))
        let old = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        var ids = old.map { Store.parseLease($0).ids } ?? []
        ids.formUnion(imageIDs)
        let value = expiry + "\n" + ids.sorted().map(String.init).joined(separator: ",")
        try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }

    static func parseLease(_ value: String) -> (expiry: String, ids: Set<Int64>) {
        let parts = value.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let ids = parts.count > 1 ? Set(parts[1].split(separator: ",").compactMap { Int64($0) }) : []
        return (String(parts.first ?? ""), ids)
    }

    /// Ends this Store's lease (a define that saved its concept: the concept now keeps its examples).
    /// - Throws: `StoreError` on a database failure.
    public func releaseLease() throws {
        try write { db in try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: ["lease.\(leaseID)"]) }
    }

    static func ensureCollection(_ db: Database, name: String, now: String) throws -> Int64 {
        try db.execute(sql: "INSERT INTO collections(name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                       arguments: [name, now])
        return try Int64.fetchOne(db, sql: "SELECT id FROM collections WHERE name = ?", arguments: [name])!
    }

    static func addMember(_ db: Database, collectionID: Int64, imageID: Int64, path: String, now: String) throws {
        try db.execute(sql: """
            INSERT INTO collection_images(collection_id, image_id, path, added_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(collection_id, image_id) DO UPDATE SET path = excluded.path
            """, arguments: [collectionID, imageID, path, now])
    }
}
