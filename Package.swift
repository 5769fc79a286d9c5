// swift-tools-version: 6.1
import PackageDescription

// Optimised builds of the numeric modules even in debug test runs: the forward and
// backward passes are loops over millions of floats.
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"]), .swiftLanguageMode(.v5)]
// The elementwise kernels (GELU, softmax, LayerNorm) in 8-wide AVX2 instead of baseline SSE2: "haswell"
// means a Haswell (2013) or newer CPU, which every machine this project runs on has.
#if arch(x86_64)
let kernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"]), .swiftLanguageMode(.v5)]
#else
let kernels = fast
#endif
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "cdam",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cdam", targets: ["cdam"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // System libraries (OpenBLAS is loaded at run time: see TensorMath/BLAS.swift).
        // zlib: the fast PNG writer (png_fast.c) compresses with it directly.
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("z"),
                                 .linkedLibrary("webp"), .linkedLibrary("webpdemux")]),

        // Hand-written AVX-512 kernels, chosen at run time: the linear layers on weights packed at load
        // (TensorMath/Linear.swift) and the fused attention (TensorMath/FusedAttention.swift).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // Tensor math: matrix products (OpenBLAS or CKernels) and the elementwise kernels.
        .target(name: "TensorMath", dependencies: ["CKernels"], swiftSettings: kernels),
        // The model's files: config.json, safetensors, ONNX conversion, fetch. They parse untrusted bytes,
        // so they are built with Swift's checks (overflow traps, preconditions kept), never -Ounchecked.
        .target(name: "ModelFiles", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ], swiftSettings: v5),
        // The Vision Transformer: weights, forward pass (re-exports ModelFiles).
        .target(name: "ViT", dependencies: ["TensorMath", "ModelFiles"], swiftSettings: fast),
        // Attribution maps: CDAM (hand-written backward), AM, rollout, RP, TAM, faithfulness.
        .target(name: "Attribution", dependencies: ["TensorMath", "ViT", "Concepts"], swiftSettings: fast),
        // Concept vectors and probes built from embeddings, and their quality figures.
        .target(name: "Concepts", dependencies: ["TensorMath"], swiftSettings: fast),
        // Image decoding, Pillow-matching preprocessing, heatmaps and encoding.
        .target(name: "Imaging", dependencies: ["CImageCodecs"], swiftSettings: fast),
        // The SQLite store.
        // The SQL of migrations/ (linked as Sources/Store/SQL) is compiled in: add a line here per migration.
        .target(name: "Store", dependencies: [.product(name: "GRDB", package: "GRDB.swift"),
                                              .product(name: "GRDBSQLite", package: "GRDB.swift")],
                exclude: ["SQL/README.md"],
                resources: [.embedInCode("SQL/0001_initial.sql"), .embedInCode("SQL/0002_heads.sql")],
                swiftSettings: fast),
        // Use cases: embed, define, index, search, query, report.
        .target(name: "Workbench", dependencies: [
            "TensorMath", "ViT", "Attribution", "Concepts", "Imaging", "Store",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: v5),
        // The command line: parses and prints, nothing else.
        .executableTarget(name: "cdam", dependencies: [
            "Workbench",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: v5),

        // The parsers' fuzz entries (model files, concept files) and their libFuzzer driver: fuzz/run.sh parsers.
        .target(name: "FuzzTargets", dependencies: ["ModelFiles", "ViT", "Store", "Workbench"], swiftSettings: v5),
        .executableTarget(name: "cdam-fuzz", dependencies: ["FuzzTargets"], swiftSettings: v5),

        // Shared by the test targets: the real model and the PyTorch fixtures.
        .target(name: "TestSupport", dependencies: ["ViT"], path: "Tests/Support", swiftSettings: v5),
        .testTarget(name: "TensorMathTests", dependencies: ["TensorMath"], swiftSettings: v5),
        .testTarget(name: "ViTTests", dependencies: ["ViT", "TensorMath", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "AttributionTests", dependencies: ["Attribution", "ViT", "TensorMath", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "ConceptsTests", dependencies: ["Concepts"], exclude: ["Fixtures"], swiftSettings: v5),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "StoreTests", dependencies: ["Store"], swiftSettings: v5),
        .testTarget(name: "WorkbenchTests", dependencies: ["Workbench", "Store", "Concepts", "FuzzTargets",
                                                           .product(name: "GRDBSQLite", package: "GRDB.swift")],
                    swiftSettings: v5),
        .testTarget(name: "CLITests", dependencies: [], exclude: ["Fixtures"], swiftSettings: v5),
    ]
)
