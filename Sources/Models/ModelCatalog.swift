import Graph

/// A model the `gauge` commands can name: a built-in one, or a user's (`GaugeTools.main(models:)`).
public struct ModelEntry: Sendable {
    public let name: String
    public let summary: String
    public let build: @Sendable () throws(ModelError) -> Model

    public init(name: String, summary: String, build: @escaping @Sendable () throws(ModelError) -> Model) {
        self.name = name
        self.summary = summary
        self.build = build
    }
}

/// The built-in models, by name.
public enum ModelCatalog {
    public static let all: [ModelEntry] = [
        ModelEntry(
            name: "ace-cifar",
            summary: "ACE with spatial symmetry statistics on CIFAR-10 (paper Fig. 3): 3072-2048-2048, 2 latents and a decoder per class",
            build: { () throws(ModelError) in try ACE.model(.cifar) }),
        ModelEntry(
            name: "ace-cifar-conv",
            summary: "Convolutional ACE with symmetry statistics on CIFAR-10 (paper Fig. 4): conv 32-64 encoder, 2 Laplacian latents, per-class 1500-1500-deconv-deconv decoders",
            build: { () throws(ModelError) in try ACE.model(.cifarConv) }),
        ModelEntry(
            name: "ace-cifar-colour",
            summary: "ace-cifar with colour symmetry statistics in SL(3) (the paper's open problem 3): a colour net beside the SSN",
            build: { () throws(ModelError) in try ACE.model(.withColour(.cifar)) }),
        ModelEntry(
            name: "ace-cifar-conv-colour",
            summary: "ace-cifar-conv with colour symmetry statistics in SL(3) (the paper's open problem 3)",
            build: { () throws(ModelError) in try ACE.model(.withColour(.cifarConv)) }),
    ] + mnistEntries + [
        ModelEntry(
            name: "ace-deep-rts",
            summary: "ACE with symmetry statistics at depth on RTS MNIST (open problems 1-2): shared conv maps, a latent at two depths, a θ per group of 4",
            build: { () throws(ModelError) in try DeepACE.model(.rts) }),
        ModelEntry(
            name: "ace-deep-cifar",
            summary: "ACE with symmetry statistics at depth on CIFAR-10 (open problems 1-2): shared conv maps, 2 latents at two depths, a θ per group of 4",
            build: { () throws(ModelError) in try DeepACE.model(.cifar) }),
    ] + [
        ModelEntry(
            name: "tiny-vae", summary: "Gaussian VAE on 28×28 images: 784-400-20-400-784",
            build: { () throws(ModelError) in try SmallModels.tinyVAE() }),
        ModelEntry(
            name: "conv-classifier", summary: "Conv net classifier on 28×28 images (32-64 3×3 convs, dense 128, 10 classes)",
            build: { () throws(ModelError) in try SmallModels.convClassifier() }),
        ModelEntry(
            name: "cvae-mnist", summary: "Conditional VAE on MNIST: 794-512-2×16, 26-512-784 (label one-hot in both)",
            build: { () throws(ModelError) in try SmallModels.conditionalVAE() }),
        ModelEntry(
            name: "conv-vae-cifar",
            summary: "Convolutional VAE on CIFAR-10: conv 32-64 5×5 encoder, 32 latents, dense + 2 transposed convs",
            build: { () throws(ModelError) in try SmallModels.convolutionalVAE() }),
        ModelEntry(
            name: "cnn-cifar", summary: "ACE's classifier alone on CIFAR-10: 32-64-128 3×3 convs, dense 700, dropout",
            build: { () throws(ModelError) in try SmallModels.aceClassifier() }),
    ]

    /// `ace-mnist`, `ace-rts`, `ace-tc` (Fig. 2) and their `-nosym` twins (Fig. 1).
    static let mnistEntries: [ModelEntry] = [true, false].flatMap { symmetry in
        ACEConfiguration.MNISTVariant.allCases.map { variant in
            let config = ACEConfiguration.mnist(variant, symmetry: symmetry)
            let data = variant == .plain ? "MNIST" : variant == .rts ? "rotated-translated-scaled MNIST (42×42)" : "translated-cluttered MNIST (60×60)"
            return ModelEntry(
                name: config.name,
                summary: "ACE \(symmetry ? "with" : "without") symmetry statistics on \(data) (paper Fig. \(symmetry ? 2 : 1)): \(config.pixels)-700, 1 latent and a decoder per class",
                build: { () throws(ModelError) in try ACE.model(config) })
        }
    }

    public static func named(_ name: String) -> ModelEntry? { all.first { $0.name == name } }
}
