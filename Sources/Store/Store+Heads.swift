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
            let (record, replaced) = try Store.save(head, db)
            if let replaced { try db.execute(sql: "DELETE FROM head_images WHERE head_id = ?", arguments: [replaced]) }
            var seen = Set<String>()
            for image in images where seen.insert(image.sha256).inserted {
                var row = HeadImageRow(headID: record.id, imageID: try Store.imageID(db, sha256: image.sha256, path: path),
                                       classIndex: image.classIndex, path: image.path)
                try row.insert(db)
            }
            return record
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
        try read { db in try HeadRecord.filter(Column("name") == name && Column("model_id") == modelID).fetchOne(db) }
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
                return try HeadRecord.filter(Column("model_id") == modelID).order(Column("name")).fetchAll(db)
            }
            return try HeadRecord.order(Column("name"), Column("model_id")).fetchAll(db)
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
}
