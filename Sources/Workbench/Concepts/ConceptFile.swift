import Concepts
import Foundation
import Store

/// Concept definitions kept as text files (`concepts/NAME.concept`), loaded by `concept sync`.
///
/// The format is one `key: value` per line; `#` starts a comment line, and `#` after a space a comment at the end of
/// a line (write `\#` for a literal '#'); blank lines are ignored.
///
///     name: fruit                      # default: the file's name without .concept
///     description: apples and oranges  # free text
///     kind: mean                       # mean | cosine | contrast | centred | probe | whitened
///     examples: photos/fruit           # folder, file or glob; repeat the line for several
///     negatives: photos/not-fruit      # same forms; optional, repeatable
///     background: holiday              # a stored collection; optional
///     random-concepts: 50              # R of the significance test
///     exclude-similar: 20              # background images most like the examples to leave out
///
/// Relative paths are relative to the file's folder; globs may use braces:
/// `/usr/share/doc/opencv-doc/examples/data/{apple,orange}.jpg`; `${NAME}` in a path is the environment
/// variable NAME (e.g. `${SKIMAGE_DATA}/chelsea.png`, for data whose place differs between machines).
public enum ConceptFile {
    /// The extension of concept files.
    public static let fileExtension = "concept"
    static let keys = ["name", "description", "kind", "examples", "negatives", "background", "random-concepts", "exclude-similar"]

    /// Parses the text of a concept file found at `url`.
    /// - Throws: `WorkbenchError.failed` naming the file and line for an unknown key, a bad value, an unset
    ///   environment variable or missing examples.
    public static func parse(_ text: String, at url: URL,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConceptDefinition {
        var values: [String: [String]] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(url.path):\(index + 1)"
            guard let colon = line.firstIndex(of: ":") else {
                throw WorkbenchError.failed("\(place): expected 'key: value', got '\(line)'")
            }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            // " #" starts a comment (also after a tab); "\#" is a literal '#', so a value can hold " #".
            value = stripComment(value)
            guard keys.contains(key) else {
                throw WorkbenchError.failed("\(place): unknown key '\(key)'; known keys: \(keys.joined(separator: ", "))")
            }
            guard !value.isEmpty else { throw WorkbenchError.failed("\(place): '\(key)' has no value") }
            if ["examples", "negatives"].contains(key) == false, values[key] != nil {
                throw WorkbenchError.failed("\(place): '\(key)' is given twice")
            }
            if key == "examples" || key == "negatives" {
                value = try expandVariables(value, environment: environment, place: place)
            }
            values[key, default: []].append(value)
        }
        let name = values["name"]?.first ?? url.deletingPathExtension().lastPathComponent
        var kind = Target.Kind.mean
        if let text = values["kind"]?.first {
            guard let parsed = Target.Kind(rawValue: text), parsed != .classLogit else {
                throw WorkbenchError.failed("\(url.path): kind '\(text)' is not one of mean, cosine, contrast, centred, probe, whitened")
            }
            kind = parsed
        }
        var random = 50
        if let text = values["random-concepts"]?.first {
            guard let parsed = Int(text), Limits.randomConcepts.contains(parsed) else {
                throw WorkbenchError.failed("\(url.path): random-concepts '\(text)' is not a whole number in \(Limits.randomConcepts.lowerBound)...\(Limits.randomConcepts.upperBound)")
            }
            random = parsed
        }
        var excludeSimilar = 0
        if let text = values["exclude-similar"]?.first {
            guard let parsed = Int(text), parsed >= 0, parsed <= Limits.maxExcludeSimilar else {
                throw WorkbenchError.failed("\(url.path): exclude-similar '\(text)' is not a whole number in 0...\(Limits.maxExcludeSimilar)")
            }
            excludeSimilar = parsed
        }
        guard let examples = values["examples"], !examples.isEmpty else {
            throw WorkbenchError.failed("\(url.path): no 'examples:' line; name at least one folder, file or glob of example images")
        }
        return ConceptDefinition(name: name, description: values["description"]?.first ?? "", kind: kind,
                                 examples: examples, negatives: values["negatives"] ?? [],
                                 background: values["background"]?.first, randomConcepts: random,
                                 base: url.deletingLastPathComponent().path, file: url.path, excludeSimilar: excludeSimilar)
    }

