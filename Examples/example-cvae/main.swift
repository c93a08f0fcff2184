// A conditional VAE on MNIST, written only with Gauge's public API: the model (label one-hot
// into encoder and decoder), `Trainer.fit` (metrics, checkpoints, resume) and, from the
// checkpoint alone, samples from the prior drawn by a second model that shares the decoder.
import ArgumentParser
import Compiler
import Datasets
import Experiments
import Foundation
import GaugeTools
import Graph
import Models
import Runtime

let latents = 16

/// The decoder, shared by name: both models make `decoder/dense` and `decoder/dense_1`.
func decoder(_ z: Tensor, _ label: Tensor) -> Tensor {
    Scope("decoder") { concat([z, label.oneHot(10)], axis: 1).dense(512, activation: .relu).dense(784) }
}

func conditionalVAE() throws(ModelError) -> Model {
    try Model("cvae") {
        let image = Input("image", [.batch, 1, 28, 28])
        let label = Input("label", [.batch], dtype: .int32)
        let x = image.flattened()
        let (mean, logScale) = Scope("encoder") {
            let h = concat([x, label.oneHot(10)], axis: 1).dense(512, activation: .relu)
            return (h.dense(latents), h.dense(latents))
        }
        let z = sampleGaussian(mean: mean, logScale: logScale)
        Loss(bernoulliCrossEntropy(logits: decoder(z, label), target: x), name: "reconstruction")
        Loss(gaussianKL(mean, logScale), name: "kl")
    }
}

/// Images of given labels from z ~ N(0, I): no encoder, no optimizer slots.
func sampler() throws(ModelError) -> Model {
    try Model("cvae-sampler") {
        let label = Input("label", [.batch], dtype: .int32)
        Output("images", decoder(random(.normal, [.batch, .fixed(latents)]), label).sigmoid())
    }
}

struct ExampleCVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-cvae",
        abstract: "Train a conditional VAE on MNIST and draw samples of every class from the prior.",
        discussion: """
            Writes into --out: checkpoint.safetensors (resumed when present), metrics.jsonl (per image: \
            reconstruction and KL in nats, train and test) and samples.png (one row per class, drawn from \
            the checkpoint's parameters alone). Data: --data DIR, else GAUGE_DATA, else ~/.cache/gauge, \
            each holding mnist/. `example-cvae tools summary|dot|bench|export cvae` runs Gauge's \
            command line on this example's models.
            """)

    @Option(help: "Folder holding mnist/ (else GAUGE_DATA, else ~/.cache/gauge).") var data: String?
    @Option(help: "Epochs to train.") var epochs = 5
    @Option(help: "Images per step.") var batch = 100
    @Option(help: "AdamW learning rate (cosine schedule with 200 warm-up steps).") var learningRate: Float = 1e-3
    @Option(help: "Use only the first N training and test images (0: all).") var limit = 0
    @Option(help: "Output folder.") var out = "runs/cvae"
    @Option(help: "Samples per class in samples.png.") var samples = 10

    func validate() throws {
        guard epochs > 0, batch > 0, samples > 0, limit >= 0 else {
            throw ValidationError("--epochs, --batch and --samples must be positive, --limit not negative")
        }
    }

    func run() throws {
        let location = DataLocation(explicit: data)
        var (train, test) = (try location.mnist(train: true), try location.mnist(train: false))
        if limit > 0 { (train, test) = (train.prefix(limit), test.prefix(limit)) }
        let steps = epochs * (train.count / batch)
        let optimizer = Optimizer.adamW(
            learningRate: learningRate, weightDecay: 1e-4, schedule: .cosine(warmupSteps: min(200, steps / 10), totalSteps: steps))
        let trainer = try Trainer(conditionalVAE(), batch: batch, optimizer: optimizer, progress: TrainingProgress(every: 100))
        print("cvae: \(train.count) training and \(test.count) test images, \(steps) steps; writing to \(out)/")
        try trainer.fit(train: train, test: test, epochs: epochs, output: out)

        // Sampling needs the decoder's parameters only, read from the checkpoint by name and shape.
        let parameters = try Parameters.load(Trainer.checkpointPath(out), for: sampler())
        let labels = (0..<10).flatMap { Array(repeating: Int32($0), count: samples) }
        let images = try Inference(sampler(), batch: labels.count).run(parameters, feeding: ["label": .int32(labels)], seed: 7)
        let picture = tiledPicture(images["images"]!, count: labels.count, channels: 1, height: 28, width: 28, columns: samples, scale: 2)
        try PNG.write(picture, to: out + "/samples.png")
        print("wrote \(out)/samples.png: \(samples) samples of each digit from the prior")
    }
}

// `example-cvae tools summary cvae` (and models, dot, bench, export): Gauge's command line on these models.
if CommandLine.arguments.dropFirst().first == "tools" {
    GaugeTools.main(Array(CommandLine.arguments.dropFirst(2)), models: [
        ModelEntry(name: "cvae", summary: "conditional VAE on MNIST, 16 latents") { () throws(ModelError) in try conditionalVAE() },
        ModelEntry(name: "cvae-sampler", summary: "its decoder drawing from the prior") { () throws(ModelError) in try sampler() },
    ])
}
ExampleCVAE.main()
