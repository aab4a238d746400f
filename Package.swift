// swift-tools-version:6.0
import PackageDescription

// Swift code is compiled for Haswell (AVX2 + FMA): every x86-64 machine we run on has it,
// and compute-bound loops run 2–4× faster than at the baseline target.
let fast: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]

let package = Package(
    name: "latent",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "latent", targets: ["latent"]),
        .library(name: "LatentCore", targets: ["LatentCore"]),
        .library(name: "LatentIO", targets: ["LatentIO"]),
        .library(name: "LatentPreprocess", targets: ["LatentPreprocess"]),
        .library(name: "LatentModels", targets: ["LatentModels"]),
        .library(name: "LatentEnrich", targets: ["LatentEnrich"]),
        .library(name: "LatentPipeline", targets: ["LatentPipeline"]),
        .library(name: "LatentReport", targets: ["LatentReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML pipeline files, read through the Node API so every error can name FILE:LINE.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Chunk (de)compression of h5ad arrays: faster than zlib, same stream format.
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        // Vectorised element-wise math (libmvec); see the header for why this is C.
        .target(name: "CKernels",
                cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-mavx2", "-mfma"]),
                            .unsafeFlags(["-fveclib=libmvec"], .when(platforms: [.linux]))],
                linkerSettings: [.linkedLibrary("mvec", .when(platforms: [.linux]))]),
        .target(name: "LatentCore", dependencies: ["CBLAS", "CKernels"], swiftSettings: fast),
        // Async-signal-safe cleanup of a half-written output on Ctrl-C.
        .target(name: "CRuntime"),
        .target(name: "LatentIO", dependencies: ["LatentCore", "CHDF5", "CZlib", "CDeflate", "CRuntime", "CKernels"], swiftSettings: fast),
        .target(name: "LatentPreprocess", dependencies: ["LatentCore", "CKernels"], swiftSettings: fast),
        .target(name: "LatentModels", dependencies: ["LatentCore", "LatentIO", "LatentPreprocess", "CBLAS", "CKernels"],
                exclude: ["VAE/README-programs.md"], swiftSettings: fast),
        .target(name: "LatentEnrich", dependencies: ["LatentCore", "LatentIO"], swiftSettings: fast),
        .target(name: "LatentReport", dependencies: ["LatentCore", "LatentIO", "LatentModels"], swiftSettings: fast),
        .target(name: "LatentPipeline", dependencies: [
            "LatentCore", "LatentIO", "LatentPreprocess", "LatentModels", "LatentEnrich", "LatentReport",
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: fast),
        .executableTarget(name: "latent", dependencies: [
            "LatentCore", "LatentIO", "LatentPreprocess", "LatentModels", "LatentEnrich", "LatentReport", "LatentPipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: fast),
        .testTarget(name: "LatentCoreTests", dependencies: ["LatentCore"], exclude: ["Fixtures"]),
        .testTarget(name: "LatentIOTests", dependencies: ["LatentIO", "LatentCore"], exclude: ["Fixtures"]),
        .testTarget(name: "LatentPreprocessTests", dependencies: ["LatentPreprocess", "LatentCore", "LatentIO"], exclude: ["Fixtures"]),
        .testTarget(name: "LatentModelsTests", dependencies: ["LatentModels", "LatentCore", "LatentIO", "LatentPreprocess"], exclude: ["Fixtures"]),
        .testTarget(name: "LatentEnrichTests", dependencies: ["LatentEnrich", "LatentCore", "LatentIO"], exclude: ["Fixtures"]),
        .testTarget(name: "LatentPipelineTests", dependencies: ["LatentPipeline", "LatentCore"], exclude: ["Fixtures"]),
        .testTarget(name: "LatentReportTests", dependencies: ["LatentReport", "LatentModels", "LatentCore", "LatentIO"]),
    ],
    // Language mode 5: the numerical code shares buffers across threads by design (disjoint
    // ranges, joined before use), which Swift 6's strict checking cannot express without copies.
    swiftLanguageModes: [.v5]
)
