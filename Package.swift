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
        .library(name: "Experiments", targets: ["Experiments"]),
        // The `gauge` command line as a library: a user's executable runs it on its own models.
        .library(name: "GaugeTools", targets: ["GaugeTools"]),
        // Test support for users and Gauge alike: a Float64 reference interpreter, gradient checks,
        // random graphs.
        .library(name: "GaugeTesting", targets: ["GaugeTesting"]),
        .executable(name: "gauge", targets: ["gauge"]),
        .executable(name: "example-ace-cifar", targets: ["example-ace-cifar"]),
        .executable(name: "example-ace-mnist", targets: ["example-ace-mnist"]),
        .executable(name: "example-cvae", targets: ["example-cvae"]),
        .executable(name: "example-ace-variant", targets: ["example-ace-variant"]),
        .executable(name: "example-ace-deep", targets: ["example-ace-deep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // `swift package generate-documentation --target Experiments` builds the DocC catalog.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", exact: "1.5.0"),
    ],
    targets: [
        // Library targets carry no unsafeFlags: users depend on Gauge by URL.
        .target(name: "Graph"),
        .target(name: "Compiler", dependencies: ["Graph"]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Loops Swift does not vectorise (square roots): plain C with SSE/AVX intrinsics, the AVX
        // variant chosen at run time, so no compiler flags.
        .target(name: "CKernels"),
        .target(name: "Runtime", dependencies: ["Compiler", "CBLAS", "CKernels"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Datasets", dependencies: ["CZlib"]),
        .target(name: "Models", dependencies: ["Graph"]),
        .target(name: "GaugeTesting", dependencies: ["Graph", "Compiler", "Runtime", "Datasets"]),
        .target(
            name: "GaugeTools",
            dependencies: [
                "Graph", "Compiler", "Runtime", "Models", "Datasets", "Experiments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Counting wrappers around glibc's malloc, linked only into the `gauge` executable; calls made
        // inside OpenBLAS (marked by CKernels) are counted apart.
        .target(name: "CAllocationCounter", dependencies: ["CKernels"]),
        .executableTarget(name: "gauge", dependencies: ["GaugeTools", "CAllocationCounter"]),
        .target(
            name: "Experiments",
            dependencies: [
                "Graph", "Compiler", "Runtime", "Datasets", "Models", "CZlib",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "example-ace-cifar",
            dependencies: ["Experiments", "Datasets", "Models", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/example-ace-cifar"),
        .executableTarget(
            name: "example-ace-mnist",
            dependencies: ["Experiments", "Datasets", "Models", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/example-ace-mnist"),

        // Written with the public API only, as a user's own package would.
        .executableTarget(
            name: "example-cvae",
            dependencies: [
                "Graph", "Compiler", "Runtime", "Datasets", "Experiments", "Models", "GaugeTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/example-cvae"),
        .executableTarget(
            name: "example-ace-variant",
            dependencies: [
                "Graph", "Compiler", "Runtime", "Datasets", "Experiments", "Models",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/example-ace-variant"),
        .executableTarget(
            name: "example-ace-deep",
            dependencies: [
                "Graph", "Runtime", "Datasets", "Experiments", "Models",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/example-ace-deep"),

        .testTarget(name: "GraphTests", dependencies: ["Graph"], exclude: ["Golden"]),
        .testTarget(name: "CompilerTests", dependencies: ["Graph", "Compiler", "Runtime", "Models", "GaugeTesting"]),
        .testTarget(
            name: "RuntimeTests", dependencies: ["Graph", "Compiler", "Runtime", "Models", "CKernels", "GaugeTesting", "Datasets"],
            exclude: ["StepDigests.txt"]),
        .testTarget(name: "GaugeTestingTests", dependencies: ["Graph", "Compiler", "Runtime", "Models", "GaugeTesting"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "CZlib"]),
        .testTarget(name: "ModelsTests", dependencies: ["Graph", "Compiler", "Runtime", "Models", "GaugeTesting"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Datasets", "Models", "Runtime", "Compiler", "Graph"]),
        .testTarget(name: "GaugeCLITests", dependencies: ["Datasets", "gauge", "example-ace-cifar", "example-ace-mnist", "example-cvae", "example-ace-variant", "example-ace-deep"]),
    ]
)
