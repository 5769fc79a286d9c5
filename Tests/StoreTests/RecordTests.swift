import Foundation
import GRDB
import Testing
@testable import Store

@Suite struct RecordTests {
    @Test(arguments: Backing.allCases)
    func modelsRoundTripAndRefuseOtherWeights(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let first = try model(fixture.store)
        let again = try model(fixture.store)
        #expect(first == again)
        #expect(first.width == width && first.patchSize == 14 && first.preprocessing == #"{"size":224}"#)
        #expect(try fixture.store.model(named: "tiny") == first)
        #expect(try fixture.store.model(id: first.id) == first)
        #expect(try fixture.store.models() == [first])
        #expect {
            try model(fixture.store, weights: String(repeating: "b", count: 64))
        } throws: { error in
            guard case StoreError.modelChanged = error else { return false }
            return "\(error)".hasPrefix(fixture.store.path)
        }
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func metaRoundTrips(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        #expect(try fixture.store.meta("default_model") == nil)
        try fixture.store.setMeta("default_model", "tiny")
        try fixture.store.setMeta("default_model", "other")
        #expect(try fixture.store.meta("default_model") == "other")
        try fixture.store.setMeta("default_model", nil)
        #expect(try fixture.store.meta("default_model") == nil)
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func imagesEmbeddingsAndMatrixRoundTrip(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let store = fixture.store
        let m = try model(store)
        try store.saveEmbeddedImages((1...5).map { newImage($0) }, modelID: m.id, preprocessingID: "p224", collection: "holiday")
        // The same content seen elsewhere is one image with two paths.
        try store.recordSightings([ImageSighting(sha256: sha(2), path: "/copy/2.jpg")], collection: "copies")

        let image = try #require(try store.findImage(sha256: sha(2)))
        #expect(image.byteSize == 1002 && image.format == "jpeg" && image.height == 102 && image.width == 202)
        #expect(Set(image.paths) == ["/photos/2.jpg", "/copy/2.jpg"])
        #expect(try store.findImage(sha256: sha(99)) == nil)

        #expect(try store.embeddedSHA256s(among: [sha(1), sha(3), sha(99)], modelID: m.id, preprocessingID: "p224") == [sha(1), sha(3)])
        #expect(try store.embeddedSHA256s(among: [sha(1)], modelID: m.id, preprocessingID: "p448").isEmpty)
        let vectors = try store.embeddings(for: [sha(4), sha(5), sha(99)], modelID: m.id, preprocessingID: "p224")
        #expect(vectors == [sha(4): vector(4), sha(5): vector(5)])

        let all = try store.embeddingMatrix(modelID: m.id, preprocessingID: "p224", collection: nil)
        #expect(all.count == 5 && all.width == width && all.values.count == 5 * width)
        #expect(Array(all.values[width..<(2 * width)]) == vector(2))
        #expect(all.sha256s == (1...5).map { sha($0) })
        let copies = try store.embeddingMatrix(modelID: m.id, preprocessingID: "p224", collection: "copies")
        #expect(copies.sha256s == [sha(2)] && copies.paths == ["/copy/2.jpg"] && copies.values == vector(2))
        let holiday = try store.embeddingMatrix(modelID: m.id, preprocessingID: "p224", collection: "holiday")
        #expect(holiday.paths == (1...5).map { "/photos/\($0).jpg" })
        #expect(throws: StoreError.self) { try store.embeddingMatrix(modelID: m.id, preprocessingID: "p224", collection: "nope") }
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func aBatchIsAllOrNothing(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let m = try model(fixture.store)
        let batch = [newImage(1), newImage(2), newImage(3, width: width + 1)]
        #expect(throws: StoreError.self) {
            try fixture.store.saveEmbeddedImages(batch, modelID: m.id, preprocessingID: "p", collection: "c")
        }
        #expect(try fixture.store.findImage(sha256: sha(1)) == nil)
        #expect(try fixture.store.collections().isEmpty)
        #expect(throws: StoreError.self) {
            try fixture.store.recordSightings([ImageSighting(sha256: sha(7), path: "/x")], collection: "c")
        }
        #expect(try fixture.store.collections().isEmpty)
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func uniqueNaturalKeysHold(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let m = try model(fixture.store)
        try fixture.store.saveEmbeddedImages([newImage(1)], modelID: m.id, preprocessingID: "p", collection: "c")
        // Saving the same image again (same hash, same path) changes nothing.
        try fixture.store.saveEmbeddedImages([newImage(1)], modelID: m.id, preprocessingID: "p", collection: "c")
        let counts = try fixture.store.read { db in
            try ["images", "image_paths", "embeddings", "collection_images", "collections"].map {
                try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)")!
            }
        }
        #expect(counts == [1, 1, 1, 1, 1])
        let duplicates = [
            "INSERT INTO models(name, weights_sha256, width, patch_size, created_at) VALUES ('tiny', 'x', 8, 14, 'now')",
            "INSERT INTO images(sha256, byte_size, format, height, width) VALUES ('\(sha(1))', 1, 'png', 1, 1)",
            "INSERT INTO collections(name, created_at) VALUES ('c', 'now')",
            "INSERT INTO embeddings(image_id, model_id, preprocessing_id, vector, created_at) VALUES (1, \(m.id), 'p', x'00000000', 'now')",
            "INSERT INTO image_paths(image_id, path, first_seen, last_seen) VALUES (1, '/photos/1.jpg', 'a', 'b')",
            "INSERT INTO collection_images(collection_id, image_id, path, added_at) VALUES (1, 1, '/x', 'now')",
            // STRICT tables refuse a wrongly typed value, foreign keys a dangling reference.
            "INSERT INTO images(sha256, byte_size, format, height, width) VALUES ('\(sha(9))', 'big', 'png', 1, 1)",
            "INSERT INTO image_paths(image_id, path, first_seen, last_seen) VALUES (999, '/nowhere', 'a', 'b')",
        ]
        for sql in duplicates {
            #expect(throws: DatabaseError.self, "\(sql)") { try fixture.store.writer.write { db in try db.execute(sql: sql) } }
        }
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func conceptsRoundTripAndReplaceAtomically(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let store = fixture.store
        let m = try model(store)
        try store.saveEmbeddedImages((1...4).map { newImage($0) }, modelID: m.id, preprocessingID: "p", collection: "bg")
        let concept = ConceptRecord(name: "dog", modelID: m.id, kind: "centred", description: "dogs",
                                    direction: vector(42), bias: -0.25, preprocessingID: "p", background: "collection:bg",
                                    definition: #"{"examples":["/dogs"]}"#, quality: #"{"exampleCount":2}"#, fingerprint: "f1")
        let examples = [ConceptExample(sha256: sha(1), role: .positive), ConceptExample(sha256: sha(2), role: .positive),
                        ConceptExample(sha256: sha(3), role: .background)]
        let saved = try store.saveConcept(concept, examples: examples)
        #expect(saved.id > 0 && !saved.createdAt.isEmpty && saved.createdAt == saved.updatedAt)
        var expected = concept
        expected.id = saved.id; expected.createdAt = saved.createdAt; expected.updatedAt = saved.updatedAt
        #expect(saved == expected)
        #expect(try store.concept(named: "dog", modelID: m.id) == saved)
        #expect(try store.concept(named: "cat", modelID: m.id) == nil)
        #expect(try store.concepts(modelID: m.id) == [saved])
        #expect(try Set(store.conceptExamples(conceptID: saved.id).map(\.example)) == Set(examples))

        // A failed redefinition (an example never stored) leaves the old one whole.
        var broken = concept
        broken.direction = vector(7)
        #expect(throws: StoreError.self) {
            try store.saveConcept(broken, examples: [ConceptExample(sha256: sha(77), role: .positive)])
        }
        #expect(try store.concept(named: "dog", modelID: m.id) == saved)
        #expect(try store.conceptExamples(conceptID: saved.id).count == 3)
        // A wrong width is refused too.
        broken.direction = [1, 2, 3]
        #expect(throws: StoreError.self) { try store.saveConcept(broken, examples: []) }

        // A good redefinition replaces everything but the id and creation time.
        var redefined = concept
        redefined.kind = "mean"; redefined.direction = vector(8); redefined.bias = 0; redefined.fingerprint = "f2"
        let replaced = try store.saveConcept(redefined, examples: [ConceptExample(sha256: sha(4), role: .positive)])
        #expect(replaced.id == saved.id && replaced.createdAt == saved.createdAt)
        #expect(replaced.kind == "mean" && replaced.direction == vector(8) && replaced.fingerprint == "f2")
        #expect(try store.conceptExamples(conceptID: saved.id).map(\.example) == [ConceptExample(sha256: sha(4), role: .positive)])
        #expect(try store.conceptExamples(conceptID: saved.id).map(\.path) == ["/photos/4.jpg"])

        #expect(try store.removeConcept(named: "dog", modelID: m.id))
        #expect(try !store.removeConcept(named: "dog", modelID: m.id))
        #expect(try store.concepts(modelID: nil).isEmpty)
        // Its images stay cached.
        #expect(try store.findImage(sha256: sha(4)) != nil)
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func aConceptIsNeverUsedWithAnotherModel(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let store = fixture.store
        let small = try model(store, name: "small", weights: String(repeating: "1", count: 64))
        let other = try model(store, name: "other", weights: String(repeating: "2", count: 64))
        try store.saveConcept(ConceptRecord(name: "dog", modelID: small.id, kind: "mean", direction: vector(1), preprocessingID: "p"), examples: [])
        #expect {
            try store.concept(named: "dog", modelID: other.id)
        } throws: { error in
            let text = "\(error)"
            return text.contains("concept 'dog' was defined with model small (sha256 111111111111") && text.contains("--model other")
        }
        // The same name may exist for each model independently.
        try store.saveConcept(ConceptRecord(name: "dog", modelID: other.id, kind: "mean", direction: vector(2), preprocessingID: "p"), examples: [])
        #expect(try store.concept(named: "dog", modelID: other.id)?.direction == vector(2))
        #expect(try store.concepts(modelID: nil).count == 2)
        try fixture.checkIntegrity()
    }

    @Test(arguments: Backing.allCases)
    func collectionsAndPrune(_ backing: Backing) throws {
        let fixture = try Fixture(backing)
        let store = fixture.store
        let m = try model(store)
        try store.saveEmbeddedImages((1...4).map { newImage($0) }, modelID: m.id, preprocessingID: "p", collection: "a")
        try store.saveEmbeddedImages([newImage(5)], modelID: m.id, preprocessingID: "p", collection: "b")
        try store.recordSightings([ImageSighting(sha256: sha(3), path: "/moved/3.jpg")], collection: nil)
        try store.createCollection(named: "empty")
        #expect(try store.collections().map { "\($0.name):\($0.imageCount)" } == ["a:4", "b:1", "empty:0"])
        #expect(try store.collectionMembers(named: "a").map(\.path) == (1...4).map { "/photos/\($0).jpg" })
        #expect(try store.collectionMembers(named: "a", limit: 2).count == 2)
        #expect(try store.collection(named: "b")?.imageCount == 1)
        #expect(throws: StoreError.self) { try store.collectionMembers(named: "zzz") }

        // Image 1 is a concept example; images 1, 2 and 3 lose their files at /photos.
        try store.saveConcept(ConceptRecord(name: "c", modelID: m.id, kind: "mean", direction: vector(1), preprocessingID: "p"),
                              examples: [ConceptExample(sha256: sha(1), role: .positive)])
        let gone: Set<String> = ["/photos/1.jpg", "/photos/2.jpg", "/photos/3.jpg"]
        let summary = try store.prune { !gone.contains($0) }
        #expect(summary.pathsForgotten == 3)
        #expect(summary.membershipsForgotten == 2)      // 1 and 2; 3 moves to /moved/3.jpg
        #expect(summary.imagesForgotten == 1)           // 2
        #expect(summary.imagesKeptForConcepts == 1)     // 1
        #expect(try store.findImage(sha256: sha(2)) == nil)
        #expect(try store.embeddings(for: [sha(1)], modelID: m.id, preprocessingID: "p")[sha(1)] == vector(1))
        #expect(try store.collectionMembers(named: "a").map(\.path) == ["/moved/3.jpg", "/photos/4.jpg"])

        // Removing a collection keeps its images until a prune finds nothing uses them.
        #expect(try store.removeCollection(named: "b"))
        #expect(try !store.removeCollection(named: "b"))
        #expect(try store.findImage(sha256: sha(5)) != nil)
        #expect(try store.prune { _ in true }.imagesForgotten == 1)
        #expect(try store.findImage(sha256: sha(5)) == nil)
        try fixture.checkIntegrity()
    }
}
