import ArgumentParser
import Datasets
import Experiments
import Foundation
import Runtime

/// `gauge judge DATASET`: trains the classifier that scores generated figures, and keeps it
/// where the examples look for it.
struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge",
        abstract: "Train the judge of a data set: a small CNN that scores generated images.",
        discussion: """
            Trains `Judge.model` (3×3 convolutions, max-pooling, a dense layer; written in the DSL) \
            with Adam on the training images, measures its test accuracy and writes \
            judge.safetensors (parameters, image size, classes, data set and accuracy) into --out, \
            by default ~/.cache/gauge/judges/<set>/, where the examples find it: they then score \
            samples.png, samples-posed.png and latent-grid.png after every epoch (class \
            consistency, mean confidence, flat fraction in metrics.jsonl). Rerunning continues \
            from the checkpoint in --out. RTS and TC are made from MNIST with --seed (test: --seed \
            + 1), as the examples make them.
            Example: gauge judge rts --data ../shared/data
            """)

    @Argument(help: "mnist, rts, tc, fashion-mnist or cifar10.")
    var dataset: String

    @Option(help: "Folder holding the data sets (else GAUGE_DATA, else ~/.cache/gauge).")
    var data: String?

    @Option(help: "Epochs to train (default: 6; rts and tc: 4, over 4 draws; cifar10: 8).")
    var epochs: Int?

    @Option(help: ArgumentHelp(
        "rts and tc: train on this many draws of the distortion of each training image (default: 4).",
        discussion: "Draw 1 uses --seed, draw k the seed + 1000·(k−1); the test set uses --seed + 1."))
    var draws: Int?

    @Option(help: "Adam's learning rate at the start of its cosine schedule.")
    var learningRate: Float = 0.002

    @Option(help: "Use only the first N training and test images; 0 means all.")
    var limit: Int = 0

    @Option(help: "Seed of the parameters, the data order and the RTS/TC distortions.")
    var seed: UInt64 = 1

    @Option(help: "Folder for judge.safetensors and the training checkpoint (default: ~/.cache/gauge/judges/<set>).")
    var out: String?

    @Option(help: "Worker threads (default: GAUGE_THREADS, else 2).")
    var threads: Int?

    static let datasets = ["mnist", "rts", "tc", "fashion-mnist", "cifar10"]

    /// RTS and TC: made from MNIST by a seeded distortion, drawn `--draws` times for training.
    var distorted: Bool { dataset == "rts" || dataset == "tc" }

    func validate() throws {
        guard Self.datasets.contains(dataset) else {
            throw ValidationError("the data set is one of \(Self.datasets.joined(separator: ", ")); not '\(dataset)'")
        }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive") }
        guard (epochs ?? 1) > 0, limit >= 0, (threads ?? 1) > 0, (draws ?? 1) > 0 else {
            throw ValidationError("--epochs, --threads and --draws must be positive, --limit not negative")
        }
        if draws != nil && !distorted { throw ValidationError("--draws is for the distorted sets rts and tc") }
        if dataset == "tc" && limit == 1 { throw ValidationError("tc takes its clutter from other images: --limit must be at least 2") }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let location = DataLocation(explicit: data)
        var (train, test) = dataset == "cifar10"
            ? (try location.cifar10(train: true), try location.cifar10(train: false))
            : (try location.mnist(train: true, fashion: dataset == "fashion-mnist"),
               try location.mnist(train: false, fashion: dataset == "fashion-mnist"))
        if limit > 0 { (train, test) = (train.prefix(limit), test.prefix(limit)) }
        if distorted {
            let distort = { (data: Dataset, seed: UInt64) in
                dataset == "rts" ? try Distortion.rts(data, seed: seed).0 : try Distortion.tc(data, seed: seed).0
            }
            test = try distort(test, seed &+ 1)
            train = try (1..<(draws ?? 4)).reduce(try distort(train, seed)) { all, k in
                try all.appending(try distort(train, seed &+ 1000 &* UInt64(k)))
            }
        }
        let folder = out ?? Judge.defaultFolder(for: train.name, cache: location.cache)
        let progress = TrainingProgress(every: 100)
        progress.line("training the judge of \(train.name) (\(train.count) images; test \(test.count)) into \(folder)/")
        try Judge.train(
            train: train, test: test, epochs: epochs ?? (dataset == "cifar10" ? 8 : distorted ? 4 : 6), folder: folder, learningRate: learningRate, seed: seed,
            progress: progress)
    }
}
