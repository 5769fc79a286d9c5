// Writes the safetensors format (huggingface/safetensors): an 8-byte little-endian header length,
// a JSON header, then the tensors' raw little-endian bytes.
import Foundation

/// One float32 tensor to write.
public struct SafetensorsEntry: Sendable {
    /// The tensor's name in the file.
    public var name: String
    /// The shape, outermost first.
    public var shape: [Int]
    /// Float32 values as little-endian bytes (a slice of a mapped file is fine).
    public var bytes: Data

    /// An entry from bytes already in little-endian float32 order.
    public init(name: String, shape: [Int], bytes: Data) {
        self.name = name
        self.shape = shape
        self.bytes = bytes
    }

    /// An entry from float values.
    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        bytes = values.withUnsafeBufferPointer { Data(buffer: $0) }
    }
}

/// A failure to write a safetensors file.
public enum SafetensorsWriteError: Error, CustomStringConvertible {
    /// An entry's byte count does not match its shape.
    case sizeMismatch(path: String, tensor: String, shape: [Int], bytes: Int)
    /// Two entries share a name.
    case duplicateName(path: String, tensor: String)
    /// The file could not be written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .sizeMismatch(path, tensor, shape, bytes):
            return "\(path): tensor \(tensor) has shape \(shape) but \(bytes) bytes of data; this is a bug in the converter"
        case let .duplicateName(path, tensor):
            return "\(path): tensor \(tensor) appears twice; this is a bug in the converter"
        case let .io(path, reason):
            return "\(path): cannot write (\(reason)); check free space and permissions"
        }
    }
}

/// Writes float32 tensors to a .safetensors file.
public enum SafetensorsWriter {
    /// Writes `entries` to `url`, sorted by name, with an optional `__metadata__` map.
    /// - Throws: `SafetensorsWriteError` for a size mismatch, a duplicate name or an I/O failure.
    public static func write(_ entries: [SafetensorsEntry], metadata: [String: String] = [:], to url: URL) throws {
        let path = url.path
        let sorted = entries.sorted { $0.name < $1.name }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.name == b.name {
            throw SafetensorsWriteError.duplicateName(path: path, tensor: a.name)
        }
        for entry in sorted where entry.bytes.count != entry.shape.reduce(1, *) * 4 {
            throw SafetensorsWriteError.sizeMismatch(path: path, tensor: entry.name, shape: entry.shape,
                                                      bytes: entry.bytes.count)
        }
        let header = headerBytes(sorted, metadata: metadata)
        var prefix = Data()
        var length = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &length) { prefix.append(contentsOf: $0) }
        prefix.append(header)
        do {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw SafetensorsWriteError.io(path: path, reason: "cannot create the file")
            }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.write(contentsOf: prefix)
            for entry in sorted { try handle.write(contentsOf: entry.bytes) }
            try handle.synchronize()
        } catch let error as SafetensorsWriteError {
            throw error
        } catch {
            throw SafetensorsWriteError.io(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// The JSON header, padded with spaces so that the data starts on an 8-byte boundary.
    static func headerBytes(_ sorted: [SafetensorsEntry], metadata: [String: String]) -> Data {
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for entry in sorted {
            let end = offset + entry.bytes.count
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(entry.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var json = Array("{\(parts.joined(separator: ","))}".utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        return Data(json)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
