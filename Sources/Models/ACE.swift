import Foundation
import Graph

/// ACE (auto-classifier-encoder) with spatial symmetry statistics, as one training graph
/// (PAPER.md §2.1):
///
///     θ = SSN(x); x' = warp(x, θ); ω = classifier(x'); μ, log σ = encoder(x') for class y;
///     z ~ posterior; x̂ = warp(decoder_y(z), θ⁻¹); L = BCE(x̂, x) + KL + CE(ω, y)
///
/// With colour statistics (`ACEConfiguration.colourNet`) also M = CSN(x) in SL(3, R),
/// x' = M·warp(x, θ) and x̂ = warp(M⁻¹·decoder_y(z), θ⁻¹).
///
/// Inputs: `image [batch, C, H, W]` in [0, 1] and `label [batch] int32`. Only the labelled
/// class's latent head and decoder run (`denseByClass`), which gives the same gradients as
/// running all of them and contracting with the one-hot label (PAPER.md §1.1).
///
/// The parts (`symmetryStatistics`, `classifier`, `encoder`, `decoder`) are public building
/// blocks: a variant recombines them with its own pieces (`example-ace-variant`).
public enum ACE {
    /// With `perImageTerms`, also outputs `reconstruction_per_image` and `kl_per_image`
    /// (`[batch]`, nats) for evaluation, e.g. the test-time mixture over classes (eq. 4.1).
    /// With `evaluation`, the pose is θ itself even when `config.poseNoise` samples it in
    /// training (the posterior's mean, as the paper uses at test time), and there is no
    /// `pose_kl` loss.
    public static func model(_ config: ACEConfiguration, perImageTerms: Bool = false, evaluation: Bool = false) throws(ModelError) -> Model {
        try Model(config.name) {
            let x = Input("image", [.batch, .fixed(config.channels), .fixed(config.height), .fixed(config.width)])
            let y = Input("label", [.batch], dtype: .int32)

            let mean = config.symmetryNet.map { net in Scope("ssn") { symmetryStatistics(x, net) } }
            let noisy = evaluation ? nil : config.poseNoise.flatMap { noise in mean.map { m in Scope("pose") { samplePose(m, noise) } } }
            let theta = noisy?.pose ?? mean
            let colour = config.colourNet.map { net in Scope("csn") { colourStatistics(x, net) } }
            let warped = theta.map { t in Scope("warp") { x.warped(by: t) } } ?? x
            let canonical = colour.map { m in Scope("colour") { warped.colourTransformed(by: m) } } ?? warped

            let logits = Scope("classifier") { classifier(canonical, config) }
            let (latentMean, logScale) = Scope("encoder") { encoder(canonical, labels: y, config) }
            let z = Scope("latent") {
                config.sampling == .gaussian
                    ? sampleGaussian(mean: latentMean, logScale: logScale) : sampleLaplace(mean: latentMean, logScale: logScale)
            }
            let canonicalReconstruction = Scope("decoder") { decoder(z, labels: y, config) }
            let recoloured =
                colour.map { m in
                    Scope("uncolour") { canonicalReconstruction.colourTransformed(by: inverted3x3(m)) }
                } ?? canonicalReconstruction
            let reconstruction =
                theta.map { t in Scope("unwarp") { recoloured.warped(by: invertedAffine(t)) } } ?? recoloured

            Loss(bernoulliCrossEntropy(probabilities: reconstruction, target: x), name: "reconstruction_error")
            if config.sampling == .gaussian {
                Loss(gaussianKL(latentMean, logScale), name: "generative_error")
            } else {
                Loss(laplaceKL(latentMean, logScale), name: "generative_error")
            }
            Loss(softmaxCrossEntropy(logits: logits, labels: y), name: "classification_error")
            if let noisy { Loss(noisy.kl, name: "pose_kl") }
            Output("logits", logits)
            Output("reconstruction", reconstruction)
            Output("latent_mean", latentMean)
            if let mean { Output("theta", mean) }
            if let colour { Output("colour", colour) }
            if perImageTerms {
                Output(
                    "reconstruction_per_image",
                    bernoulliCrossEntropy(probabilities: reconstruction, target: x, perExample: true))
                Output(
                    "kl_per_image",
                    config.sampling == .gaussian
                        ? gaussianKL(latentMean, logScale, perExample: true) : laplaceKL(latentMean, logScale, perExample: true))
            }
        }
    }

