import ArgumentParser
import Foundation
import Server
import Workbench

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The workbench in a browser: explain uploaded photos with stored concepts, list concepts, and a JSON API.",
        discussion: """
        Serves pages (Explain: upload a photo, tick concepts, see each map on the photo; Concepts: every concept with its verdict) and a JSON API mirroring the command line's documents:
          GET  /api/concepts                  concept list --json
          GET  /api/concepts/NAME             concept show NAME --json
          POST /api/concepts                  concept define from stored images (JSON body; measured unless "save")
          GET  /api/collections[/NAME]        collection list / show --json
          GET  /api/images/SHA256[/explain?concept=A]   a stored image, or query --json of it
          GET  /api/search?concept=NAME&top=K search --json
          POST /api/explain?concept=A&concept=B&maps=cdam,am   (body: the image's bytes)
                                              query --json, each picture a data: URL
          GET  /api/status                    jobs waiting
        Errors are JSON, {"error": MESSAGE, "status": CODE}, with the command line's messages; an upload over --max-upload, or with more pixels than the decoder takes (100 million), gets 413. One model is loaded and shared; the numeric work runs one request at a time off the event loop (each uses every core), the others wait.

        It listens on loopback (127.0.0.1) unless --host says otherwise; another host needs --allow-remote, and then every request must carry the token printed at start.

        Examples:
          cdam serve
          cdam serve --port 9000 --collection holiday
          curl -s localhost:8080/api/concepts
          curl -s --data-binary @photo.jpg 'localhost:8080/api/explain?concept=dog&maps=cdam,am'
        """)

    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Flag(help: "Allow a --host other than loopback; requests then need the printed token.") var allowRemote = false
    @Option(help: ArgumentHelp("Largest upload in megabytes.", valueName: "MB")) var maxUpload = 32
    @Option(help: ArgumentHelp("The collection Search and Define use, and percentiles are read against, unless a request names another (default: every stored image; each concept's background).", valueName: "name"))
    var collection: String?
    @OptionGroup var preprocess: PreprocessOptions
    @OptionGroup var homeOptions: HomeOptions
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): give 0 to 65535") }
        guard (1...1024).contains(maxUpload) else { throw ValidationError("--max-upload \(maxUpload): give 1 to 1024 (MB)") }
    }

    func run() async throws {
        try await runReportingErrors {
            var settings = ServerSettings()
            settings.host = host
            settings.port = port
            settings.input = try preprocess.settings(modelOptions)
            settings.maxUploadBytes = maxUpload << 20
            settings.collection = collection
            if !settings.isLoopback {
                guard allowRemote else {
                    throw WorkbenchError.usage("--host \(host) lets other machines connect; add --allow-remote to mean it (requests then need a token)")
                }
                settings.token = (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max)) }.joined()
                printError("warning: listening beyond this machine on \(host); anyone with the token can read your concepts and images")
            }
            // Load the model before listening, so the first request does not wait for it and a broken model fails here.
            let session = homeOptions.session()
            _ = try session.embedder(settings.input)
            if let collection { _ = try session.collection(collection, limit: 1) }
            try await WorkbenchServer.run(settings: settings, session: session) { address in
                print("cdam serve: \(address)  (Ctrl-C stops)")
                fflush(stdout)
            }
        }
    }
}
