import Concepts
import Foundation
import Hummingbird
import Logging
import Workbench

/// Where and how `cdam serve` listens.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Required in every request's `token` query parameter (or `Authorization: Bearer`) when set: the server
    /// listens beyond loopback.
    public var token: String?
    /// The largest image a request may upload.
    public var maxUploadBytes = 32 << 20
    /// The model and preprocessing uploads are explained with.
    public var input = InputSettings()
    /// The collection searched, defined from and read percentiles against when a request names none.
    public var collection: String?

    public init() {}

    /// Whether `host` is a loopback address (only this machine can connect).
    public var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) }
}

/// Runs the workbench's use cases one at a time, on a thread of its own: the numeric work never blocks the
/// server's event loops, and one job already uses every core (its matrix products are parallel). Requests that
/// arrive meanwhile wait their turn; `waiting` counts them.
final class Worker: @unchecked Sendable {
    private let queue = DispatchQueue(label: "cdam.serve.worker")
    private let session: WorkbenchSession
    private let lock = NSLock()
    private var queued = 0

    init(session: WorkbenchSession) { self.session = session }

    /// Jobs queued or running.
    var waiting: Int { lock.withLock { queued } }

    func run<T: Sendable>(_ job: @escaping @Sendable (WorkbenchSession) throws -> T) async throws -> T {
        lock.withLock { queued += 1 }
        defer { lock.withLock { queued -= 1 } }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try job(self.session) }) }
        }
    }
}

/// `POST /api/concepts`: a concept from stored images (by sha256).
struct DefineRequest: Codable, Sendable {
    var name: String
    var kind: String
    var description: String?
    var examples: [String]
    var negatives: [String]?
    var background: String?
    /// Store it (default: measure only).
    var save: Bool?
    var replace: Bool?
}

/// An error as the API returns it: the same one-line message the command line prints.
struct APIError: Error, Codable {
    var error: String
    var status: Int
}

/// `cdam serve`: the JSON API under `/api/` (the command line's documents) and the pages.
public enum WorkbenchServer {
    /// Builds the router; `run` serves it.
    static func router(settings: ServerSettings, worker: Worker) -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(TokenMiddleware(token: settings.token))

        router.get("/") { _, _ in html(Pages.explain) }
        router.get("/concepts") { _, _ in html(Pages.concepts) }
        router.get("/search") { _, _ in html(Pages.search) }
        router.get("/define") { _, _ in html(Pages.define) }
        router.get("/concept") { _, _ in html(Pages.concept) }
        router.get("/api/settings") { _, _ in
            struct Public: Codable { var collection: String? }
            return try json(Public(collection: settings.collection))
        }