    /// The creative regime and control (PAPER.md §1.4, §2.3): decodes `latent [batch, N_lat]`
    /// with the decoder of `label [batch] int32` and warps the canonical result by
    /// `pose [batch, 6]` (θ mapping output → input; identity for the canonical "style" frame).
    /// With colour statistics, also `colour [batch, 9]`: the matrix that maps the canonical
    /// colours to the image's (M⁻¹ of a training image's statistics reproduces its colours).
    /// Parameter names equal the training model's, so a training state's decoder drives it.
    /// Outputs `canonical` (decoder probabilities) and `image` (coloured, then warped).
    public static func renderer(_ config: ACEConfiguration) throws(ModelError) -> Model {
        try Model(config.name + "-renderer") {
            let z = Input("latent", [.batch, .fixed(config.latentPerClass)])
            let y = Input("label", [.batch], dtype: .int32)
            let pose = Input("pose", [.batch, 6])
            let colour = config.colourNet.map { _ in Input("colour", [.batch, 9]) }
            let canonical = Scope("decoder") { decoder(z, labels: y, config) }
            let coloured = colour.map { m in Scope("uncolour") { canonical.colourTransformed(by: m) } } ?? canonical
            Output("canonical", canonical)
            Output("image", Scope("unwarp") { coloured.warped(by: pose) })
        }
    }

    /// A pose drawn around `theta [batch, 6]` (`ACEConfiguration.PoseNoise`): θ + b·ε with
    /// ε ~ Laplace(0, 1), and Σ KL(Laplace(θ, b) ‖ Laplace(identity, B)) over the batch and the
    /// six statistics, = ln(B/b) + |θ − id|/B + (b/B)·exp(−|θ − id|/b) − 1 each.
    public static func samplePose(_ theta: Tensor, _ noise: ACEConfiguration.PoseNoise) -> (pose: Tensor, kl: Tensor) {
        let prior = ACEConfiguration.PoseNoise.priorScale
        let logScale: Tensor
        switch noise {
        case .fixed(let scale): logScale = constant(Foundation.log(scale))
        case .learned(let initial): logScale = Parameter("log_scale", [6], initializer: .constant(Foundation.log(initial)))
        }
        let scale = logScale.exp()
        let pose = theta + scale * random(.laplace, [.batch, 6])
        let identity = constant([1, 0, 0, 0, 1, 0])
        let distance = (theta - identity).abs()
        let kl = -logScale + Foundation.log(prior) + distance / prior + scale / prior * (-distance / scale).exp() - 1
        return (pose, kl.sum())
    }

    /// The localisation net: convs (pools between), a hidden layer, and six affine statistics
    /// from a zero-weight layer whose bias is the identity transform.
    public static func symmetryStatistics(_ x: Tensor, _ net: ACEConfiguration.SymmetryNet) -> Tensor {
        localisationFeatures(x, net).dense(6, weightInitializer: .zeros, biasInitializer: .identityAffine)
    }

    /// Colour statistics `[batch, 9]` in SL(3, R) (`ACEConfiguration.colourNet`): a localisation
    /// net ending in a zero layer, so training starts at the identity, whose 8 outputs, bounded
    /// to ±`colourGeneratorBound` by a scaled tanh, are the traceless generator A of exp(A).
    public static func colourStatistics(_ x: Tensor, _ net: ACEConfiguration.SymmetryNet) -> Tensor {
        let raw = localisationFeatures(x, net).dense(8, weightInitializer: .zeros)
        return specialLinearExponential((raw * (1 / colourGeneratorBound)).tanh() * colourGeneratorBound)
    }

