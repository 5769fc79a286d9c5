import Foundation
import GRDB

extension Store {
    /// Every collection with its image count, by name.
    /// - Throws: `StoreError` on a database failure.
    public func collections() throws -> [CollectionSummary] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.id, c.name, c.created_at, (SELECT count(*) FROM collection_images ci WHERE ci.collection_id = c.id)
                FROM collections c ORDER BY c.name
                """).map { CollectionSummary(id: $0[0], name: $0[1], createdAt: $0[2], imageCount: $0[3]) }
        }
    }

    /// The collection `name`, if it exists.
    /// - Throws: `StoreError` on a database failure.
    public func collection(named name: String) throws -> CollectionSummary? {
        try collections().first { $0.name == name }
    }

    /// Creates the collection `name` if it does not exist yet.
    /// - Throws: `StoreError` on a database failure.
    @discardableResult
    public func createCollection(named name: String) throws -> Int64 {
        try write { db in try Store.ensureCollection(db, name: name, now: Store.now()) }
    }

    /// The images of collection `name`, by path (at most `limit` when given).
    /// - Throws: `StoreError.notFound` for an unknown collection, another `StoreError` on a database failure.
    public func collectionMembers(named name: String, limit: Int? = nil) throws -> [CollectionMember] {
        try read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM collections WHERE name = ?", arguments: [name]) else {
                throw StoreError.notFound(path: path, what: "no collection named '\(name)' (see `cdam collection list`)")
            }
            return try Row.fetchAll(db, sql: """
                SELECT i.sha256, ci.path, i.format, i.height, i.width, ci.added_at
                FROM collection_images ci JOIN images i ON i.id = ci.image_id
                WHERE ci.collection_id = ? ORDER BY ci.path LIMIT ?
                """, arguments: [id, limit ?? -1]).map {
                CollectionMember(sha256: $0[0], path: $0[1], format: $0[2], height: $0[3], width: $0[4], addedAt: $0[5])
            }
        }
    }

    /// Removes the collection `name` (its images and embeddings stay until `prune` finds nothing uses them).
    /// - Returns: whether a collection was removed.
    /// - Throws: `StoreError` on a database failure.
    @discardableResult
    public func removeCollection(named name: String) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM collections WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    /// Forgets files that no longer exist at their recorded paths, in one transaction: their path records,
    /// collection memberships whose image has no file left, and images nothing uses any more (no file,
    /// or no collection and no concept) with their embeddings. Images that concepts or heads use keep their embeddings.
    /// - Parameter fileExists: the existence test (the file system's by default; injectable for tests).
    /// - Throws: `StoreError` on a database failure; then nothing is forgotten.
    @discardableResult
    public func prune(fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) throws -> PruneSummary {
        try write { db in
            var summary = PruneSummary()
            // Leased images (stored by a define still running) stay; expired leases go.
            let now = Store.now()
            var leased = Set<Int64>()
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta WHERE key LIKE 'lease.%'") {
                let lease = Store.parseLease(row[1])
                if lease.expiry > now { leased.formUnion(lease.ids) } else {
                    try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [row[0] as String])
                }
            }
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS leased_images (id INTEGER PRIMARY KEY)")
            try db.execute(sql: "DELETE FROM temp.leased_images")
            for id in leased { try db.execute(sql: "INSERT INTO temp.leased_images(id) VALUES (?)", arguments: [id]) }
            defer { try? db.execute(sql: "DELETE FROM temp.leased_images") }
            let paths = try Row.fetchAll(db, sql: "SELECT id, path FROM image_paths")
            for row in paths where !fileExists(row[1]) {
                try db.execute(sql: "DELETE FROM image_paths WHERE id = ?", arguments: [row[0] as Int64])
                summary.pathsForgotten += 1
            }
            // A membership whose path is gone moves to another live path of the image, or goes.
            let members = try Row.fetchAll(db, sql: "SELECT id, image_id, path FROM collection_images")
            for row in members where !fileExists(row[2]) {
                let id: Int64 = row[0], imageID: Int64 = row[1]
                if let other = try String.fetchOne(db, sql: """
                    SELECT path FROM image_paths WHERE image_id = ? ORDER BY last_seen DESC, id DESC LIMIT 1
                    """, arguments: [imageID]) {
                    try db.execute(sql: "UPDATE collection_images SET path = ? WHERE id = ?", arguments: [other, id])
                } else {
                    try db.execute(sql: "DELETE FROM collection_images WHERE id = ?", arguments: [id])
                    summary.membershipsForgotten += 1
                }
            }
            summary.imagesKeptForConcepts = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM images i
                WHERE NOT EXISTS (SELECT 1 FROM image_paths p WHERE p.image_id = i.id)
                  AND (EXISTS (SELECT 1 FROM concept_examples ce WHERE ce.image_id = i.id)
                       OR EXISTS (SELECT 1 FROM head_images hi WHERE hi.image_id = i.id))
                """) ?? 0
            try db.execute(sql: """
                DELETE FROM images
                WHERE NOT EXISTS (SELECT 1 FROM concept_examples ce WHERE ce.image_id = images.id)
                  AND images.id NOT IN (SELECT id FROM temp.leased_images)
                  AND NOT EXISTS (SELECT 1 FROM head_images hi WHERE hi.image_id = images.id)
                  AND (NOT EXISTS (SELECT 1 FROM image_paths p WHERE p.image_id = images.id)
                       OR NOT EXISTS (SELECT 1 FROM collection_images ci WHERE ci.image_id = images.id))
                """)
            summary.imagesForgotten = db.changesCount
            return summary
        }
    }
}

extension Store {
    /// How many of the collection's images are embedded, per model and preprocessing.
    /// - Throws: `StoreError` on a database failure.
    public func embeddingCounts(collection name: String) throws -> [EmbeddingCount] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT m.name, e.preprocessing_id, count(*)
                FROM collections c
                JOIN collection_images ci ON ci.collection_id = c.id
                JOIN embeddings e ON e.image_id = ci.image_id
                JOIN models m ON m.id = e.model_id
                WHERE c.name = ?
                GROUP BY m.name, e.preprocessing_id ORDER BY m.name, e.preprocessing_id
                """, arguments: [name]).map { EmbeddingCount(model: $0[0], preprocessing: $0[1], count: $0[2]) }
        }
    }
}
