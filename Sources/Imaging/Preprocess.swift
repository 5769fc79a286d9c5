// The reference preprocessing of the CDAM notebook: RGB, Pillow bicubic resize, /255,
// ImageNet mean and std; optionally shorter-side resize plus centre crop (torchvision style).

/// How an image becomes the model's input tensor.
public struct Preprocessing: Codable, Hashable, Sendable {
    /// Output rows.
    public var height: Int
    /// Output columns.
    public var width: Int
    /// false: resize straight to height x width (the paper's); true: resize the shorter side
    /// (keeping the aspect ratio) until the target fits, then crop the centre.
    public var crop: Bool

    /// A pipeline producing height x width inputs.
    public init(height: Int, width: Int, crop: Bool = false) {
        self.height = height
        self.width = width
        self.crop = crop
    }

    /// A square pipeline: `size` x `size`.
    public init(size: Int, crop: Bool = false) {
        self.init(height: size, width: size, crop: crop)
    }

    /// Stable text id stored with embeddings: "pil-bicubic-224x224", "pil-bicubic-crop-224x224"
    /// (height x width).
    public var id: String {
        "pil-bicubic-\(crop ? "crop-" : "")\(height)x\(width)"
    }

    /// ImageNet channel means, in RGB order, on the 0...1 scale.
    public static let mean: [Double] = [0.485, 0.456, 0.406]
    /// ImageNet channel standard deviations, in RGB order.
    public static let std: [Double] = [0.229, 0.224, 0.225]
}

/// The resized (and, with `crop`, centre-cropped) RGB image the model sees, before normalization.
public func preprocessedImage(_ image: RGBImage, _ p: Preprocessing) -> RGBImage {
    guard p.crop else { return resizeBicubic(image, width: p.width, height: p.height) }
    let (w, h) = (image.width, image.height)
    let newW: Int, newH: Int
    if Double(p.width) / Double(w) >= Double(p.height) / Double(h) {
        newW = p.width
        newH = max(p.height, Int(Double(p.width) * Double(h) / Double(w)))
    } else {
        newH = p.height
        newW = max(p.width, Int(Double(p.height) * Double(w) / Double(h)))
    }
    let resized = resizeBicubic(image, width: newW, height: newH)
    let top = Int((Double(newH - p.height) / 2).rounded(.toNearestOrEven))
    let left = Int((Double(newW - p.width) / 2).rounded(.toNearestOrEven))
    return resized.cropped(x: left, y: top, width: p.width, height: p.height)
}

/// Scales to 0...1 and normalizes with the ImageNet mean and std; CHW layout (3 x H x W).
/// Values are computed in Double and rounded to Float once, as numpy does before `.float()`.
public func normalize(_ image: RGBImage) -> [Float] {
    let plane = image.width * image.height
    var table = [Float](repeating: 0, count: 3 * 256)
    for c in 0..<3 {
        for v in 0..<256 {
            table[c * 256 + v] = Float((Double(v) / 255 - Preprocessing.mean[c]) / Preprocessing.std[c])
        }
    }
    return [Float](unsafeUninitializedCapacity: 3 * plane) { out, n in
        image.pixels.withUnsafeBufferPointer { px in
            table.withUnsafeBufferPointer { t in
                for i in 0..<plane {
                    out[i] = t[Int(px[i * 3])]
                    out[plane + i] = t[256 + Int(px[i * 3 + 1])]
                    out[2 * plane + i] = t[512 + Int(px[i * 3 + 2])]
                }
            }
        }
        n = 3 * plane
    }
}

/// The model input for `image`: CHW floats, 3 * p.height * p.width, normalized.
public func preprocess(_ image: RGBImage, _ p: Preprocessing) -> [Float] {
    normalize(preprocessedImage(image, p))
}

extension Preprocessing {
    /// The rectangle of an original `width` x `height` image that the model's input covers, in the
    /// original's pixels: the whole image for a plain resize (the grid is stretched over it), the centre
    /// part that survives the crop with `crop`. Maps back onto the original through it.
    public func inputRegion(width w: Int, height h: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        guard crop, w > 0, h > 0 else { return (0, 0, Double(w), Double(h)) }
        // The same arithmetic as `preprocessedImage`.
        let newW: Int, newH: Int
        if Double(width) / Double(w) >= Double(height) / Double(h) {
            newW = width
            newH = max(height, Int(Double(width) * Double(h) / Double(w)))
        } else {
            newH = height
            newW = max(width, Int(Double(height) * Double(w) / Double(h)))
        }
        let top = (Double(newH - height) / 2).rounded(.toNearestOrEven)
        let left = (Double(newW - width) / 2).rounded(.toNearestOrEven)
        let sx = Double(w) / Double(newW), sy = Double(h) / Double(newH)
        return (left * sx, top * sy, Double(width) * sx, Double(height) * sy)
    }
}