    /// The bound on each generator entry: a hue turn of 180° needs entries of about π/√3 ≈ 1.8,
    /// a saturation or brightness factor k about ln k; 3 allows both and keeps exp(A) tame.
    public static let colourGeneratorBound: Float = 3

    /// The localisation trunk shared by the spatial and colour statistics nets: [pool 2×2],
    /// convs with pools between them, and a dense ReLU hidden layer.
    static func localisationFeatures(_ x: Tensor, _ net: ACEConfiguration.SymmetryNet) -> Tensor {
        var h = net.poolInput ? x.maxPool(2) : x
        for (i, conv) in net.convolutions.enumerated() {
            if i > 0 { h = h.maxPool(2) }
            h = h.conv2d(conv.filters, kernel: conv.kernel, padding: net.convPadding, activation: .relu)
        }
        return h.flattened().dense(net.hidden, activation: .relu)
    }

    /// The classifier: 3×3 ReLU convs with 2×2 pools between them, a dense ReLU layer, logits.
    public static func classifier(_ x: Tensor, _ config: ACEConfiguration) -> Tensor {
        var h = config.classifierInputDropout > 0 ? x.dropout(config.classifierInputDropout) : x
        for (i, filters) in config.classifierFilters.enumerated() {
            if i > 0 { h = h.maxPool(2) }
            h = h.conv2d(filters, kernel: 3, activation: .relu)
        }
        h = h.flattened().dense(config.classifierHidden, activation: .relu)
        if config.classifierHiddenDropout > 0 { h = h.dropout(config.classifierHiddenDropout) }
        return h.dense(config.classes)
    }

    /// The shared encoder (tanh dense layers, or Fig. 4's convs and pools) and the labelled
    /// class's latent heads: μ and log σ = ½·(affine).
    public static func encoder(_ x: Tensor, labels: Tensor, _ config: ACEConfiguration) -> (Tensor, Tensor) {
        var h = x
        for conv in config.convolutional?.encoder ?? [] {
            h = h.conv2d(conv.filters, kernel: conv.kernel, activation: .relu).maxPool(2)
        }
        h = h.flattened()
        for units in config.encoderHidden { h = h.dense(units, activation: .tanh) }
        let mean = h.denseByClass(config.latentPerClass, classes: config.classes, labels: labels)
        let logScale = h.denseByClass(config.latentPerClass, classes: config.classes, labels: labels) * 0.5
        return (mean, logScale)
    }

    /// The labelled class's decoder: tanh hidden layers and sigmoid pixel probabilities (for
    /// Fig. 4, a dense layer to a feature map and transposed convs, all per class).
    public static func decoder(_ z: Tensor, labels: Tensor, _ config: ACEConfiguration) -> Tensor {
        var h = z
        for units in config.decoderHidden {
            h = h.denseByClass(units, classes: config.classes, labels: labels, activation: .tanh)
        }
        if let conv = config.convolutional {
            // The feature map the deconvs start from: the encoder's last, halved per pool.
            let scale = 1 << conv.encoder.count
            let (c, fh, fw) = (conv.encoder.last!.filters, config.height / scale, config.width / scale)
            h = h.denseByClass(c * fh * fw, classes: config.classes, labels: labels, activation: .relu)
                .reshaped([.batch, .fixed(c), .fixed(fh), .fixed(fw)])
            for (i, layer) in conv.decoder.enumerated() {
                let last = i == conv.decoder.count - 1
                h = h.transposedConv2dByClass(
                    layer.filters, kernel: layer.kernel, stride: 2, classes: config.classes, labels: labels,
                    activation: last ? .sigmoid : .relu)
            }
            return h
        }
        return h.denseByClass(config.pixels, classes: config.classes, labels: labels, activation: .sigmoid)
            .reshaped([.batch, .fixed(config.channels), .fixed(config.height), .fixed(config.width)])
    }
}
