import Foundation
import GRDB

// The stored records as GRDB records: each maps its own columns, so reads name columns and writes go through
// `insert`/`update`, never positional SQL. Vectors are float32 little-endian blobs (VectorBlob), JSON columns text.

/// A record named per model (a concept, a head): saving one replaces the record of the same name and model.
protocol NamedPerModel: FetchableRecord, MutablePersistableRecord {
    var id: Int64 { get set }
    var name: String { get }
    var modelID: Int64 { get }
    var createdAt: String { get set }
    var updatedAt: String { get set }
}

extension Store {
    /// Inserts `record`, or replaces the one of the same name and model, keeping its id and creation time.
    /// - Returns: the stored record, and the id it replaced (its dependent rows are the caller's to reset).
    static func save<R: NamedPerModel>(_ record: R, _ db: Database) throws -> (record: R, replaced: Int64?) {
        var record = record
        record.updatedAt = Store.now()
        if let existing = try R.filter(Column("name") == record.name && Column("model_id") == record.modelID).fetchOne(db) {
            record.id = existing.id
            record.createdAt = existing.createdAt
            try record.update(db)
            return (record, existing.id)
        }
        record.id = 0
        record.createdAt = record.updatedAt
        try record.insert(db)
        return (record, nil)
    }
}

extension ConceptRecord: NamedPerModel {}
extension HeadRecord: NamedPerModel {}

extension ConceptRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "concepts"

    public init(row: Row) {
        self.init(id: row["id"], name: row["name"], modelID: row["model_id"], kind: row["kind"],
                  description: row["description"], direction: VectorBlob.decode(row["direction"]),
                  bias: Float(row["bias"] as Double), preprocessingID: row["preprocessing_id"],
                  background: row["background"], definition: row["definition"], quality: row["quality"],
                  fingerprint: row["fingerprint"], createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    public func encode(to container: inout PersistenceContainer) {
        container["id"] = id == 0 ? nil : id
        container["name"] = name
        container["model_id"] = modelID
        container["kind"] = kind
        container["description"] = description
        container["direction"] = VectorBlob.encode(direction)
        container["bias"] = Double(bias)
        container["preprocessing_id"] = preprocessingID
        container["background"] = background
        container["definition"] = definition
        container["quality"] = quality
        container["fingerprint"] = fingerprint
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension HeadRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "heads"

    public init(row: Row) {
        let labelsText: String = row["labels"]
        self.init(id: row["id"], name: row["name"], modelID: row["model_id"], preprocessingID: row["preprocessing_id"],
                  labels: (try? JSONDecoder().decode([String].self, from: Data(labelsText.utf8))) ?? [],
                  weights: VectorBlob.decode(row["weights"]), bias: VectorBlob.decode(row["bias"]),
                  source: row["source"], hyperparameters: row["hyperparameters"], evaluation: row["evaluation"],
                  createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    public func encode(to container: inout PersistenceContainer) {
        container["id"] = id == 0 ? nil : id
        container["name"] = name
        container["model_id"] = modelID
        container["preprocessing_id"] = preprocessingID
        container["labels"] = String(decoding: (try? JSONEncoder().encode(labels)) ?? Data("[]".utf8), as: UTF8.self)
        container["classes"] = classes
        container["width"] = width
        container["weights"] = VectorBlob.encode(weights)
        container["bias"] = VectorBlob.encode(bias)
        container["source"] = source
        container["hyperparameters"] = hyperparameters
        container["evaluation"] = evaluation
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A row of `concept_examples`.
struct ConceptExampleRow: MutablePersistableRecord {
    static let databaseTableName = "concept_examples"
    var conceptID: Int64
    var imageID: Int64
    var role: ExampleRole

    func encode(to container: inout PersistenceContainer) {
        container["concept_id"] = conceptID
        container["image_id"] = imageID
        container["role"] = role.rawValue
    }
}

/// A row of `head_images`.
struct HeadImageRow: MutablePersistableRecord {
    static let databaseTableName = "head_images"
    var headID: Int64
    var imageID: Int64
    var classIndex: Int
    var path: String

    func encode(to container: inout PersistenceContainer) {
        container["head_id"] = headID
        container["image_id"] = imageID
        container["class_index"] = classIndex
        container["path"] = path
    }
}

extension Store {
    /// The id of the stored image with this content, or `StoreError.unknownImage`.
    static func imageID(_ db: Database, sha256: String, path: String) throws -> Int64 {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM images WHERE sha256 = ?", arguments: [sha256]) else {
            throw StoreError.unknownImage(path: path, sha256: sha256)
        }
        return id
    }
}
