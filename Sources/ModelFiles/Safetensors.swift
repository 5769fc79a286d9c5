import Foundation

/// A read-only safetensors file: an 8-byte header length, a JSON header, then raw tensor data.
///
/// Tensors are read on request with positioned reads and converted to `Float` (from F32, F16 or BF16):
/// unlike a memory map, the file's pages do not stay resident beside the converted weights.
public final class SafetensorsFile {
    public struct Entry: Sendable {
        public var dtype: String
        public var shape: [Int]
        /// Byte range inside the data section.
        public var start: Int
        public var end: Int
    }

    public let url: URL
    public let entries: [String: Entry]
    /// Free-form `__metadata__` strings.
    public let metadata: [String: String]
    private let handle: FileHandle
    private let dataStart: Int

    /// Opens and validates a safetensors file: every entry's dtype, shape and byte range must agree.
    /// - Throws: `ModelError.missingFile`, or `ModelError.badSafetensors` saying what is inconsistent.
    public init(url: URL) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(url.path) }
        let fail = { (why: String) in ModelError.badSafetensors(url.path, why) }
        let handle: FileHandle
        let fileSize: Int
        do {
            handle = try FileHandle(forReadingFrom: url)
            fileSize = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            throw fail("cannot read (\(error.localizedDescription))")
        }
        guard fileSize >= 8, let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else {
            throw fail("file is \(fileSize) bytes, shorter than its header")
        }
        // The length is a u64: one of 2^63 or more does not fit an Int (converting it would trap).
        let rawLength = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard let headerLength = Int(exactly: rawLength), headerLength > 1, headerLength <= 100_000_000,
              headerLength <= fileSize - 8 else {
            throw fail("header length \(rawLength) does not fit a \(fileSize)-byte file (truncated?)")
        }
        guard let headerData = try? handle.read(upToCount: headerLength), headerData.count == headerLength,
              let json = try? JSONSerialization.jsonObject(with: headerData),
              let header = json as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataLength = fileSize - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let dict = value as? [String: Any], let dtype = dict["dtype"] as? String,
                  let shape = dict["shape"] as? [Int], let offsets = dict["data_offsets"] as? [Int],
                  offsets.count == 2 else {
                throw fail("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let size = SafetensorsFile.byteSize(dtype) else {
                throw fail("tensor '\(name)' has unsupported dtype \(dtype) (F32, F16, BF16 are read)")
            }
            guard shape.count <= 8, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)' has shape \(shape): negative sizes or more than 8 dimensions")
            }
            // Products that overflow are errors, not traps (or wrapped sizes in an unchecked build).
            var count = 1, overflow = false
            for dim in shape where !overflow { (count, overflow) = count.multipliedReportingOverflow(by: dim) }
            let (bytes, overflowBytes) = count.multipliedReportingOverflow(by: size)
            guard !overflow, !overflowBytes else {
                throw fail("tensor '\(name)' shape \(shape) has more elements than fit in memory")
            }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == bytes else {
                throw fail("tensor '\(name)' shape \(shape) does not match its byte range \(offsets)")
            }
            guard offsets[1] <= dataLength else {
                throw fail("tensor '\(name)' ends at byte \(offsets[1]) past the data (\(dataLength) bytes): truncated")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, start: offsets[0], end: offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        self.handle = handle
        self.dataStart = dataStart
    }

    deinit { try? handle.close() }

    static func byteSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F16", "BF16": return 2
        default: return nil
        }
    }

    /// The tensor's values as floats, row-major.
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw ModelError.missingTensor(name, expected: []) }
        let count = (e.end - e.start) / (SafetensorsFile.byteSize(e.dtype) ?? 4)
        var out = [Float](repeating: 0, count: count)
        let bytes: Data
        do {
            try handle.seek(toOffset: UInt64(dataStart + e.start))
            bytes = try handle.read(upToCount: e.end - e.start) ?? Data()
        } catch {
            throw ModelError.badSafetensors(url.path, "cannot read tensor '\(name)' (\(error.localizedDescription))")
        }
        guard bytes.count == e.end - e.start else {
            throw ModelError.badSafetensors(url.path, "tensor '\(name)' is cut short: the file changed while being read")
        }
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            out.withUnsafeMutableBufferPointer { dst in
                switch e.dtype {
                case "F32":
                    memcpy(dst.baseAddress!, base, count * 4)
                    #if _endian(big)
                    for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: dst[i].bitPattern)) }
                    #endif
                case "F16":
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        dst[i] = Float(Float16(bitPattern: bits))
                    }
                default: // BF16: the top half of an F32
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        dst[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                }
            }
        }
        return out
    }

    /// The tensor as floats after checking its shape.
    /// - Throws: `ModelError.missingTensor` or `ModelError.wrongShape` naming the tensor and both shapes.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let e = entries[name] else { throw ModelError.missingTensor(name, expected: shape) }
        guard e.shape == shape else { throw ModelError.wrongShape(name, expected: shape, found: e.shape) }
        return try floats(name)
    }
}
