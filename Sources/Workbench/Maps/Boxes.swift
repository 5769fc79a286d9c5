// Boxes users give for `query --boxes FILE`: where each labelled object is in each image, in the original
// image's pixels, for the localisation figures (Attribution/Localisation.swift).
import Attribution
import Foundation

/// One labelled box of one image.
public struct LabelledBox: Codable, Sendable, Equatable {
    /// The image as the file names it: a path, or its end ("catdog.png", "multi-object/catdog.png").
    public var image: String
    /// A concept's name or a class label; matched without regard to case.
    public var label: String
    public var box: PixelBox

    public init(image: String, label: String, box: PixelBox) {
        self.image = image; self.label = label; self.box = box
    }
}

/// The boxes of a `--boxes` file.
public struct BoxFile: Sendable {
    public var boxes: [LabelledBox]
    /// The file, for messages.
    public var path: String

    public init(boxes: [LabelledBox], path: String) {
        self.boxes = boxes
        self.path = path
    }

    /// Reads a JSON or CSV file of boxes (by its extension; other names are tried as JSON, then CSV).
    ///
    /// JSON: `[{"image": "catdog.png", "label": "dog", "box": [x0, y0, x1, y1]}, ...]` (or that list under
    /// `"boxes"`). CSV: `image,label,x0,y0,x1,y1` per line, an optional header line, `#` comments.
    /// Coordinates are in the original image's pixels, x0 < x1 and y0 < y1.
    /// - Throws: `WorkbenchError.failed` naming the file (and the line or entry) that is wrong.
    public static func load(_ path: String) throws -> BoxFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkbenchError.failed("\(path): cannot read the boxes file (does it exist?)")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        if ext == "csv" { return try BoxFile(boxes: parseCSV(data, path: path), path: path) }
        if ext == "json" { return try BoxFile(boxes: parseJSON(data, path: path), path: path) }
        if let boxes = try? parseJSON(data, path: path) { return BoxFile(boxes: boxes, path: path) }
        return try BoxFile(boxes: parseCSV(data, path: path), path: path)
    }

    /// The boxes of `label` in the image at `url` (empty when there are none).
    public func boxes(for url: URL, label: String) -> [PixelBox] {
        boxes.filter { Self.names($0.image, url) && $0.label.lowercased() == label.lowercased() }.map(\.box)
    }

    /// Whether any box names the image at `url`.
    public func names(_ url: URL) -> Bool { boxes.contains { Self.names($0.image, url) } }

    /// The file's labels, each once, in order.
    public var labels: [String] {
        var seen = Set<String>()
        return boxes.map(\.label).filter { seen.insert($0.lowercased()).inserted }
    }

    /// An entry names a file when it is its path or the end of its path, whole components only.
    static func names(_ entry: String, _ url: URL) -> Bool {
        let path = url.standardizedFileURL.path, given = url.path
        let trimmed = entry.hasPrefix("./") ? String(entry.dropFirst(2)) : entry
        return entry == given || entry == path || path.hasSuffix("/" + trimmed) || given.hasSuffix("/" + trimmed) || given == trimmed
    }

    static func checked(_ image: String, _ label: String, _ c: [Double], at place: String, path: String) throws -> LabelledBox {
        guard !image.isEmpty else { throw WorkbenchError.failed("\(path): \(place): the image is empty") }
        guard !label.isEmpty else { throw WorkbenchError.failed("\(path): \(place): the label is empty") }
        guard c.count == 4 else {
            throw WorkbenchError.failed("\(path): \(place): a box is 4 numbers x0,y0,x1,y1 (got \(c.count))")
        }
        guard c.allSatisfy({ $0.isFinite && $0 >= 0 }), c[0] < c[2], c[1] < c[3] else {
            throw WorkbenchError.failed("\(path): \(place): box \(c.map { String(format: "%g", $0) }.joined(separator: ",")) is not x0,y0,x1,y1 with 0 <= x0 < x1 and 0 <= y0 < y1 (original image pixels)")
        }
        return LabelledBox(image: image, label: label, box: PixelBox(x0: c[0], y0: c[1], x1: c[2], y1: c[3]))
    }

    static func parseJSON(_ data: Data, path: String) throws -> [LabelledBox] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw WorkbenchError.failed("\(path): not valid JSON (\(error.localizedDescription)); expected [{\"image\": ..., \"label\": ..., \"box\": [x0, y0, x1, y1]}]")
        }
        guard let list = (root as? [Any]) ?? ((root as? [String: Any])?["boxes"] as? [Any]) else {
            throw WorkbenchError.failed("\(path): expected a list of {\"image\", \"label\", \"box\": [x0, y0, x1, y1]} (or that list under \"boxes\")")
        }
        return try list.enumerated().map { i, item in
            let place = "entry \(i + 1)"
            guard let o = item as? [String: Any], let image = o["image"] as? String, let label = o["label"] as? String else {
                throw WorkbenchError.failed("\(path): \(place): needs \"image\" and \"label\" strings")
            }
            let numbers: [Double]
            if let box = o["box"] as? [Any] {
                numbers = try box.map { v in
                    guard let n = v as? NSNumber else { throw WorkbenchError.failed("\(path): \(place): the box holds something other than numbers") }
                    return n.doubleValue
                }
            } else if let x0 = o["x0"] as? NSNumber, let y0 = o["y0"] as? NSNumber, let x1 = o["x1"] as? NSNumber, let y1 = o["y1"] as? NSNumber {
                numbers = [x0, y0, x1, y1].map(\.doubleValue)
            } else {
                throw WorkbenchError.failed("\(path): \(place): needs \"box\": [x0, y0, x1, y1]")
            }
            return try checked(image, label, numbers, at: place, path: path)
        }
    }

    static func parseCSV(_ data: Data, path: String) throws -> [LabelledBox] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw WorkbenchError.failed("\(path): not UTF-8 text; expected CSV lines image,label,x0,y0,x1,y1")
        }
        var out: [LabelledBox] = []
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = try csvFields(line, at: "line \(n + 1)", path: path)
            if out.isEmpty, fields.first?.lowercased() == "image" { continue }   // the header
            guard fields.count == 6 else {
                throw WorkbenchError.failed("\(path): line \(n + 1): expected 6 fields image,label,x0,y0,x1,y1 (got \(fields.count))")
            }
            let numbers = try fields[2...].map { f -> Double in
                guard let v = Double(f) else { throw WorkbenchError.failed("\(path): line \(n + 1): '\(f)' is not a number") }
                return v
            }
            out.append(try checked(fields[0], fields[1], numbers, at: "line \(n + 1)", path: path))
        }
        guard !out.isEmpty else { throw WorkbenchError.failed("\(path): no boxes in the file; expected lines image,label,x0,y0,x1,y1") }
        return out
    }

    /// Comma-separated fields, trimmed; a field may be quoted ("a, b"), with "" for a quote inside.
    static func csvFields(_ line: String, at place: String, path: String) throws -> [String] {
        var fields: [String] = [], current = "", quoted = false, wasQuoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { current.append("\""); chars.removeFirst() } else { quoted = false }
                } else { current.append(c) }
            } else if c == "\"" && current.trimmingCharacters(in: .whitespaces).isEmpty {
                quoted = true; wasQuoted = true; current = ""
            } else if c == "," {
                fields.append(wasQuoted ? current : current.trimmingCharacters(in: .whitespaces))
                current = ""; wasQuoted = false
            } else { current.append(c) }
        }
        guard !quoted else { throw WorkbenchError.failed("\(path): \(place): a quoted field is not closed") }
        fields.append(wasQuoted ? current : current.trimmingCharacters(in: .whitespaces))
        return fields
    }
}
