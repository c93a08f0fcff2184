// swift-tools-version:6.3
// Tools version 6.3 is the newest this toolchain (Swift 6.3.1) reads; language mode 6 for all targets.
import PackageDescription

let package = Package(
    name: "Gauge",
    products: [
        .library(name: "Graph", targets: ["Graph"]),
        .library(name: "Compiler", targets: ["Compiler"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Models", targets: ["Models"]),
        .executable(name: "gauge", targets: ["gauge"]),
        .executable(name: "example-ace-cifar", targets: ["example-ace-cifar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        // Library targets carry no unsafeFlags: users depend on Gauge by URL.
        .target(name: "Graph"),
        .target(name: "Compiler", dependencies: ["Graph"]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "Runtime", dependencies: ["Compiler", "CBLAS"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Datasets", dependencies: ["CZlib"]),
        .target(name: "Models", dependencies: ["Graph"]),
        .target(
            name: "GaugeCLI",
            dependencies: [
                "Graph", "Compiler", "Runtime", "Models",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "gauge", dependencies: ["GaugeCLI"]),
        .executableTarget(
            name: "example-ace-cifar",
            dependencies: [
                "Graph", "Compiler", "Models", "Runtime", "Datasets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/example-ace-cifar"),

        .testTarget(name: "GraphTests", dependencies: ["Graph"], exclude: ["Golden"]),
        .testTarget(name: "CompilerTests", dependencies: ["Graph", "Compiler"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Graph", "Compiler", "Runtime", "Models"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "CZlib"]),
        .testTarget(name: "ModelsTests", dependencies: ["Graph", "Compiler", "Models"]),
        .testTarget(name: "GaugeCLITests", dependencies: ["gauge", "example-ace-cifar"]),
    ]
)