        router.get("/api/collections") { _, _ in
            try await respond { try await worker.run { try $0.collections() } }
        }
        router.get("/api/collections/:name") { request, context in
            let name = context.parameters.get("name") ?? ""
            let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 200
            return try await respond { try await worker.run { try $0.collection(name, limit: max(1, min(limit, 5000))) } }
        }
        // Stored images only, by content: the API never reads a path a client names.
        router.get("/api/images/:sha256") { _, context in
            let sha = context.parameters.get("sha256") ?? ""
            do {
                let file = try await worker.run { try $0.storedImageFile(sha256: sha) }
                let data = try Data(contentsOf: file)
                let type = ["jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"][ImageFiles.sniff(data) ?? ""] ?? "application/octet-stream"
                return Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600"],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
            } catch {
                return jsonError(.notFound, "\(error)")
            }
        }
        router.get("/api/images/:sha256/explain") { request, context in
            let sha = context.parameters.get("sha256") ?? ""
            let query = request.uri.queryParameters
            let concepts = query[values: "concept"].map(String.init)
            guard !concepts.isEmpty else { return jsonError(.badRequest, "choose at least one concept: ?concept=NAME") }
            let maps: [MapKind]
            do { maps = try MapKind.parseList(query["maps"].map(String.init) ?? "cdam") } catch { return jsonError(.badRequest, "\(error)") }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-serve-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            return try await respond {
                var report = try await worker.run { session -> QueryReport in
                    var options = QueryOptions(images: [try session.storedImageFile(sha256: sha).path])
                    options.concepts = concepts
                    options.maps = maps
                    options.input = settings.input
                    options.collection = settings.collection
                    options.out = folder
                    return try session.query(options).report
                }
                if let failure = report.errors.first, report.results.isEmpty { throw APIError(error: failure.error, status: 422) }
                inlinePictures(&report, uploadFolder: folder)
                return report
            }
        }
        // Define from stored images: measured (figures and verdict) unless "save" is true.
        router.post("/api/concepts") { request, context in
            let body: DefineRequest
            do { body = try await request.decode(as: DefineRequest.self, context: context) } catch {
                return jsonError(.badRequest, "send JSON {name, kind, examples: [sha256], negatives: [sha256], background?, description?, save?, replace?}")
            }
            return try await respond {
                try await worker.run { session -> ConceptSummary in
                    guard let kind = Target.Kind(rawValue: body.kind), kind != .classLogit else {
                        throw WorkbenchError.usage("kind '\(body.kind)': use mean, cosine, contrast, centred, probe or whitened")
                    }
                    guard body.examples.count <= 1000, (body.negatives ?? []).count <= 10_000 else {
                        throw WorkbenchError.usage("at most 1000 examples and 10,000 negatives")
                    }
                    let examples = try body.examples.map { try session.storedImageFile(sha256: $0).path }
                    let negatives = try (body.negatives ?? []).map { try session.storedImageFile(sha256: $0).path }
                    let definition = ConceptDefinition(name: body.name, description: body.description ?? "", kind: kind,
                                                       examples: examples, negatives: negatives, background: body.background,
                                                       randomConcepts: 50)
                    return try session.define(definition, input: settings.input, replace: body.replace ?? false,
                                              dryRun: !(body.save ?? false))
                }
            }
        }

        router.get("/api/concepts") { _, _ in
            try await respond { try await worker.run { try $0.concepts() } }
        }
        router.get("/api/concepts/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            return try await respond { try await worker.run { try $0.concept(name) } }
        }
        router.get("/api/search") { request, _ in
            let query = request.uri.queryParameters
            guard let concept = query["concept"].map(String.init) else {
                return jsonError(.badRequest, "give ?concept=NAME (see /api/concepts)")
            }
            let top = query["top"].flatMap { Int($0) } ?? 10
            let collection = query["collection"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? settings.collection
            let examples = query["examples"] == "true"
            guard (1...1000).contains(top) else { return jsonError(.badRequest, "top \(top): give 1 to 1000") }
            return try await respond {
                try await worker.run { try $0.search(concept, model: nil, collection: collection, top: top, includeExamples: examples) }
            }
        }
        router.post("/api/explain") { request, context in
            try await explain(request, settings: settings, worker: worker)
        }
        router.get("/api/status") { _, _ in
            struct Status: Codable { var waiting: Int }
            return try json(Status(waiting: worker.waiting))
        }
        return router
    }

