import Foundation
import GRDB

extension Store {
    /// Stores a concept and its examples, replacing any concept of the same name and model atomically
    /// (its creation time is kept). Examples are referenced by the sha256 of stored images.
    /// - Returns: the stored record (with id and timestamps).
    /// - Throws: `StoreError.widthMismatch` when the direction's width is not the model's, `.unknownImage` for an
    ///   example never stored, `.notFound` for an unknown model, another `StoreError` on a database failure;
    ///   in every case the previous definition stays as it was.
    @discardableResult
    public func saveConcept(_ concept: ConceptRecord, examples: [ConceptExample]) throws -> ConceptRecord {
        try write { db in
            let width = try Store.modelWidth(db, id: concept.modelID, path: path)
            guard concept.direction.count == width else {
                throw StoreError.widthMismatch(path: path, what: "concept '\(concept.name)'", expected: width, got: concept.direction.count)
            }
            let now = Store.now()
            let existing = try Int64.fetchOne(db, sql: "SELECT id FROM concepts WHERE name = ? AND model_id = ?",
                                              arguments: [concept.name, concept.modelID])
            let values: [any DatabaseValueConvertible] = [
                concept.kind, concept.description, VectorBlob.encode(concept.direction), Double(concept.bias),
                concept.preprocessingID, concept.background, concept.definition, concept.quality, concept.fingerprint, now,
            ]
            let conceptID: Int64
            if let existing {
                try db.execute(sql: """
                    UPDATE concepts SET kind = ?, description = ?, direction = ?, bias = ?, preprocessing_id = ?,
                        background = ?, definition = ?, quality = ?, fingerprint = ?, updated_at = ?
                    WHERE id = ?
                    """, arguments: StatementArguments(values + [existing]))
                try db.execute(sql: "DELETE FROM concept_examples WHERE concept_id = ?", arguments: [existing])
                conceptID = existing
            } else {
                try db.execute(sql: """
                    INSERT INTO concepts(kind, description, direction, bias, preprocessing_id, background, definition,
                        quality, fingerprint, updated_at, name, model_id, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: StatementArguments(values + [concept.name, concept.modelID, now]))
                conceptID = db.lastInsertedRowID
            }
            // In the order given (the order of the concept's quality figures), each once.
            var seen = Set<ConceptExample>()
            for example in examples where seen.insert(example).inserted {
                guard let imageID = try Int64.fetchOne(db, sql: "SELECT id FROM images WHERE sha256 = ?", arguments: [example.sha256]) else {
                    throw StoreError.unknownImage(path: path, sha256: example.sha256)
                }
                try db.execute(sql: "INSERT INTO concept_examples(concept_id, image_id, role) VALUES (?, ?, ?)",
                               arguments: [conceptID, imageID, example.role.rawValue])
            }
            return try Store.concept(db, sql: "SELECT * FROM concepts WHERE id = ?", arguments: [conceptID])!
        }
    }

    /// The concept `name` of this model, or nil when no model has such a concept.
    /// - Throws: `StoreError.conceptFromOtherModel` when the name exists only for other models (never mix
    ///   models), another `StoreError` on a database failure.
    public func concept(named name: String, modelID: Int64) throws -> ConceptRecord? {
        try read { db in
            if let found = try Store.concept(db, sql: "SELECT * FROM concepts WHERE name = ? AND model_id = ?", arguments: [name, modelID]) {
                return found
            }
            guard let other = try Row.fetchOne(db, sql: """
                SELECT m.name, m.weights_sha256 FROM concepts c JOIN models m ON m.id = c.model_id
                WHERE c.name = ? ORDER BY c.updated_at DESC LIMIT 1
                """, arguments: [name]) else { return nil }
            let requested = try String.fetchOne(db, sql: "SELECT name FROM models WHERE id = ?", arguments: [modelID]) ?? "#\(modelID)"
            throw StoreError.conceptFromOtherModel(path: path, concept: name, definedWith: other[0], definedSHA256: other[1], requested: requested)
        }
    }

    /// The concepts of one model (every model's when nil), by name.
    /// - Throws: `StoreError` on a database failure.
    public func concepts(modelID: Int64?) throws -> [ConceptRecord] {
        try read { db in
            if let modelID {
                return try Store.concepts(db, sql: "SELECT * FROM concepts WHERE model_id = ? ORDER BY name", arguments: [modelID])
            }
            return try Store.concepts(db, sql: "SELECT * FROM concepts ORDER BY name, model_id", arguments: [])
        }
    }

    /// The examples of a stored concept with the most recently seen path of each image.
    /// - Throws: `StoreError` on a database failure.
    public func conceptExamples(conceptID: Int64) throws -> [(example: ConceptExample, path: String?)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.sha256, ce.role,
                       (SELECT p.path FROM image_paths p WHERE p.image_id = i.id ORDER BY p.last_seen DESC, p.id DESC LIMIT 1)
                FROM concept_examples ce JOIN images i ON i.id = ce.image_id
                WHERE ce.concept_id = ? ORDER BY ce.role DESC, ce.id
                """, arguments: [conceptID]).map { row in
                (ConceptExample(sha256: row[0], role: ExampleRole(rawValue: row[1]) ?? .positive), row[2])
            }
        }
    }

    /// Removes the concept `name` of this model (its examples' images and embeddings stay cached).
    /// - Returns: whether a concept was removed.
    /// - Throws: `StoreError` on a database failure.
    @discardableResult
    public func removeConcept(named name: String, modelID: Int64) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM concepts WHERE name = ? AND model_id = ?", arguments: [name, modelID])
            return db.changesCount > 0
        }
    }

    static func concepts(_ db: Database, sql: String, arguments: StatementArguments) throws -> [ConceptRecord] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map(conceptRecord)
    }

    static func concept(_ db: Database, sql: String, arguments: StatementArguments) throws -> ConceptRecord? {
        try Row.fetchOne(db, sql: sql, arguments: arguments).map(conceptRecord)
    }

    static func conceptRecord(_ row: Row) -> ConceptRecord {
        ConceptRecord(id: row["id"], name: row["name"], modelID: row["model_id"], kind: row["kind"],
                      description: row["description"], direction: VectorBlob.decode(row["direction"]),
                      bias: Float(row["bias"] as Double), preprocessingID: row["preprocessing_id"],
                      background: row["background"], definition: row["definition"], quality: row["quality"],
                      fingerprint: row["fingerprint"], createdAt: row["created_at"], updatedAt: row["updated_at"])
    }
}
