import Graph

/// ACE with symmetry statistics at depth (the seed's open problems 1 and 2): feature maps shared
/// by the classifier and the encoder, generative latents at two depths, and a spatial transform
/// per group of feature maps at the first level (capsule-like: one θ per group, from a small
/// localisation head), inverted in the decoder before the level's maps are drawn back into an
/// image.
///
///     θ₀ = SSN(x); x' = warp(x, θ₀)
///     F₁ = pool(relu(conv(x')));      z₁ ~ q(z₁ | F₁, y)            (level 1)
///     θ_g = GSN_g(F₁); F₁' = ⊕_g warp(F₁[g], θ_g)                   (one θ per channel group)
///     F₂ = pool(relu(conv(F₁')));     z₂ ~ q(z₂ | F₂, y); ω = classifier(F₂)   (level 2)
///     D = ⊕_g warp(dec_y(z₂)[g], θ_g⁻¹) + dec¹_y(z₁)                (back in F₁'s frame)
///     x̂ = warp(deconv_y(relu(D)), θ₀⁻¹);  L = BCE(x̂, x) + KL₁ + KL₂ + CE(ω, y)
///
/// Inputs `image [batch, C, H, W]` in [0, 1] and `label [batch] int32`, as `ACE.model`; the
/// labelled class's heads and decoder run (`denseByClass`). Outputs `misclassified` (1 where
/// the classifier's largest logit is not the label's; its mean is the error rate).
public enum DeepACE {
    public static func model(_ c: DeepACEConfiguration) throws(ModelError) -> Model {
        try Model(c.name) {
            let x = Input("image", [.batch, .fixed(c.channels), .fixed(c.height), .fixed(c.width)])
            let y = Input("label", [.batch], dtype: .int32)
            let theta = c.symmetryNet.map { net in Scope("ssn") { ACE.symmetryStatistics(x, net) } }
            let canonical = theta.map { t in Scope("warp") { x.warped(by: t) } } ?? x

            let f1 = Scope("level1") {
                canonical.conv2d(c.level1.filters, kernel: c.level1.kernel, activation: .relu).maxPool(2)
            }
            let (mean1, logScale1) = Scope("encoder1") { heads(f1, y, latents: c.latents1, c) }
            let groupThetas = c.groups > 0 ? Scope("gsn") { groupStatistics(f1, c) } : []
            let posed = groupThetas.isEmpty ? f1 : Scope("groupWarp") { warpGroups(f1, by: groupThetas) }
            let f2 = Scope("level2") {
                posed.conv2d(c.level2.filters, kernel: c.level2.kernel, activation: .relu).maxPool(2)
            }
            let logits = Scope("classifier") {
                let h = f2.flattened().dense(c.classifierHidden, activation: .relu)
                return (c.classifierDropout > 0 ? h.dropout(c.classifierDropout) : h).dense(c.classes)
            }
            let (mean2, logScale2) = Scope("encoder2") { heads(f2, y, latents: c.latents2, c) }
            let z1 = Scope("latent1") { sampleGaussian(mean: mean1, logScale: logScale1) }
            let z2 = Scope("latent2") { sampleGaussian(mean: mean2, logScale: logScale2) }
            let drawn = Scope("decoder") { decoder(z1, z2, groupThetas: groupThetas, labels: y, c) }
            let reconstruction = theta.map { t in Scope("unwarp") { drawn.warped(by: invertedAffine(t)) } } ?? drawn

            Loss(bernoulliCrossEntropy(probabilities: reconstruction, target: x), name: "reconstruction_error")
            Loss(gaussianKL(mean1, logScale1) + gaussianKL(mean2, logScale2), name: "generative_error")
            Loss(softmaxCrossEntropy(logits: logits, labels: y), name: "classification_error")
            Output("logits", logits)
            Output("misclassified", Scope("error") { misclassified(logits, y, classes: c.classes) })
            Output("reconstruction", reconstruction)
            if let theta { Output("theta", theta) }
            for (g, t) in groupThetas.enumerated() { Output("group_theta_\(g)", t) }
        }
    }

