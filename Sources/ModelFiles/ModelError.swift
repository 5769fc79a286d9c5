/// What can go wrong when loading a checkpoint; each case prints as one line naming the file or tensor.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    case missingFile(String)
    case badConfig(String, String)
    case badSafetensors(String, String)
    case missingTensor(String, expected: [Int])
    case unexpectedTensor(String, shape: [Int])
    case wrongShape(String, expected: [Int], found: [Int])
    case badInput(String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): file not found; run `cdam model fetch` or `cdam model import DIR`"
        case .badConfig(let path, let why):
            return "\(path): invalid model config: \(why)"
        case .badSafetensors(let path, let why):
            return "\(path): not a valid safetensors file: \(why); re-run `cdam model fetch` (or re-import the model)"
        case .missingTensor(let name, let expected):
            return "checkpoint lacks tensor '\(name)' (expected shape \(expected))"
        case .unexpectedTensor(let name, let shape):
            return "checkpoint has an unknown tensor '\(name)' with shape \(shape): not a DINOv2 or ViT checkpoint?"
        case .wrongShape(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), expected \(expected)"
        case .badInput(let why):
            return why
        }
    }
}
