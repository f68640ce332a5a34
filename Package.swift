// swift-tools-version:6.0
// conaclip: a distributed ConaCLIP distillation trainer.
// Modules follow the layers of DESIGN.md; each depends only on the layers above it.
import PackageDescription

let package = Package(
    name: "conaclip",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "conaclip", targets: ["conaclip"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Layer 1: native bindings. Only these targets touch C APIs.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .target(name: "ConaclipNative", dependencies: ["CZeroMQ", "COpenBLAS", "CPNG", "CJPEG"]),
        // Layer 2: tensor engine.
        .target(name: "ConaclipTensor", dependencies: ["ConaclipNative"]),
        // Layer 3: models, checkpoints, tokenizer.
        .target(name: "ConaclipModels", dependencies: [
            "ConaclipTensor", "Yams", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Layer 4: distillation losses, optimiser, training step.
        .target(name: "ConaclipDistill", dependencies: ["ConaclipModels"]),
        // Layer 5: datasets, image preprocessing, sampler, teacher cache.
        .target(name: "ConaclipData", dependencies: ["ConaclipDistill"]),
        // Layer 5b: search, plots and run reports over the data layer.
        .target(name: "ConaclipReport", dependencies: ["ConaclipData", .product(name: "Crypto", package: "swift-crypto")]),
        // Layer 6: the distributed coordinator and workers.
        .target(name: "ConaclipCluster", dependencies: ["ConaclipData", .product(name: "Logging", package: "swift-log")]),
        // Layer 7: the command line.
        .executableTarget(name: "conaclip", dependencies: [
            "ConaclipCluster",
            "ConaclipReport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ConaclipNativeTests", dependencies: ["ConaclipNative"]),
        .testTarget(name: "ConaclipTensorTests", dependencies: ["ConaclipTensor"]),
        // Test fixtures are read in place through #filePath, so they are excluded from the targets.
        .testTarget(name: "ConaclipModelsTests", dependencies: ["ConaclipModels"], exclude: ["Fixtures"]),
        .testTarget(name: "ConaclipDistillTests", dependencies: ["ConaclipDistill", "Yams"], exclude: ["Fixtures"]),
        .testTarget(name: "ConaclipDataTests", dependencies: ["ConaclipData"], exclude: ["Fixtures"]),
        .testTarget(name: "ConaclipClusterTests", dependencies: ["ConaclipCluster"]),
        .testTarget(name: "ConaclipReportTests", dependencies: ["ConaclipReport"]),
        .testTarget(name: "ConaclipCLITests", dependencies: ["ConaclipModels", "ConaclipCluster"]),
    ],
    swiftLanguageModes: [.v6]
)
