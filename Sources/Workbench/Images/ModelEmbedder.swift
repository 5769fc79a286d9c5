import Foundation
import Imaging
import TensorMath
import ViT

/// The embedder the commands use: decode, preprocess, and run the ViT in batches.
public final class ModelEmbedder: ImageEmbedder {
    public let model: LoadedModel
    public let preprocessing: Preprocessing
    public let decodeOptions: DecodeOptions
    /// The block whose CLS is the embedding (1-based); nil: the last block.
    public let block: Int?
    /// The network the embeddings come from: truncated after `block`.
    public let network: VisionTransformer
    /// Images per forward pass: 8 fills the BLAS well at 224 and keeps memory small.
    public var batchSize = 8

    public var modelName: String { model.name }
    public var modelSHA256: String { model.weightsSHA256 }
    public var width: Int { model.transformer.config.hiddenSize }
    public var patchSize: Int { model.transformer.config.patchSize }
    public var preprocessingID: String { BlockTag.id(preprocessing.id, block: block) }
    public var preprocessingDescription: String {
        "{\"id\":\"\(preprocessing.id)\",\"resize\":\"pillow-bicubic\",\"height\":\(preprocessing.height),\"width\":\(preprocessing.width),"
            + "\"crop\":\(preprocessing.crop),\"mean\":[0.485,0.456,0.406],\"std\":[0.229,0.224,0.225]}"
    }

    /// - Throws: `WorkbenchError.usage` when the model has no block `block`.
    public init(model: LoadedModel, preprocessing: Preprocessing, decodeOptions: DecodeOptions = .init(),
                block: Int? = nil) throws {
        self.model = model
        self.preprocessing = preprocessing
        self.decodeOptions = decodeOptions
        let layers = model.transformer.config.layers
        // The last block by number is the last block: one id for the same vectors.
        self.block = block == layers ? nil : block
        do { network = try model.transformer.truncated(after: block ?? layers) } catch let error as ModelError {
            throw WorkbenchError.usage("--layer: \(error.description)")
        }
    }

    /// The same model and block at another preprocessing.
    public func with(_ preprocessing: Preprocessing) -> ModelEmbedder {
        // The block was checked when self was made.
        try! ModelEmbedder(model: model, preprocessing: preprocessing, decodeOptions: decodeOptions, block: block)
    }

    public func embed(_ files: [URL]) -> [Result<EmbeddedImage, Error>] {
        var results: [Result<EmbeddedImage, Error>] = []
        var start = 0
        while start < files.count {
            let chunk = Array(files[start..<min(start + batchSize, files.count)])
            results += embedBatch(chunk)
            start += chunk.count
        }
        return results
    }

    func embedBatch(_ files: [URL]) -> [Result<EmbeddedImage, Error>] {
        let prepared = ImageInput.prepareAll(files, preprocessing: preprocessing, options: decodeOptions)
        let good = prepared.compactMap { try? $0.get() }
        var embeddings: [[Float]] = []
        if !good.isEmpty {
            do {
                let out = try network.forward(pixels: good.flatMap(\.pixels), batch: good.count,
                                                        height: preprocessing.height, width: preprocessing.width)
                embeddings = (0..<good.count).map(out.embedding)
            } catch {
                return files.map { _ in .failure(error) }
            }
        }
        var next = 0
        return prepared.map { result in
            result.map { p in
                defer { next += 1 }
                return EmbeddedImage(url: p.url, sha256: p.sha256, format: p.format.rawValue, height: p.original.height,
                                     width: p.original.width, embedding: embeddings[next])
            }
        }
    }
}

/// Opens the embedder the commands share: the model by name (or the default), at a size, its linear layers
/// at `precision` (every pass that does not name its own: see `QueryRequest.singleMapPrecision`).
/// - Throws: `WorkbenchError` for a missing model or a size that does not fit the patch size.
public func openEmbedder(home: Home, model: String?, height: Int, width: Int, crop: Bool,
                         allowTruncated: Bool, block: Int? = nil, precision: Precision = .fp32) throws -> ModelEmbedder {
    let loaded = try ModelRegistry(home: home).load(model)
    loaded.transformer.precision = precision
    try Limits.checkSize(height: height, width: width, patch: loaded.transformer.config.patchSize)
    do { try loaded.transformer.validate(height: height, width: width) } catch let error as ModelError {
        throw WorkbenchError.usage("--size: \(error.description)")
    }
    return try ModelEmbedder(model: loaded, preprocessing: Preprocessing(height: height, width: width, crop: crop),
                             decodeOptions: DecodeOptions(allowTruncated: allowTruncated), block: block)
}
