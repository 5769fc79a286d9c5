import Foundation

/// Float vectors as stored: float32, little-endian, packed.
enum VectorBlob {
    /// The blob of `values`.
    static func encode(_ values: [Float]) -> Data {
        var data = Data(count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, x) in values.enumerated() {
                raw.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        }
        return data
    }

    /// The floats of a blob (its byte count must be a multiple of 4).
    static func decode(_ data: Data) -> [Float] {
        let count = data.count / 4
        if count == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            copy(data, into: UnsafeMutableRawPointer(buffer.baseAddress!), count: count)
            initialized = count
        }
    }

    /// Copies the first `count` floats of `data` into `destination`.
    static func copy(_ data: Data, into destination: UnsafeMutableRawPointer, count: Int) {
        guard count > 0 else { return }
        data.withUnsafeBytes { raw in
            #if _endian(little)
            destination.copyMemory(from: raw.baseAddress!, byteCount: count * 4)
            #else
            for i in 0..<count {
                let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                destination.storeBytes(of: Float(bitPattern: bits), toByteOffset: i * 4, as: Float.self)
            }
            #endif
        }
    }
}
