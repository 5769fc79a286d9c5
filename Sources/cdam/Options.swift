import ArgumentParser
import Foundation
import Workbench
import Store

/// `--home` and `--db`: where the workbench keeps its models and database.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The cdam home (models/ and cdam.sqlite).", discussion: "Default: $CDAM_HOME, else $XDG_DATA_HOME/cdam, else ~/.local/share/cdam.", valueName: "dir"))
    var home: String?

    @Option(name: .long, help: ArgumentHelp("The SQLite database (default: HOME/cdam.sqlite).", valueName: "path"))
    var db: String?

    var resolvedHome: Home { Home.resolve(explicit: home) }

    /// The workbench session of one command: this home and database; notes and warnings go to stderr.
    func session() -> WorkbenchSession {
        WorkbenchSession(home: resolvedHome, database: db.map { URL(fileURLWithPath: $0) }, warn: printError)
    }
}

/// `--model`: which installed model embeds.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Model name under HOME/models (default: the model marked default).", valueName: "name"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("The linear layers' arithmetic on commands that run the model: fp32, bf16 (bf16 products with fp32 sums; needs a CPU with AVX512-BF16) or auto.", discussion: "Default: $CDAM_PRECISION, else auto: bf16 for embedding collections (index, embed, concept define), TAM, Smooth/Integrated CDAM and faithfulness where this CPU runs bf16 faster than fp32, fp32 otherwise and for single CDAM maps. Some CPUs (e.g. Xeon Emerald Rapids) run bf16 at half the fp32 rate: auto measures and keeps fp32 there (README, bf16).", valueName: "fp32|bf16|auto"))
    var precision: String?

    /// The precision asked for (--precision, else CDAM_PRECISION, else auto).
    func precisionChoice() throws -> PrecisionChoice { try PrecisionSetting.choice(flag: precision) }

    /// The precision of the model's multi-pass work (embedding, TAM, averaged maps).
    func multiPassPrecision() throws -> Precision {
        try PrecisionSetting.resolve(precisionChoice(), multiPass: true)
    }
}

/// `--size` and `--crop`: the preprocessing (INTERFACE.md, "Preprocessing defaults").
struct PreprocessOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Input size: S (square) or HxW, multiples of the patch size.", valueName: "S|HxW"))
    var size: String = "224"

    @Flag(name: .long, help: "Resize the shorter side and centre-crop instead of resizing to the exact size (the paper's default).")
    var crop = false

    @Flag(name: .long, help: "Accept truncated JPEGs that decode only partly (with a warning) instead of refusing them.")
    var allowTruncated = false

    @Option(name: .long, help: ArgumentHelp("Embed with the CLS of block L (1 = first; default: the last). On dinov2-small-imgfocus blocks 10-11 tell concepts apart better than 12 (README, Concepts at an earlier block); stored concepts keep the block they were defined at.", valueName: "L"))
    var layer: String?

    /// The block asked for: nil for the last block (or no --layer), "auto" left to the command.
    func parsedLayer() throws -> Int? {
        guard let layer, layer != "auto" else { return nil }
        guard let l = Int(layer), l >= 1 else {
            throw ValidationError("--layer \(layer): expected a block number from 1 (the first) to the model's depth (12 for ViT-S/14), or auto with concept define and concept evaluate")
        }
        return l
    }

    /// The model and preprocessing these options ask for.
    func settings(_ model: ModelOptions) throws -> InputSettings {
        let (height, width) = try parsedSize()
        return InputSettings(model: model.model, height: height, width: width, crop: crop, allowTruncated: allowTruncated,
                             block: try parsedLayer(), precision: try model.precisionChoice())
    }

    /// The size as (height, width).
    func parsedSize() throws -> (height: Int, width: Int) {
        let parts = size.lowercased().split(separator: "x").map { Int($0) }
        switch parts.count {
        case 1: if let s = parts[0], s > 0 { return (s, s) }
        case 2: if let h = parts[0], let w = parts[1], h > 0, w > 0 { return (h, w) }
        default: break
        }
        throw ValidationError("--size \(size): expected S or HxW with positive integers, e.g. 224 or 224x336")
    }
}

/// `--json`: one JSON document on stdout instead of human-readable text.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on stdout (see README, JSON output).")
    var json = false
}

/// Prints a one-line error to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Runs a command body, turning workbench errors into one stderr line and their exit code.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as WorkbenchError {
        printError("error: \(error.description)")
        throw ExitCode(error.exitCode)
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

/// Runs one use case of the command's session and prints its document: JSON with --json, else as `text` says.
func present<Document: Encodable>(_ home: HomeOptions, _ output: OutputOptions,
                                  _ useCase: (WorkbenchSession) throws -> Document,
                                  text: (Document) -> Void) async throws {
    try await runReportingErrors {
        let document = try useCase(home.session())
        if output.json { try printJSON(document) } else { text(document) }
    }
}

/// Writes a JSON-encodable value to stdout, keys in a stable order.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Whether stderr is a terminal: progress is shown only then (INTERFACE.md).
var stderrIsTerminal: Bool { isatty(2) != 0 }
