// ACE with symmetry statistics at depth (the seed's open problems 1 and 2) against the shallow
// ACE, trained through one loop for the same wall-clock time: `DeepACE` (feature maps shared by
// the classifier and the encoder, a latent at two depths, a θ per group of level-1 maps) or,
// with --shallow, the paper's `ace-rts` / `ace-cifar`. Public API only: Models, Trainer.fit,
// Inference for the test error.
import ArgumentParser
import Datasets
import Experiments
import Foundation
import Graph
import Models
import Runtime

struct ExampleACEDeep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-ace-deep",
        abstract: "Train ACE with symmetry statistics at depth (ace-deep-rts, ace-deep-cifar), or the shallow ACE.",
        discussion: """
            Writes into --out: checkpoint.safetensors (resumed when present), metrics.jsonl (per \
            image, train and test loss terms — reconstruction_error and generative_error in nats — and \
            test "error", the classifier's error rate, after every epoch) and samples.png (ten samples \
            of each class from the prior, canonical frame; with --judge, scored). --minutes stops after that \
            much training time (at a step; the epoch's test evaluation still runs), for comparisons \
            at equal wall-clock. Data: --data DIR, else GAUGE_DATA, else ~/.cache/gauge (mnist/ or \
            cifar-10-batches-bin/).
            """)

    enum Variant: String, ExpressibleByArgument { case rts, cifar }

    @Option(help: "rts (42×42 rotated-translated-scaled MNIST) or cifar (CIFAR-10).") var variant = Variant.rts
    @Flag(help: "Train the shallow ACE (ace-rts or ace-cifar) through the same loop instead.") var shallow = false
    @Option(help: "Folder holding mnist/ or cifar-10-batches-bin/.") var data: String?
    @Option(help: "Epochs to train.") var epochs = 1
    @Option(help: "Stop after this many minutes of training (0: no limit).") var minutes: Double = 0
    @Option(help: "Images per step.") var batch = 250
    @Option(help: "Groups of level-1 maps with a θ each (default: the configuration's, 4; 0: no group statistics, for the ablation).") var groups: Int?
    @Option(help: "Use only the first N training and test images (0: all).") var limit = 0
    @Option(help: "Output folder (default: runs/<model>).") var out: String?
    @Option(help: "A judge (`gauge judge rts` or `cifar10` makes one) that scores samples.png: class consistency and mean confidence.") var judge: String?

    func validate() throws {
        guard epochs > 0, batch > 0, limit >= 0, minutes >= 0 else {
            throw ValidationError("--epochs and --batch must be positive, --limit and --minutes not negative")
        }
        if let groups {
            let maps = (variant == .rts ? DeepACEConfiguration.rts : .cifar).level1.filters
            guard groups >= 0, groups == 0 || maps % groups == 0 else {
                throw ValidationError("--groups must divide the \(maps) level-1 maps evenly (or be 0), got \(groups)")
            }
        }
    }

    func run() throws {
        let location = DataLocation(explicit: data)
        var (train, test): (Dataset, Dataset)
        if variant == .rts {
            (train, test) = (try location.mnist(train: true), try location.mnist(train: false))
            (train, test) = (try Distortion.rts(train, seed: 1).0, try Distortion.rts(test, seed: 2).0)
        } else {
            (train, test) = (try location.cifar10(train: true), try location.cifar10(train: false))
        }
        if limit > 0 { (train, test) = (train.prefix(limit), test.prefix(limit)) }
        var deep = variant == .rts ? DeepACEConfiguration.rts : .cifar
        if let groups, groups != deep.groups { (deep.groups, deep.name) = (groups, deep.name + "-groups\(groups)") }
        let shallowConfig = variant == .rts ? ACEConfiguration.mnist(.rts) : .cifar
        let model = shallow ? try ACE.model(shallowConfig) : try DeepACE.model(deep)
        let rate = shallow ? shallowConfig.learningRate : deep.learningRate
        let output = out ?? "runs/\(model.name)"
        let trainer = try Trainer(
            model, batch: batch, optimizer: .adam(learningRate: rate), progress: TrainingProgress(every: 20))
        trainer.evaluation = { state in try Self.evaluate(trainer, test, state) }
        let perEpoch = train.count / batch
        var maxSteps = 0
        if minutes > 0 { maxSteps = max(1, Int(minutes * 60 / max(try Self.secondsPerStep(trainer, train), 1e-3))) }
        print("\(model.name): \(train.count) training and \(test.count) test images, \(perEpoch) steps an epoch"
            + (maxSteps > 0 ? ", stopping after \(maxSteps) steps (\(minutes) min at the measured rate)" : "")
            + "; writing to \(output)/")
        let state = try trainer.fit(train: train, test: test, epochs: epochs, output: output, maxSteps: maxSteps)
        try Self.samples(shallow ? .shallow(shallowConfig) : .deep(deep), state.parameters, output, judge: judge)
    }

    enum Renderer {
        case shallow(ACEConfiguration), deep(DeepACEConfiguration)
    }

    /// samples.png: ten samples of each class, z from the prior at every level (seed 7), drawn
    /// in the canonical frame (identity poses); with a judge, its scores of them.
    static func samples(_ renderer: Renderer, _ parameters: Parameters, _ output: String, judge: String?) throws {
        let labels = (0..<10).flatMap { Array(repeating: Int32($0), count: 10) }
        var random = SplitMix64(seed: 7)
        func normal(_ n: Int) -> [Float] {
            (0..<n).map { _ in Float((-2 * Foundation.log(1 - random.unit())).squareRoot() * Foundation.cos(2 * .pi * random.unit())) }
        }
        let identity = (0..<labels.count).flatMap { _ -> [Float] in [1, 0, 0, 0, 1, 0] }
        var feeds: [String: TensorData] = ["label": .int32(labels), "pose": .float32(identity)]
        let model: Model
        let (channels, height, width): (Int, Int, Int)
        switch renderer {
        case .shallow(let c):
            model = try ACE.renderer(c)
            feeds["latent"] = .float32(normal(labels.count * c.latentPerClass))
            (channels, height, width) = (c.channels, c.height, c.width)
        case .deep(let c):
            model = try DeepACE.renderer(c)
            feeds["latent1"] = .float32(normal(labels.count * c.latents1))
            feeds["latent2"] = .float32(normal(labels.count * c.latents2))
            for g in 0..<c.groups { feeds["group_pose_\(g)"] = .float32(identity) }
            (channels, height, width) = (c.channels, c.height, c.width)
        }
        let images = try Inference(model, batch: labels.count).run(parameters, feeding: feeds)["canonical"]!
        let picture = tiledPicture(images, count: labels.count, channels: channels, height: height, width: width, columns: 10)
        try PNG.write(picture, to: output + "/samples.png")
        print("wrote \(output)/samples.png: 10 samples of each class from the prior, canonical frame")
        guard let judge else { return }
        let scores = try Judge(judge).score(images, asked: labels.map(Int.init))
        print(String(format: "judge: class consistency %.2f, mean confidence %.2f, flat %.2f", scores.classConsistency, scores.meanConfidence, scores.flatFraction))
    }

    /// The median of three steps' times on copies of the first batch (a fresh state, discarded).
    static func secondsPerStep(_ trainer: Trainer, _ train: Dataset) throws -> Double {
        let state = trainer.step.initialState(seed: 99)
        let feeds = train.feeds(Array(0..<trainer.batch))
        var times: [Double] = []
        for _ in 0..<4 {
            let start = Date()
            try trainer.step.run(state, feeding: feeds)
            times.append(Date().timeIntervalSince(start))
        }
        return times.dropFirst().sorted()[1]
    }

    /// The default per-image terms, and the test error rate from the logits of the same pass.
    static func evaluate(_ trainer: Trainer, _ test: Dataset, _ state: TrainingState) throws -> [String: Double] {
        var wrong = 0
        var metrics = try trainer.evaluate(test, state) { rows, results in
            let logits = results["logits"]!
            for (r, row) in rows.enumerated() {
                let scores = logits[(r * 10)..<((r + 1) * 10)]
                let best = scores.indices.max { scores[$0] < scores[$1] }! - r * 10
                if best != Int(test.labels[row]) { wrong += 1 }
            }
        }
        metrics["error"] = Double(wrong) / Double(max(test.count, 1))
        metrics.removeValue(forKey: "logits")
        metrics.removeValue(forKey: "reconstruction")
        return metrics
    }
}

ExampleACEDeep.main()
