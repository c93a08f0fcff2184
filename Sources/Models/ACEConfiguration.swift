import Graph

/// The choices that make one ACE variant (PAPER.md §2–§3); the paper's figures are presets.
/// `[ASSUMPTION]` defaults of the spec are kept; each is an option here.
public struct ACEConfiguration: Sendable {
    /// How the latent code is sampled (and which KL term goes with it).
    public enum Sampling: String, Sendable { case gaussian, laplace }

    /// Layers of the symmetry-statistics (localisation) net before its final 6-output layer.
    public struct SymmetryNet: Sendable {
        /// Conv layers as (filters, kernel); a 2×2 max-pool sits between consecutive convs.
        public var convolutions: [(filters: Int, kernel: Int)]
        /// Pool 2×2 on the raw input first (the Lasagne recipe for 42² and 60² MNIST).
        public var poolInput: Bool
        public var convPadding: Padding
        public var hidden: Int

        public init(convolutions: [(filters: Int, kernel: Int)], poolInput: Bool, convPadding: Padding, hidden: Int) {
            self.convolutions = convolutions
            self.poolInput = poolInput
            self.convPadding = convPadding
            self.hidden = hidden
        }
    }

    /// Fig. 4's convolutional auto-encoder: convs (each followed by a 2×2 pool) replace the
    /// encoder's hidden layers; after the decoder's hidden layers a dense layer to the last
    /// feature map and transposed convs (stride 2, one filter per class) draw the image.
    public struct ConvolutionalAE: Sendable {
        /// Encoder convs as (filters, kernel), 'same', ReLU, each followed by a 2×2 max-pool.
        public var encoder: [(filters: Int, kernel: Int)]
        /// Decoder transposed convs as (filters, kernel), stride 2; the last has `channels` filters.
        public var decoder: [(filters: Int, kernel: Int)]

        public init(encoder: [(filters: Int, kernel: Int)], decoder: [(filters: Int, kernel: Int)]) {
            self.encoder = encoder
            self.decoder = decoder
        }
    }

    public var name: String
    /// Image channels, height and width.
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classes: Int
    /// Latent dimensions per class (N_lat).
    public var latentPerClass: Int
    /// Shared encoder hidden layers (tanh).
    public var encoderHidden: [Int]
    /// Per-class decoder hidden layers (tanh); the output layer is sigmoid.
    public var decoderHidden: [Int]
    public var sampling: Sampling
    /// The symmetry-statistics net, or nil for plain ACE (Fig. 1).
    public var symmetryNet: SymmetryNet?
    /// Symmetry statistics as latent variables (seed eq. 3.2, §4's organic augmentation): in
    /// training the pose is drawn around the SSN's θ, and the KL term is added; nil: θ itself.
    public var poseNoise: PoseNoise? = nil

    /// The posterior of the pose: θ̃ = θ + b·ε, ε ~ Laplace(0, 1) per statistic (momentum 1/b),
    /// with KL(Laplace(θ, b) ‖ Laplace(identity, `PoseNoise.priorScale`)) as the `pose_kl` loss.
    /// Evaluation and figures use θ, the posterior's mean.
    public enum PoseNoise: Sendable, Equatable {
        /// One fixed scale b (normalised units: 0.02 is about 0.4 px on 42×42).
        case fixed(scale: Float)
        /// Six scales, one per statistic, learned (as log b) from `initialScale`.
        case learned(initialScale: Float)

        /// The prior's scale: broad (a turn of ±30° moves θ₁₁ by 0.13, a ±7 px shift on 42×42
        /// moves θ₁₃ by 0.33), so its pull toward the identity is weak beside the reconstruction.
        public static let priorScale: Float = 1
    }
    /// The colour-statistics net (the seed's open problem 3), or nil: a localisation net like
    /// the SSN, beside it on the input, whose last layer gives 8 entries of a traceless 3×3
    /// generator A; the colour statistics are M = exp(A) in SL(3, R). The canonical image is
    /// M·(warped input) at every pixel, and the decoder's output is mapped back by M⁻¹ before
    /// the reconstruction error. Three-channel images only.
    public var colourNet: SymmetryNet? = nil
    /// Classifier conv filters (3×3, ReLU, 'same'), 2×2 pools between them, then a dense layer.
    public var classifierFilters: [Int]
    public var classifierHidden: Int
    /// Dropout on the classifier's input and hidden layer (2015a: 0.2 and 0.5).
    public var classifierInputDropout: Float
    public var classifierHiddenDropout: Float
    /// Conv encoder and deconv decoder (Fig. 4), or nil for the fully connected AE.
    public var convolutional: ConvolutionalAE? = nil
    /// The paper's Adam learning rate for this data set (App. A: 0.0015 MNIST, 0.0005 CIFAR-10).
    public var learningRate: Float = 0.0005

