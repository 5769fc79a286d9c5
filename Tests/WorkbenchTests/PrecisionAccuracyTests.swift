import Attribution
import Concepts
import Foundation
import Imaging
import Testing
import ViT
@testable import Workbench

/// The bf16 route against the fp32 path on real photos (the ones opencv-doc ships, installed by
/// scripts/setup.sh) and the real model: CLS embeddings (cosine >= 0.999), CDAM maps from a bf16 forward
/// pass with the fp32 backward (Pearson r >= 0.99), and a concept's ranking of all the photos (Spearman
/// >= 0.99). Skipped, with the reason, without the model, the photos or AVX512-BF16.
struct PrecisionAccuracyTests {
    static let photos = "/usr/share/doc/opencv-doc/examples/data"

    static let modelDirectory: URL? = {
        var candidates: [String] = []
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CDAM_TEST_MODEL"] { candidates.append(dir) }
        if let home = env["CDAM_HOME"] { candidates.append(home + "/models/dinov2-small-imgfocus") }
        candidates.append(NSHomeDirectory() + "/.local/share/cdam/models/dinov2-small-imgfocus")
        return candidates.map { URL(fileURLWithPath: $0) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.safetensors").path) }
    }()

    static var runnable: Bool {
        modelDirectory != nil && FileManager.default.fileExists(atPath: photos + "/HappyFish.jpg") && Precision.bf16Available
    }
    static let reason: Comment = "needs the installed model (cdam model fetch), opencv-doc's photos (scripts/setup.sh) and a CPU with AVX512-BF16"

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in a.indices { ab += Double(a[i] * b[i]); aa += Double(a[i] * a[i]); bb += Double(b[i] * b[i]) }
        return ab / (aa * bb).squareRoot()
    }

    @Test(.enabled(if: runnable, reason))
    func embeddingsAndMapsMatchFP32() throws {
        let model = try VisionTransformer(directory: Self.modelDirectory!)
        let preprocessing = Preprocessing(size: 224, crop: false)
        let names = ["HappyFish.jpg", "baboon.jpg", "fruits.jpg", "butterfly.jpg", "building.jpg", "messi5.jpg",
                     "squirrel_cls.jpg", "starry_night.jpg"]
        let images = try names.map { try ImageInput.prepare(URL(fileURLWithPath: Self.photos + "/" + $0), preprocessing: preprocessing,
                                                            options: DecodeOptions()) }
        // The targets: cosine towards a photo outside the set (towards a photo's own embedding the cosine is at
        // its maximum, its gradient near zero and the map noise), and a contrast of two photos.
        let apple = try ImageInput.prepare(URL(fileURLWithPath: Self.photos + "/apple.jpg"), preprocessing: preprocessing,
                                           options: DecodeOptions())
        let fp32 = try images.map { try model.forward(pixels: $0.pixels, batch: 1, height: 224, width: 224,
                                                      options: ForwardOptions(keep: .lastBlock, precision: .fp32)) }
        let bf16 = try images.map { try model.forward(pixels: $0.pixels, batch: 1, height: 224, width: 224,
                                                      options: ForwardOptions(keep: .lastBlock, precision: .bf16)) }
        let e = fp32.map { $0.embedding(0) }
        let targets = [Target(name: "towards apple", kind: .cosine,
                              direction: try model.forward(pixels: apple.pixels, batch: 1, height: 224, width: 224).embedding(0)),
                       Target(name: "fish not baboon", kind: .contrast, direction: zip(e[0], e[1]).map { $0 - $1 })]
        var worstCosine = 1.0, worstR: Float = 1
        for i in images.indices {
            let c = Self.cosine(e[i], bf16[i].embedding(0))
            worstCosine = min(worstCosine, c)
            let a = cdam(model, fp32[i], image: 0, targets: targets).maps, b = cdam(model, bf16[i], image: 0, targets: targets).maps
            for k in targets.indices {
                let r = pearson(a[k], b[k])
                worstR = min(worstR, r)
                #expect(r >= 0.99, "\(names[i]), target \(targets[k].name): CDAM map r = \(r) between fp32 and bf16")
            }
            #expect(c >= 0.999, "\(names[i]): embedding cosine \(c) between fp32 and bf16")
        }
        print("bf16 vs fp32 on \(images.count) photos: worst embedding cosine \(String(format: "%.5f", worstCosine)), worst CDAM map r \(String(format: "%.4f", worstR))")
    }

    /// A concept (mean of three photos minus the mean of all) ranks every photo opencv-doc ships alike.
    @Test(.enabled(if: runnable, reason))
    func retrievalRankingMatchesFP32() throws {
        let model = try VisionTransformer(directory: Self.modelDirectory!)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.photos)
            .filter { $0.lowercased().hasSuffix(".jpg") }.sorted().map { URL(fileURLWithPath: Self.photos + "/" + $0) }
        let images = ImageInput.prepareAll(files, preprocessing: Preprocessing(size: 224, crop: false), options: DecodeOptions())
            .compactMap { try? $0.get() }
        func embeddings(_ precision: Precision) throws -> [[Float]] {
            stride(from: 0, to: images.count, by: 8).flatMap { start -> [[Float]] in
                let chunk = Array(images[start..<min(start + 8, images.count)])
                let r = try! model.forward(pixels: chunk.flatMap(\.pixels), batch: chunk.count, height: 224, width: 224,
                                           options: ForwardOptions(precision: precision))
                return (0..<chunk.count).map(r.embedding)
            }
        }
        let a = try embeddings(.fp32), b = try embeddings(.bf16)
        let names = images.map { $0.url.lastPathComponent }
        let examples = ["left01.jpg", "left02.jpg", "right01.jpg"].compactMap { names.firstIndex(of: $0) }
        let d = a[0].count
        var direction = [Float](repeating: 0, count: d)
        for j in 0..<d {
            var all: Float = 0, chosen: Float = 0
            for v in a { all += v[j] }
            for i in examples { chosen += a[i][j] }
            direction[j] = chosen / Float(examples.count) - all / Float(a.count)
        }
        let scoresA = a.map { Float(Self.cosine($0, direction)) }, scoresB = b.map { Float(Self.cosine($0, direction)) }
        let rho = spearman(scoresA, scoresB)
        #expect(images.count >= 40, "only \(images.count) photos decoded")
        #expect(rho >= 0.99, "Spearman \(rho) between the fp32 and bf16 rankings of \(images.count) photos")
        print("bf16 vs fp32 ranking of \(images.count) photos by a concept: Spearman \(rho)")
    }
}