    /// The creative regime: decodes `latent1 [batch, latents1]` and `latent2 [batch, latents2]`
    /// with the decoder of `label [batch] int32`, each group of level-1 maps posed by
    /// `group_pose_g [batch, 6]` (a training image's θ_g; the identity for the canonical frame)
    /// and the image warped by `pose [batch, 6]` (θ mapping output → input, as `ACE.renderer`).
    /// Parameter names equal the training model's, so its checkpoint's decoder drives it.
    /// Outputs `canonical` (decoder probabilities) and `image` (warped).
    public static func renderer(_ c: DeepACEConfiguration) throws(ModelError) -> Model {
        try Model(c.name + "-renderer") {
            let z1 = Input("latent1", [.batch, .fixed(c.latents1)])
            let z2 = Input("latent2", [.batch, .fixed(c.latents2)])
            let y = Input("label", [.batch], dtype: .int32)
            let pose = Input("pose", [.batch, 6])
            let groupPoses = (0..<c.groups).map { Input("group_pose_\($0)", [.batch, 6]) }
            let drawn = Scope("decoder") { decoder(z1, z2, groupThetas: groupPoses, labels: y, c) }
            Output("canonical", drawn)
            Output("image", Scope("unwarp") { drawn.warped(by: pose) })
        }
    }

    /// A level's latent heads for the labelled class: a tanh layer on the flattened maps, then
    /// μ and log σ = ½·(affine) per class.
    static func heads(_ maps: Tensor, _ labels: Tensor, latents: Int, _ c: DeepACEConfiguration) -> (Tensor, Tensor) {
        let h = maps.flattened().dense(c.encoderHidden, activation: .tanh)
        let mean = h.denseByClass(latents, classes: c.classes, labels: labels)
        let logScale = h.denseByClass(latents, classes: c.classes, labels: labels) * 0.5
        return (mean, logScale)
    }

    /// One affine θ `[batch, 6]` per channel group, from one localisation head on the level's
    /// maps (pooled 2×2, a ReLU layer), each from a zero-weight layer whose bias is the identity.
    static func groupStatistics(_ maps: Tensor, _ c: DeepACEConfiguration) -> [Tensor] {
        let h = maps.maxPool(2).flattened().dense(c.groupHidden, activation: .relu)
        return (0..<c.groups).map { _ in h.dense(6, weightInitializer: .zeros, biasInitializer: .identityAffine) }
    }

    /// Each group of `maps`' channels (equal groups, in order) warped by its θ.
    public static func warpGroups(_ maps: Tensor, by thetas: [Tensor]) -> Tensor {
        let size = (maps.shape[1].fixedSize ?? 0) / max(thetas.count, 1)
        return concat(
            thetas.enumerated().map { g, t in maps.sliced(axis: 1, (g * size)..<((g + 1) * size)).warped(by: t) }, axis: 1)
    }

    /// The labelled class's decoder: level 2's latents to level-1 maps in the groups' frames,
    /// each group warped back by its θ⁻¹; level 1's latents added in that frame; a transposed
    /// convolution to the image's probabilities.
    static func decoder(
        _ z1: Tensor, _ z2: Tensor, groupThetas: [Tensor], labels: Tensor, _ c: DeepACEConfiguration
    ) -> Tensor {
        let (f, h, w) = (c.level1.filters, c.height / 2, c.width / 2)
        let shape: Shape = [.batch, .fixed(f), .fixed(h), .fixed(w)]
        let fromLevel2 = z2.denseByClass(c.decoderHidden, classes: c.classes, labels: labels, activation: .tanh)
            .denseByClass(f * h * w, classes: c.classes, labels: labels).reshaped(shape)
        let unposed = groupThetas.isEmpty ? fromLevel2 : warpGroups(fromLevel2, by: groupThetas.map { invertedAffine($0) })
        let fromLevel1 = z1.denseByClass(f * h * w, classes: c.classes, labels: labels).reshaped(shape)
        return (unposed + fromLevel1).relu().transposedConv2dByClass(
            c.channels, kernel: 4, stride: 2, outputSize: (c.height, c.width), classes: c.classes, labels: labels,
            activation: .sigmoid)
    }

    /// 1 where the largest logit is not the label's (ties count as right), else 0: `[batch]`.
    public static func misclassified(_ logits: Tensor, _ labels: Tensor, classes: Int) -> Tensor {
        let picked = (logits * labels.oneHot(classes)).sum(axes: [1])
        return picked.compare(.less, logits.max(axes: [1]))
    }
}