    public var pixels: Int { channels * height * width }

    /// Fig. 3: CIFAR-10, shallow ACE 3072-2048-2048-(2×10)-(2048×10)-(2048×10)-(3072×10) with
    /// spatial symmetry statistics (conv 32@3×3 → pool → conv 64@3×3 → FC 128 → 6).
    public static let cifar = ACEConfiguration(
        name: "ace-cifar", channels: 3, height: 32, width: 32, classes: 10, latentPerClass: 2,
        encoderHidden: [2048, 2048], decoderHidden: [2048, 2048], sampling: .gaussian,
        symmetryNet: SymmetryNet(
            convolutions: [(32, 3), (64, 3)], poolInput: false, convPadding: .same, hidden: 128),
        classifierFilters: [32, 64, 128], classifierHidden: 700, classifierInputDropout: 0.2,
        classifierHiddenDropout: 0.5)

    /// Fig. 4: the shallow convolutional ACE on CIFAR-10 (PAPER.md §3.5): encoder conv 32@5×5 →
    /// pool → conv 64@5×5 → pool → per-class heads (2 latents) from 64·8·8; decoder per class
    /// 2 → 1500 → 1500 → 64·8·8, then deconv 5×5 stride 2 to 32@16×16 and to 3@32×32;
    /// Laplacian sampling; classifier and SSN as Fig. 3. The whole decoder, deconvs included, is
    /// per class (PAPER.md §3.5's minimal reading).
    public static let cifarConv: ACEConfiguration = {
        var config = cifar
        config.name = "ace-cifar-conv"
        config.encoderHidden = []
        config.decoderHidden = [1500, 1500]
        config.sampling = .laplace
        config.convolutional = ConvolutionalAE(encoder: [(32, 5), (64, 5)], decoder: [(32, 5), (3, 5)])
        return config
    }()

    /// `base` with colour symmetry statistics, named `base.name + "-colour"`: a colour net of
    /// conv 16@3×3 → pool → conv 32@3×3 → FC 64 → 8 on the input pooled 2×2 first — half the
    /// SSN's widths at a quarter of its pixels, since colour is a property of the whole image.
    public static func withColour(_ base: ACEConfiguration) -> ACEConfiguration {
        var config = base
        config.name = base.name + "-colour"
        config.colourNet = SymmetryNet(convolutions: [(16, 3), (32, 3)], poolInput: true, convPadding: .same, hidden: 64)
        return config
    }

    /// The MNIST data sets of Figs. 1–2: plain 28², RTS 42² and TC 60² (PAPER.md §4).
    public enum MNISTVariant: String, Sendable, CaseIterable {
        case plain, rts, tc
        /// Canvas side in pixels.
        public var side: Int { self == .plain ? 28 : self == .rts ? 42 : 60 }
    }

    /// Figs. 1–2: ACE on MNIST, RTS or TC, 1 latent per class, D-700-(1×10)-(700×10)-(D×10),
    /// Gaussian sampling, the 32-64-128 conv classifier with FC 700 (PAPER.md §3.2); with
    /// `symmetry`, the Lasagne-recipe SSN: [pool 2×2 for 42²/60²] conv 20@5×5 → pool → conv
    /// 20@5×5 ('valid') → FC 50 → 6 (§3.3). Named `ace-mnist`, `ace-rts`, `ace-tc`, with
    /// `-nosym` appended without symmetry statistics.
    /// The paper's configurations, as `gauge models` names them.
    public static var builtIn: [ACEConfiguration] {
        [.cifar, .cifarConv, withColour(.cifar), withColour(.cifarConv)] + [true, false].flatMap { symmetry in MNISTVariant.allCases.map { mnist($0, symmetry: symmetry) } }
    }

    /// A configuration of `builtIn` by name (`ace-rts`, `ace-cifar-conv`, …).
    public static func named(_ name: String) -> ACEConfiguration? { builtIn.first { $0.name == name } }

    public static func mnist(_ variant: MNISTVariant, symmetry: Bool = true) -> ACEConfiguration {
        let side = variant.side
        var config = ACEConfiguration(
            name: (variant == .plain ? "ace-mnist" : "ace-\(variant.rawValue)") + (symmetry ? "" : "-nosym"),
            channels: 1, height: side, width: side, classes: 10, latentPerClass: 1,
            encoderHidden: [700], decoderHidden: [700], sampling: .gaussian,
            symmetryNet: symmetry
                ? SymmetryNet(
                    convolutions: [(20, 5), (20, 5)], poolInput: variant != .plain, convPadding: .valid, hidden: 50)
                : nil,
            classifierFilters: [32, 64, 128], classifierHidden: 700, classifierInputDropout: 0.2,
            classifierHiddenDropout: 0.5)
        config.learningRate = 0.0015
        return config
    }
}
