// ACE with a symmetry-statistics net of its own — a 4-parameter similarity transform (scale and
// rotation in one 2×2 block, and a move; no shear) instead of the paper's six free affine
// statistics — and a β weight on the KL term, on rotated-translated-scaled MNIST. Written with
// Gauge's public API only: ACE's parts as building blocks, Trainer.fit, and samples drawn from
// the checkpoint's decoder alone.
import ArgumentParser
import Compiler
import Datasets
import Experiments
import Foundation
import Graph
import Models
import Runtime

let config = ACEConfiguration.mnist(.rts)

/// θ = [a −b tx; b a ty]: the paper's localisation convs, then four statistics starting at
/// the identity (a = 1; b, tx, ty = 0). Also returns the squared scale a² + b².
func similarityStatistics(_ x: Tensor, _ net: ACEConfiguration.SymmetryNet) -> (theta: Tensor, scale: Tensor) {
    var h = net.poolInput ? x.maxPool(2) : x
    for (i, conv) in net.convolutions.enumerated() {
        if i > 0 { h = h.maxPool(2) }
        h = h.conv2d(conv.filters, kernel: conv.kernel, padding: net.convPadding, activation: .relu)
    }
    h = h.flattened().dense(net.hidden, activation: .relu)
    let a = h.dense(1, weightInitializer: .zeros, biasInitializer: .constant(1))
    let (b, tx, ty) = (h.dense(1, weightInitializer: .zeros), h.dense(1, weightInitializer: .zeros), h.dense(1, weightInitializer: .zeros))
    return (concat([a, -b, tx, b, a, ty], axis: 1), a * a + b * b)
}

func variant(beta: Float) throws(ModelError) -> Model {
    try Model("ace-rts-similarity") {
        let x = Input("image", [.batch, 1, 42, 42])
        let y = Input("label", [.batch], dtype: .int32)
        let (theta, scale) = Scope("ssn") { similarityStatistics(x, config.symmetryNet!) }
        let canonical = Scope("warp") { x.warped(by: theta) }
        let logits = Scope("classifier") { ACE.classifier(canonical, config) }
        let (mean, logScale) = Scope("encoder") { ACE.encoder(canonical, labels: y, config) }
        let z = Scope("latent") { sampleGaussian(mean: mean, logScale: logScale) }
        let canonicalReconstruction = Scope("decoder") { ACE.decoder(z, labels: y, config) }
        let reconstruction = Scope("unwarp") { canonicalReconstruction.warped(by: invertedAffine(theta)) }
        Loss(bernoulliCrossEntropy(probabilities: reconstruction, target: x), name: "reconstruction_error")
        Loss(gaussianKL(mean, logScale) * beta, name: "generative_error")
        Loss(softmaxCrossEntropy(logits: logits, labels: y), name: "classification_error")
        Output("scale_squared", scale)
    }
}

struct ExampleACEVariant: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-ace-variant",
        abstract: "Train ACE with similarity-transform symmetry statistics and a β-weighted KL on RTS MNIST.",
        discussion: """
            Writes into --out: checkpoint.safetensors (resumed when present), metrics.jsonl (per image, \
            train and test; test "scale_squared" is the mean of a² + b² over the images) and \
            samples.png (one row per class: z from the prior through that class's decoder, canonical \
            frame). Data: --data DIR, else GAUGE_DATA, else ~/.cache/gauge, each holding mnist/.
            """)

    @Option(help: "Folder holding mnist/.") var data: String?
    @Option(help: "Epochs to train (one epoch of all 60,000 images is about 25 minutes on 2 cores).") var epochs = 1
    @Option(help: "Weight of the KL term (1: ACE's ELBO).") var beta: Float = 1
    @Option(help: "Images per step.") var batch = 250
    @Option(help: "Use only the first N training and test images (0: all).") var limit = 0
    @Option(help: "Output folder.") var out = "runs/ace-variant"

    func validate() throws {
        guard epochs > 0, batch > 0, limit >= 0, beta >= 0 else { throw ValidationError("--epochs and --batch must be positive, --limit and --beta not negative") }
    }

    func run() throws {
        let location = DataLocation(explicit: data)
        var (train, test) = (try location.mnist(train: true), try location.mnist(train: false))
        if limit > 0 { (train, test) = (train.prefix(limit), test.prefix(limit)) }
        (train, test) = (try Distortion.rts(train, seed: 1).0, try Distortion.rts(test, seed: 2).0)
        let optimizer = Optimizer.adam(learningRate: config.learningRate, schedule: .halfLife(epochs: 50))
        let trainer = try Trainer(variant(beta: beta), batch: batch, optimizer: optimizer, progress: TrainingProgress(every: 20))
        print("ace-rts-similarity, β = \(beta): \(train.count) training and \(test.count) test images; writing to \(out)/")
        try trainer.fit(train: train, test: test, epochs: epochs, output: out)

        // The renderer declares the decoder alone, under the same names: z ~ N(0, 1) per class.
        let renderer = try ACE.renderer(config)
        let parameters = try Parameters.load(Trainer.checkpointPath(out), for: renderer)
        var random = SystemRandomNumberGenerator()
        let labels = (0..<10).flatMap { Array(repeating: Int32($0), count: 10) }
        let z = labels.map { _ in Float(sqrt(-2 * log(Double.random(in: 1e-12..<1, using: &random))) * cos(2 * .pi * Double.random(in: 0..<1, using: &random))) }
        let identity = (0..<labels.count).flatMap { _ -> [Float] in [1, 0, 0, 0, 1, 0] }
        let images = try Inference(renderer, batch: labels.count).run(
            parameters, feeding: ["latent": .float32(z), "label": .int32(labels), "pose": .float32(identity)])
        try PNG.write(tiledPicture(images["canonical"]!, count: 100, channels: 1, height: 42, width: 42, columns: 10), to: out + "/samples.png")
        print("wrote \(out)/samples.png: 10 samples of each digit from the prior, canonical frame")
    }
}

ExampleACEVariant.main()