    /// The value before an inline comment (a '#' after whitespace), with `\#` turned into '#'.
    static func stripComment(_ value: String) -> String {
        let chars = Array(value)
        var out = "", i = 0
        while i < chars.count {
            let ch = chars[i]
            if ch == "\\", i + 1 < chars.count, chars[i + 1] == "#" { out.append("#"); i += 2; continue }
            if ch == "#", i > 0, chars[i - 1] == " " || chars[i - 1] == "\t" { break }
            out.append(ch)
            i += 1
        }
        return out.trimmingCharacters(in: .whitespaces)
    }

    /// Replaces each `${NAME}` with the environment's value.
    static func expandVariables(_ value: String, environment: [String: String], place: String) throws -> String {
        var out = "", rest = Substring(value)
        while let open = rest.range(of: "${") {
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw WorkbenchError.failed("\(place): unclosed '${' in '\(value)'")
            }
            let name = String(rest[open.upperBound..<close])
            guard let replacement = environment[name], !replacement.isEmpty else {
                throw WorkbenchError.failed("\(place): environment variable \(name) is not set (used in '\(value)'); set it or edit the path")
            }
            out += rest[..<open.lowerBound] + replacement
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// Reads and parses a concept file.
    /// - Throws: `WorkbenchError.failed` naming the file when it cannot be read or parsed.
    public static func load(_ url: URL) throws -> ConceptDefinition {
        let data = try readInputFile(url, what: "concept file", limit: 1 << 20)
        guard let text = String(data: data, encoding: .utf8) else {
            throw WorkbenchError.failed("\(url.path): the concept file is not UTF-8 text")
        }
        return try parse(text, at: url.standardizedFileURL)
    }
}

/// What `concept sync` did with each file.
public struct SyncReport: Codable, Sendable {
    public var directory: String
    /// One per concept file that loaded: status "defined" or "unchanged".
    public var concepts: [ConceptSummary]
    /// Files that failed, and example images that failed inside concepts that were still defined.
    public var errors: [FileFailure]

    /// 0 when all went well, 3 when some failed and some succeeded, 1 when nothing succeeded.
    public var exitCode: Int32 {
        if errors.isEmpty { return 0 }
        return concepts.isEmpty ? 1 : 3
    }
}

/// Loads every `*.concept` file of `directory` into the store, idempotently: a concept whose definition
/// and example contents are unchanged is left alone, any other is (re)defined. One bad file does not stop the others.
/// - Throws: `WorkbenchError.failed` when the folder cannot be read; per-file problems go to the report.
public func syncConcepts(directory: URL, embedder: ImageEmbedder, store: Store,
                         progress: ((LibraryProgress) -> Void)? = nil) throws -> SyncReport {
    let folder = directory.standardizedFileURL
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
        throw WorkbenchError.failed("\(folder.path): cannot read the concepts folder (\(error.localizedDescription))")
    }
    let files = names.filter { $0.hasSuffix(".\(ConceptFile.fileExtension)") && !$0.hasPrefix(".") }.sorted()
        .map { folder.appendingPathComponent($0) }
    guard !files.isEmpty else {
        throw WorkbenchError.failed("\(folder.path): no *.\(ConceptFile.fileExtension) files (see README, concept files)")
    }
    var report = SyncReport(directory: folder.path, concepts: [], errors: [])
    var seen: [String: String] = [:]
    for (index, file) in files.enumerated() {
        progress?(LibraryProgress(phase: "concept \(file.lastPathComponent)", done: index, total: files.count,
                                  failed: report.errors.count))
        do {
            let definition = try ConceptFile.load(file)
            if let other = seen[definition.name] {
                throw WorkbenchError.failed("\(file.path): concept '\(definition.name)' is already defined by \(other)")
            }
            seen[definition.name] = file.path
            let summary = try defineConcept(definition, embedder: embedder, store: store, onlyIfChanged: true)
            report.concepts.append(summary)
            report.errors += summary.errors ?? []
        } catch {
            let text = "\(error)"
            report.errors.append(FileFailure(image: file.path, error: text.hasPrefix(file.path) ? text : "\(file.path): \(text)"))
        }
    }
    return report
}
