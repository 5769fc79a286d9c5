import ArgumentParser
import Foundation
import Store
import Workbench

/// `cdam collection`: the named sets of indexed images.
struct CollectionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collection",
        abstract: "List, show, remove and prune collections of indexed images.",
        subcommands: [List.self, Show.self, Remove.self, Prune.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every collection with its image count.", discussion: "Examples:\n  cdam collection list\n  cdam collection list --json")
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.collections() }) { collections in
                if collections.isEmpty { print("no collections yet (make one with `cdam index DIR --collection NAME`)"); return }
                for c in collections { print("\(c.name)\t\(c.imageCount) images\tcreated \(c.createdAt)") }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A collection's embeddings per model and its images.", discussion: "Examples:\n  cdam collection show holiday\n  cdam collection show holiday --limit 100 --json")
        @Argument(help: ArgumentHelp("The collection.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("Show at most this many images.", valueName: "n")) var limit = 20
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.collection(name, limit: limit) }) { details in
                print("collection '\(details.collection.name)': \(details.collection.imageCount) images, created \(details.collection.createdAt)")
                for count in details.embeddings { print("  \(count.count) embedded with \(count.model) at \(count.preprocessing)") }
                for image in details.images { print("  \(image.path)  \(image.width)x\(image.height) \(image.format)  \(image.sha256.prefix(12))") }
                if details.collection.imageCount > details.images.count {
                    print("  ... \(details.collection.imageCount - details.images.count) more (--limit)")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a collection (its images stay until `prune`).", discussion: "Examples:\n  cdam collection remove holiday && cdam collection prune")
        @Argument(help: ArgumentHelp("The collection.", valueName: "name")) var name: String
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.removeCollection(name) }) { removed in
                print("removed collection '\(removed.name)' (\(removed.imageCount) images; `cdam collection prune` forgets the ones nothing else uses)")
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget files that no longer exist and images nothing uses; keep embeddings that concepts use.",
            discussion: "Examples:\n  cdam collection prune\n  cdam collection prune --json")
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await present(homeOptions, output, { try $0.prune() }) { summary in
                print("forgot \(summary.pathsForgotten) missing paths, \(summary.membershipsForgotten) collection entries and \(summary.imagesForgotten) images; kept \(summary.imagesKeptForConcepts) images whose files are gone because concepts or heads use them")
            }
        }
    }
}
