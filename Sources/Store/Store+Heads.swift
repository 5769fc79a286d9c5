import Foundation
import GRDB

/// A stored linear head: logit k = weights[k] . e + bias[k] on a model's CLS embedding e.
public struct HeadRecord: Sendable, Equatable {
    /// 0 until stored.
    public var id: Int64
    public var name: String
    public var modelID: Int64
    /// The preprocessing of its training embeddings ("" for an imported head).
    public var preprocessingID: String
    /// The class names, in the order of the weights' rows.
    public var labels: [String]
    /// K x D float32, row-major.
    public var weights: [Float]
    /// K numbers.
    public var bias: [Float]
    /// "trained" or "imported".
    public var source: String
    /// JSON: the training options and the fit's figures, or the imported file.
    public var hyperparameters: String
    /// JSON of the last evaluation ("{}" before any).
    public var evaluation: String
    public var createdAt: String
    public var updatedAt: String

    public var classes: Int { labels.count }
    public var width: Int { labels.isEmpty ? 0 : weights.count / labels.count }

    public init(id: Int64 = 0, name: String, modelID: Int64, preprocessingID: String, labels: [String], weights: [Float],
                bias: [Float], source: String, hyperparameters: String = "{}", evaluation: String = "{}",
                createdAt: String = "", updatedAt: String = "") {
        self.id = id; self.name = name; self.modelID = modelID; self.preprocessingID = preprocessingID
        self.labels = labels; self.weights = weights; self.bias = bias; self.source = source
        self.hyperparameters = hyperparameters; self.evaluation = evaluation
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// One training image of a head: the image (by content), its class and the path it was read from.
public struct HeadImage: Sendable, Equatable, Codable {
    public var sha256: String
    public var classIndex: Int
    public var path: String
    public init(sha256: String, classIndex: Int, path: String) {
        self.sha256 = sha256; self.classIndex = classIndex; self.path = path
    }
}

extension Store {
    /// Stores a head and its training images, replacing any head of the same name and model atomically
    /// (its creation time is kept).
    /// - Throws: `StoreError.widthMismatch` when the weights are not classes x the model's width,
    ///   `.unknownImage` for a training image never stored, another `StoreError` on a database failure;
    ///   in every case the previous head stays as it was.
    @discardableResult
    public func saveHead(_ head: HeadRecord, images: [HeadImage]) throws -> HeadRecord {
        try write { db in
            let width = try Store.modelWidth(db, id: head.modelID, path: path)
            guard head.classes >= 2, head.weights.count == head.classes * width, head.bias.count == head.classes else {
                throw StoreError.widthMismatch(path: path, what: "head '\(head.name)' (\(head.classes) classes)",
                                               expected: head.classes * width, got: head.weights.count)
            }
            let now = Store.now()
            let labels = String(decoding: try JSONEncoder().encode(head.labels), as: UTF8.self)
            let existing = try Int64.fetchOne(db, sql: "SELECT id FROM heads WHERE name = ? AND model_id = ?",
                                              arguments: [head.name, head.modelID])
            let values: [any DatabaseValueConvertible] = [
                head.preprocessingID, labels, head.classes, width, VectorBlob.encode(head.weights), VectorBlob.encode(head.bias),
                head.source, head.hyperparameters, head.evaluation, now,
            ]
            let headID: Int64
            if let existing {
                try db.execute(sql: """
                    UPDATE heads SET preprocessing_id = ?, labels = ?, classes = ?, width = ?, weights = ?, bias = ?,
                        source = ?, hyperparameters = ?, evaluation = ?, updated_at = ? WHERE id = ?
                    """, arguments: StatementArguments(values + [existing]))
                try db.execute(sql: "DELETE FROM head_images WHERE head_id = ?", arguments: [existing])
                headID = existing
            } else {
                try db.execute(sql: """
                    INSERT INTO heads(preprocessing_id, labels, classes, width, weights, bias, source, hyperparameters,
                        evaluation, updated_at, name, model_id, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: StatementArguments(values + [head.name, head.modelID, now]))
                headID = db.lastInsertedRowID
            }
            var seen = Set<String>()
            for image in images where seen.insert(image.sha256).inserted {
                guard let imageID = try Int64.fetchOne(db, sql: "SELECT id FROM images WHERE sha256 = ?", arguments: [image.sha256]) else {
                    throw StoreError.unknownImage(path: path, sha256: image.sha256)
                }
                try db.execute(sql: "INSERT INTO head_images(head_id, image_id, class_index, path) VALUES (?, ?, ?, ?)",
                               arguments: [headID, imageID, image.classIndex, image.path])
            }
            return try Store.head(db, sql: "SELECT * FROM heads WHERE id = ?", arguments: [headID])!
        }
    }

    /// Records a head's evaluation (JSON).
    /// - Throws: `StoreError` on a database failure.
    public func setHeadEvaluation(headID: Int64, evaluation: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE heads SET evaluation = ? WHERE id = ?", arguments: [evaluation, headID])
        }
    }

    /// The head `name` of this model, or nil when there is none.
    /// - Throws: `StoreError` on a database failure.
    public func head(named name: String, modelID: Int64) throws -> HeadRecord? {
        try read { db in try Store.head(db, sql: "SELECT * FROM heads WHERE name = ? AND model_id = ?", arguments: [name, modelID]) }
    }

    /// The models (by name) that have a head called `name`: to tell a user which --model to use.
    /// - Throws: `StoreError` on a database failure.
    public func modelsWithHead(named name: String) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT m.name FROM heads h JOIN models m ON m.id = h.model_id WHERE h.name = ? ORDER BY m.name",
                                arguments: [name])
        }
    }

    /// The heads of one model (every model's when nil), by name.
    /// - Throws: `StoreError` on a database failure.
    public func heads(modelID: Int64?) throws -> [HeadRecord] {
        try read { db in
            if let modelID {
                return try Row.fetchAll(db, sql: "SELECT * FROM heads WHERE model_id = ? ORDER BY name", arguments: [modelID]).map(Store.headRecord)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM heads ORDER BY name, model_id").map(Store.headRecord)
        }
    }

    /// The training images of a head, in the order stored.
    /// - Throws: `StoreError` on a database failure.
    public func headImages(headID: Int64) throws -> [HeadImage] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.sha256, hi.class_index, hi.path FROM head_images hi JOIN images i ON i.id = hi.image_id
                WHERE hi.head_id = ? ORDER BY hi.id
                """, arguments: [headID]).map { HeadImage(sha256: $0[0], classIndex: $0[1], path: $0[2]) }
        }
    }

    /// Removes the head `name` of this model (its images and embeddings stay cached).
    /// - Returns: whether a head was removed.
    /// - Throws: `StoreError` on a database failure.
    @discardableResult
    public func removeHead(named name: String, modelID: Int64) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM heads WHERE name = ? AND model_id = ?", arguments: [name, modelID])
            return db.changesCount > 0
        }
    }

    static func head(_ db: Database, sql: String, arguments: StatementArguments) throws -> HeadRecord? {
        try Row.fetchOne(db, sql: sql, arguments: arguments).map(headRecord)
    }

    static func headRecord(_ row: Row) -> HeadRecord {
        let labelsText: String = row["labels"]
        let labels = (try? JSONDecoder().decode([String].self, from: Data(labelsText.utf8))) ?? []
        return HeadRecord(id: row["id"], name: row["name"], modelID: row["model_id"], preprocessingID: row["preprocessing_id"],
                          labels: labels, weights: VectorBlob.decode(row["weights"]), bias: VectorBlob.decode(row["bias"]),
                          source: row["source"], hyperparameters: row["hyperparameters"], evaluation: row["evaluation"],
                          createdAt: row["created_at"], updatedAt: row["updated_at"])
    }
}
