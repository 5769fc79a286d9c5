import Concepts
import Foundation

/// The bounds every entry point applies (CLI options, `.concept` files, `concept import`, library calls), so
/// that hostile or mistyped values give one clear error instead of a crash or gigabytes of memory.
public enum Limits {
    /// Largest input side in pixels (--size): 1024 keeps a forward pass under a few GB (a 1022x1022 input has
    /// 5329 tokens; attention is quadratic in them).
    public static let maxSide = 1024
    /// Random concepts of the significance tests (--random-concepts, `random-concepts:`).
    public static let randomConcepts = 0...10_000
    /// --exclude-similar.
    public static let maxExcludeSimilar = 1_000_000
    /// A concept's name, in characters (file names are clipped further; the name itself is kept whole).
    public static let maxNameLength = 256
    /// A concept's description, in characters.
    public static let maxDescriptionLength = 10_000

    /// Checks an input size against the patch size and `maxSide`.
    /// - Throws: `WorkbenchError.usage` saying the limits.
    public static func checkSize(height: Int, width: Int, patch: Int) throws {
        for (side, label) in [(height, "height"), (width, "width")] {
            guard side > 0, side <= maxSide else {
                throw WorkbenchError.usage("--size: \(label) \(side) is outside 1...\(maxSide) pixels")
            }
            guard patch > 0, side % patch == 0, side >= patch else {
                throw WorkbenchError.usage("--size: \(label) \(side) is not a multiple of the patch size \(patch) (e.g. \(max(patch, side / max(patch, 1) * max(patch, 1))))")
            }
        }
    }

    /// Checks R of a significance test.
    /// - Throws: `WorkbenchError.usage` naming the option.
    public static func checkRandomConcepts(_ r: Int, option: String = "--random-concepts") throws {
        guard randomConcepts.contains(r) else {
            throw WorkbenchError.usage("\(option) \(r): give \(randomConcepts.lowerBound)...\(randomConcepts.upperBound)")
        }
    }

    /// Checks a concept's name: one line, no control characters (they would reach terminals raw), at most
    /// `maxNameLength` characters, not empty.
    /// - Throws: `WorkbenchError.usage` saying what is wrong.
    public static func checkConceptName(_ name: String) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw WorkbenchError.usage("a concept needs a one-line, non-empty name")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" }) else {
            throw WorkbenchError.usage("concept name \(printable(name)): no line breaks or control characters (such as terminal escapes)")
        }
        guard name.count <= maxNameLength else {
            throw WorkbenchError.usage("concept name of \(name.count) characters: at most \(maxNameLength)")
        }
    }

    /// Checks a concept's description (control characters other than line breaks and tabs are refused).
    /// - Throws: `WorkbenchError.usage`.
    public static func checkDescription(_ text: String, concept: String) throws {
        guard text.count <= maxDescriptionLength else {
            throw WorkbenchError.usage("concept '\(printable(concept))': description of \(text.count) characters, at most \(maxDescriptionLength)")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) else {
            throw WorkbenchError.usage("concept '\(printable(concept))': the description holds control characters (such as terminal escapes)")
        }
    }

    /// Whether `id` is a preprocessing id cdam could have stored: a short lowercase name, and when it is a
    /// Pillow pipeline ("pil-bicubic-..."), sides within the limits and multiples of the patch size.
    public static func isPreprocessingID(_ id: String, patch: Int) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 64,
              id.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else { return false }
        guard id.hasPrefix("pil-bicubic-") else { return true }
        guard let size = preprocessingSize(id) else { return false }
        return patch > 0 && size.height % patch == 0 && size.width % patch == 0
    }

    /// Parses a stored preprocessing id ("pil-bicubic-224x224", "pil-bicubic-crop-224x336") within the limits.
    public static func preprocessingSize(_ id: String) -> (height: Int, width: Int, crop: Bool)? {
        var rest = Substring(id)
        guard rest.hasPrefix("pil-bicubic-") else { return nil }
        rest = rest.dropFirst("pil-bicubic-".count)
        var crop = false
        if rest.hasPrefix("crop-") { crop = true; rest = rest.dropFirst(5) }
        let parts = rest.split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let h = Int(parts[0]), let w = Int(parts[1]), (1...maxSide).contains(h), (1...maxSide).contains(w) else { return nil }
        return (h, w, crop)
    }
}

/// A string safe to print on a terminal: control characters (ESC of ANSI sequences, CR, ...) shown escaped.
public func printable(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" {
            out += scalar.escaped(asASCII: true).replacingOccurrences(of: "\\u{", with: "\\u{")
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return "'" + out + "'"
}
