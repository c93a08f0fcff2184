import Graph

/// The choices that make one deep ACE (`DeepACE.model`): two levels of feature maps, a latent
/// code at each, and a θ per group of level-1 maps.
public struct DeepACEConfiguration: Sendable {
    public var name: String
    public var channels: Int, height: Int, width: Int, classes: Int
    /// The image-level symmetry-statistics net (as the shallow ACE's), or nil for none.
    public var symmetryNet: ACEConfiguration.SymmetryNet?
    /// Level-1 maps: a 'same' conv (filters, kernel), ReLU, a 2×2 max-pool.
    public var level1: (filters: Int, kernel: Int)
    /// Groups of level-1 maps, each with its own affine θ (`level1.filters` must divide evenly);
    /// 0: no group statistics.
    public var groups: Int
    /// The group localisation head's ReLU units.
    public var groupHidden: Int
    /// Level-2 maps, read by the classifier and the level-2 latent heads: conv, ReLU, pool.
    public var level2: (filters: Int, kernel: Int)
    /// Latents per class at each level (Gaussian).
    public var latents1: Int, latents2: Int
    /// The tanh layer before each level's latent heads, and the per-class decoder's.
    public var encoderHidden: Int, decoderHidden: Int
    public var classifierHidden: Int
    public var classifierDropout: Float
    /// Adam's rate (the paper's for the data set).
    public var learningRate: Float

    public init(
        name: String, channels: Int, height: Int, width: Int, classes: Int = 10,
        symmetryNet: ACEConfiguration.SymmetryNet?, level1: (filters: Int, kernel: Int), groups: Int, groupHidden: Int,
        level2: (filters: Int, kernel: Int), latents1: Int, latents2: Int, encoderHidden: Int, decoderHidden: Int,
        classifierHidden: Int, classifierDropout: Float, learningRate: Float
    ) {
        (self.name, self.channels, self.height, self.width, self.classes) = (name, channels, height, width, classes)
        (self.symmetryNet, self.level1, self.groups, self.groupHidden) = (symmetryNet, level1, groups, groupHidden)
        (self.level2, self.latents1, self.latents2) = (level2, latents1, latents2)
        (self.encoderHidden, self.decoderHidden) = (encoderHidden, decoderHidden)
        (self.classifierHidden, self.classifierDropout, self.learningRate) = (classifierHidden, classifierDropout, learningRate)
    }

    /// RTS MNIST (42×42): the shallow `ace-rts`'s SSN on the image; level 1 conv 8@5×5 → 21×21,
    /// four groups of two maps; level 2 conv 16@3×3 → 10×10; one latent per class at each level;
    /// 256-unit hidden layers.
    public static let rts = DeepACEConfiguration(
        name: "ace-deep-rts", channels: 1, height: 42, width: 42,
        symmetryNet: ACEConfiguration.mnist(.rts).symmetryNet, level1: (8, 5), groups: 4, groupHidden: 32,
        level2: (16, 3), latents1: 1, latents2: 1, encoderHidden: 256, decoderHidden: 256, classifierHidden: 256,
        classifierDropout: 0.5, learningRate: 0.0015)

    /// CIFAR-10 (32×32×3): the shallow `ace-cifar`'s SSN; level 1 conv 32@3×3 → 16×16, four
    /// groups of eight maps; level 2 conv 64@3×3 → 8×8; two latents per class at each level;
    /// 512-unit hidden layers.
    public static let cifar = DeepACEConfiguration(
        name: "ace-deep-cifar", channels: 3, height: 32, width: 32,
        symmetryNet: ACEConfiguration.cifar.symmetryNet, level1: (32, 3), groups: 4, groupHidden: 64,
        level2: (64, 3), latents1: 2, latents2: 2, encoderHidden: 512, decoderHidden: 512, classifierHidden: 512,
        classifierDropout: 0.5, learningRate: 0.0005)

    /// The deep configurations, as `gauge models` names them.
    public static let builtIn = [rts, cifar]
}
