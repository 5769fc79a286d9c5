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
            let (record, replaced) = try Store.save(concept, db)
            if let replaced { try db.execute(sql: "DELETE FROM concept_examples WHERE concept_id = ?", arguments: [replaced]) }
            // In the order given (the order of the concept's quality figures), each once.
            var seen = Set<ConceptExample>()
            for example in examples where seen.insert(example).inserted {
                var row = ConceptExampleRow(conceptID: record.id, imageID: try Store.imageID(db, sha256: example.sha256, path: path),
                                            role: example.role)
                try row.insert(db)
            }
            return record
        }
    }

    /// The concept `name` of this model, or nil when no model has such a concept.
    /// - Throws: `StoreError.conceptFromOtherModel` when the name exists only for other models (never mix
    ///   models), another `StoreError` on a database failure.
    public func concept(named name: String, modelID: Int64) throws -> ConceptRecord? {
        try read { db in
            if let found = try ConceptRecord.filter(Column("name") == name && Column("model_id") == modelID).fetchOne(db) {
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
                return try ConceptRecord.filter(Column("model_id") == modelID).order(Column("name")).fetchAll(db)
            }
            return try ConceptRecord.order(Column("name"), Column("model_id")).fetchAll(db)
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
}