    /// `POST /api/explain?concept=A&concept=B&maps=cdam,am&name=photo.jpg`, the image's bytes as the body: the
    /// `query` document, with each picture inlined as a `data:` URL where the command line gives a file's path.
    static func explain(_ request: Request, settings: ServerSettings, worker: Worker) async throws -> Response {
        let query = request.uri.queryParameters
        let concepts = query[values: "concept"].map(String.init)
        guard !concepts.isEmpty else { return jsonError(.badRequest, "choose at least one concept: ?concept=NAME (see /api/concepts)") }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > settings.maxUploadBytes {
            return jsonError(.contentTooLarge, "the image is \(length) bytes; the limit is \(settings.maxUploadBytes) bytes")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: settings.maxUploadBytes) } catch {
            return jsonError(.contentTooLarge, "the image is larger than the limit of \(settings.maxUploadBytes) bytes")
        }
        guard body.readableBytes > 0 else { return jsonError(.badRequest, "send the image's bytes as the request body") }
        let maps: [MapKind]
        do { maps = try MapKind.parseList(query["maps"].map(String.init) ?? "cdam") } catch {
            return jsonError(.badRequest, "\(error)")
        }
        // The upload is written to a folder of its own, named as the user's file (for the labels), and removed after.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cdam-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let name = sanitizedName(query["name"].map(String.init) ?? "upload")
        let file = folder.appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(body.readableBytesView).write(to: file)
        } catch {
            return jsonError(.internalServerError, "cannot keep the upload (\(error.localizedDescription)); check the temporary folder's free space")
        }
        var options = QueryOptions(images: [file.path])
        options.concepts = concepts
        options.maps = maps
        options.input = settings.input
        options.collection = settings.collection
        options.out = folder.appendingPathComponent("pictures")
        let request = options
        return try await respond {
            var outcome = try await worker.run { try $0.query(request) }
            if let failure = outcome.report.errors.first, outcome.report.results.isEmpty {
                // A picture with more pixels than the decoder takes is too large a request, like too many bytes.
                let tooLarge = failure.error.contains("pixels is above the limit")
                throw APIError(error: failure.error.replacingOccurrences(of: folder.path + "/", with: ""), status: tooLarge ? 413 : 422)
            }
            inlinePictures(&outcome.report, uploadFolder: folder)
            return outcome.report
        }
    }

    /// Replaces each picture's path by a `data:image/png;base64,` URL, and the upload's temporary path by its name.
    static func inlinePictures(_ report: inout QueryReport, uploadFolder: URL) {
        func inline(_ path: String) -> String {
            guard let data = FileManager.default.contents(atPath: path) else { return path }
            return "data:image/png;base64," + data.base64EncodedString()
        }
        for r in report.results.indices {
            report.results[r].image = report.results[r].image.replacingOccurrences(of: uploadFolder.path + "/", with: "")
            report.results[r].panel = report.results[r].panel.map(inline)
            for t in report.results[r].targets.indices {
                report.results[r].targets[t].overlays = report.results[r].targets[t].overlays?.mapValues(inline)
            }
        }
    }

    static func sanitizedName(_ name: String) -> String {
        let base = (name as NSString).lastPathComponent
        let kept = base.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "._- ".unicodeScalars.contains($0) }
        let clean = String(String.UnicodeScalarView(kept)).trimmingCharacters(in: .whitespaces)
        return clean.isEmpty || clean.hasPrefix(".") ? "upload" : String(clean.prefix(100))
    }

    /// Serves `session` until the process is stopped; `onListening` is called with the address once it accepts
    /// connections.
    public static func run(settings: ServerSettings, session: WorkbenchSession,
                           onListening: @escaping @Sendable (String) -> Void) async throws {
        let worker = Worker(session: session)
        var logger = Logger(label: "cdam.serve")
        logger.logLevel = .warning
        let app = Application(router: router(settings: settings, worker: worker),
                              configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "cdam"),
                              onServerRunning: { channel in
                                  let port = channel.localAddress?.port ?? settings.port
                                  let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
                                  onListening("http://\(host):\(port)/" + (settings.token.map { "?token=\($0)" } ?? ""))
                              }, logger: logger)
        try await app.runService()
    }
}

/// Refuses requests without the token when one is set.
struct TokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else { return try await next(request, context) }
        let given = request.uri.queryParameters["token"].map(String.init)
            ?? request.headers[.authorization].map { $0.replacingOccurrences(of: "Bearer ", with: "") }
        guard given == token else { return jsonError(.unauthorized, "this server needs its token: open the address `cdam serve` printed (…?token=…)") }
        return try await next(request, context)
    }
}

/// Runs a use case and answers with its document as JSON, or with the error as JSON and a fitting status.
func respond<T: Encodable & Sendable>(_ body: () async throws -> T) async throws -> Response {
    do {
        return try json(try await body())
    } catch let error as APIError {
        return jsonError(HTTPResponse.Status(code: error.status), error.error)
    } catch let error as WorkbenchError {
        return jsonError(error.exitCode == 2 ? .badRequest : .unprocessableContent, error.description)
    } catch {
        return jsonError(.unprocessableContent, "\(error)")
    }
}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

func jsonError(_ status: HTTPResponse.Status, _ message: String) -> Response {
    (try? json(APIError(error: message, status: status.code), status: status))
        ?? Response(status: status, body: .init(byteBuffer: ByteBuffer(string: message)))
}

func html(_ page: String) -> Response {
    Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
}
