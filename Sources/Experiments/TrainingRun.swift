import Compiler
import Datasets
import Foundation
import Graph
import Models
import Runtime

/// How to train an ACE configuration: the examples fill this from their command lines.
public struct TrainingOptions: Sendable {
    public var configuration: ACEConfiguration
    public var epochs: Int
    public var batch = 250
    public var learningRate: Float
    /// Learning-rate half-life in epochs (the paper's "decay = 50 epochs").
    public var halfLife: Double = 50
    /// The 2015 code's weight decay: each step shrinks every parameter by
    /// `weightDecay · batch / training images`, whatever the learning rate (PAPER.md §1.7, §3.1).
    public var weightDecay: Float = 1e-4
    /// Learning-rate factor of the symmetry-statistics net (PAPER.md §2.1: optionally 0.1).
    public var symmetryRateFactor: Float = 1
    public var seed: UInt64 = 1
    /// Folder for checkpoint, metrics and figures.
    public var output: String
    public var resume = false
    /// A progress line every this many steps (when output is not a terminal).
    public var every = 10
    /// Stop after this many steps of this run (0: no limit).
    public var maxSteps = 0
    /// The class whose 2-D latent grid is drawn.
    public var figureClass = 0
    public var classNames: [String]
    /// Test objects in the control strip.
    public var controlObjects = 4
    /// Test images (whole batches, at least one) for the mixture bound of eq. 4.1, which runs
    /// every class's decoder: `classes` evaluations per batch.
    public var mixtureImages = 1000
    /// Binarise images stochastically at every use, training and test (the 2015a code).
    public var binarize = false

    public init(configuration: ACEConfiguration, epochs: Int, output: String, classNames: [String]) {
        self.configuration = configuration
        self.epochs = epochs
        self.output = output
        self.classNames = classNames
        learningRate = configuration.learningRate
    }
}

/// One line of `metrics.jsonl`: an epoch's training loss terms and its test evaluation, per image.
public struct EpochMetrics: Codable, Sendable {
    public struct Train: Codable, Sendable {
        public var reconstruction: Double
        public var kl: Double
        public var classification: Double
        public var total: Double
    }
    public struct Test: Codable, Sendable {
        public var images: Int
        public var classificationError: Double
        public var reconstructionNats: Double
        public var klNats: Double
        /// Eq. 4.1 without labels: Σ_c ω_c·(reconstruction, KL) with ω the classifier's softmax,
        /// over the first `mixtureImages` test images (an upper bound on −log q(x) per image).
        public var mixtureImages: Int
        public var mixtureReconstructionNats: Double
        public var mixtureKlNats: Double
    }
    public var epoch: Int
    public var steps: Int
    public var seconds: Double
    public var learningRate: Double
    public var train: Train
    public var test: Test
}

/// Trains ACE with progress, a checkpoint, metrics and figures after every epoch, and
/// `resume` from the checkpoint (data order included) — the loop behind both examples.
public final class TrainingRun {
    public let options: TrainingOptions
    let train: Dataset
    let test: Dataset
    let progress: TrainingProgress
    static let terms = ["reconstruction_error", "generative_error", "classification_error"]

    public init(_ options: TrainingOptions, train: Dataset, test: Dataset, progress: TrainingProgress) throws {
        let c = options.configuration
        for (split, data) in [("training", train), ("test", test)] {
            guard data.channels == c.channels, data.height == c.height, data.width == c.width else {
                throw ExperimentError(
                    "the \(split) images are \(data.channels)×\(data.height)×\(data.width); \(c.name) takes \(c.channels)×\(c.height)×\(c.width)")
            }
            guard data.count >= options.batch else {
                throw ExperimentError("the \(split) set has \(data.count) images, fewer than one batch of \(options.batch)")
            }
        }
        self.options = options
        self.train = train
        self.test = test
        self.progress = progress
    }

    var checkpointPath: String { options.output + "/checkpoint.safetensors" }

    public func run() throws {
        let o = options
        let model = try ACE.model(o.configuration)
        let adam = Optimizer.adam(
            learningRate: o.learningRate, weightDecay: o.weightDecay * Float(o.batch) / Float(train.count),
            decayFollowsLearningRate: false, halfLifeEpochs: o.halfLife,
            rateFactors: o.symmetryRateFactor == 1 || o.configuration.symmetryNet == nil ? [:] : ["ssn": o.symmetryRateFactor])
        let step = try TrainingStep(model, batch: o.batch, optimizer: adam)
        progress.line(
            "compiled \(o.configuration.name) at batch \(o.batch) in \(Int(step.compileSeconds * 1000)) ms: \(step.plan.instructions.count) kernels, arena \(step.plan.arenaBytes / 1_000_000) MB")
        try FileManager.default.createDirectory(atPath: o.output, withIntermediateDirectories: true)
        var batches = Batches(count: train.count, batchSize: o.batch, seed: o.seed)
        let state: TrainingState
        if o.resume {
            state = try step.loadState(from: checkpointPath)
            batches.cursor = (state.epoch, Int(state.metadata["data.position"] ?? "0") ?? 0)
            progress.line("resumed from \(checkpointPath): epoch \(state.epoch + 1), step \(state.step)")
        } else {
            state = step.initialState(seed: o.seed)
        }
        let evaluation = try Inference(ACE.model(o.configuration, perImageTerms: true), batch: o.batch)
        let figures = Figures(try Renderer(o.configuration))
        let perEpoch = batches.batchesPerEpoch
        var sums: [String: Double] = [:]
        var counted = 0
        var started = Date()
        var stepsThisRun = 0
        while state.epoch < o.epochs {
            let (epoch, records) = batches.next()
            state.epoch = epoch
            var (images, labels) = train.gather(records)
            if o.binarize { images = Distortion.binarized(images, seed: o.seed ^ UInt64(state.step) &* 0x2545_F491_4F6C_DD1D) }
            let losses = try step.run(state, feeding: ["image": .float32(images), "label": .int32(labels)])
            // The divergence guard: stop at the first non-finite loss; the checkpoint on disk
            // (if any) is the last good one.
            guard (losses["total"] ?? 0).isFinite else {
                throw TrainingError.diverged(
                    step: state.step - 1, epoch: epoch, losses: losses, firstNonFinite: nil,
                    checkpoint: FileManager.default.fileExists(atPath: checkpointPath) ? checkpointPath : nil)
            }
            for (k, v) in losses { sums[k, default: 0] += Double(v) / Double(o.batch) }
            counted += 1
            stepsThisRun += 1
            let epochDone = batches.cursor.epoch != epoch
            let position = epochDone ? perEpoch : batches.cursor.position / o.batch
            let seconds = Date().timeIntervalSince(started) / Double(counted)
            let left = Double((o.epochs - epoch - 1) * perEpoch + (perEpoch - position)) * seconds
            let mean = { (k: String) in (sums[k] ?? 0) / Double(counted) }
            progress.update(
                done: position, total: perEpoch,
                status: String(
                    format: "epoch %d/%d step %d/%d  per image: loss %.1f (recon %.1f, kl %.2f, class %.3f)  %.2f s/step  ETA %@",
                    epoch + 1, o.epochs, position, perEpoch, mean("total"), mean(Self.terms[0]), mean(Self.terms[1]),
                    mean(Self.terms[2]), seconds, TrainingProgress.duration(left)))
            let limitReached = o.maxSteps > 0 && stepsThisRun >= o.maxSteps
            guard epochDone || limitReached else { continue }
            state.epoch = batches.cursor.epoch
            state.metadata["data.position"] = String(batches.cursor.position)
            try state.save(to: checkpointPath)
            if epochDone {
                let elapsed = Date().timeIntervalSince(started)
                let (test, first) = try evaluate(evaluation, state)
                let metrics = EpochMetrics(
                    epoch: epoch + 1, steps: counted, seconds: elapsed,
                    learningRate: Double(adam.rate(step: state.step - 1, epoch: epoch)),
                    train: .init(
                        reconstruction: mean(Self.terms[0]), kl: mean(Self.terms[1]), classification: mean(Self.terms[2]),
                        total: mean("total")),
                    test: test)
                try appendMetrics(metrics)
                progress.line(
                    String(
                        format: "epoch %d done in %@: test classification error %.2f %%; per image with labels reconstruction %.1f + kl %.2f nats, without labels (eq. 4.1) %.1f + %.2f nats",
                        epoch + 1, TrainingProgress.duration(elapsed), 100 * test.classificationError, test.reconstructionNats,
                        test.klNats, test.mixtureReconstructionNats, test.mixtureKlNats))
                try writeFigures(figures, evaluation, state, first)
            } else {
                try writeFigures(figures, evaluation, state, try firstTestBatch(evaluation, state))
            }
            let grid = o.configuration.latentPerClass > 1 ? " (latent grid of class \(o.classNames[o.figureClass]))" : ""
            progress.line("saved \(checkpointPath), figures\(grid) and metrics in \(o.output)/")
            sums = [:]
            counted = 0
            started = Date()
            if limitReached {
                progress.line("stopped after \(stepsThisRun) steps (--max-steps); continue with --resume")
                break
            }
        }
    }

    /// What the figures need from the first test batch.
    struct FirstBatch {
        var images: [Float]
        var labels: [Int32]
        var outputs: [String: [Float]]
    }

    func firstTestBatch(_ inference: Inference, _ state: TrainingState) throws -> FirstBatch {
        let (images, labels) = testBatch(0)
        let out = try inference.evaluate(state, feeding: ["image": .float32(images), "label": .int32(labels)])
        return FirstBatch(images: images, labels: labels, outputs: out)
    }

    /// The most likely class of batch row `i` under `logits [batch, classes]`.
    func predictedClass(_ logits: [Float], _ i: Int) -> Int {
        let classes = options.configuration.classes
        // The first largest logit; a NaN row (a diverged model) counts as class 0, never a crash.
        var best = 0
        for c in 1..<max(classes, 1) where logits[i * classes + c] > logits[i * classes + best] { best = c }
        return best
    }

    /// Test batch `k` (binarised the same way at every evaluation when asked).
    func testBatch(_ k: Int) -> (images: [Float], labels: [Int32]) {
        let b = options.batch
        let (images, labels) = test.gather(Array((k * b)..<((k + 1) * b)))
        guard options.binarize else { return (images, labels) }
        return (Distortion.binarized(images, seed: ~options.seed ^ UInt64(k) &* 0x9E37_79B9_7F4A_7C15), labels)
    }

    /// Test classification error and per-image losses with the true labels, over whole batches.
    func evaluate(_ inference: Inference, _ state: TrainingState) throws -> (EpochMetrics.Test, FirstBatch) {
        let b = options.batch
        var wrong = 0
        var totals: [String: Double] = [:]
        var first: FirstBatch?
        let count = test.count / b
        let mixtureCount = max(1, min(test.count, options.mixtureImages) / b)
        var mixtureBatches: [(images: [Float], logits: [Float])] = []
        for k in 0..<count {
            let (images, labels) = testBatch(k)
            let out = try inference.evaluate(state, feeding: ["image": .float32(images), "label": .int32(labels)], step: k)
            if k == 0 { first = FirstBatch(images: images, labels: labels, outputs: out) }
            let logits = out["logits"]!
            if k < mixtureCount { mixtureBatches.append((images, logits)) }
            for i in 0..<b where predictedClass(logits, i) != Int(labels[i]) { wrong += 1 }
            for term in Self.terms { totals[term, default: 0] += Double(out[term]![0]) }
        }
        let n = Double(count * b)
        let mixture = try mixtureBound(inference, state, batches: mixtureBatches)
        let test = EpochMetrics.Test(
            images: count * b, classificationError: Double(wrong) / n,
            reconstructionNats: totals[Self.terms[0]]! / n, klNats: totals[Self.terms[1]]! / n,
            mixtureImages: mixture.images, mixtureReconstructionNats: mixture.reconstruction, mixtureKlNats: mixture.kl)
        return (test, first!)
    }

    /// The test-time mixture over classes (seed eq. 4.1, PAPER.md §1.6): every class's latent
    /// head and decoder run on each image of the test batches the evaluation already fed (its
    /// images, as fed, and its `logits`), weighted by the classifier's ω (softmax of those
    /// logits, which do not depend on the label fed); per-image means.
    func mixtureBound(_ inference: Inference, _ state: TrainingState, batches evaluated: [(images: [Float], logits: [Float])]) throws
        -> (images: Int, reconstruction: Double, kl: Double)
    {
        let b = options.batch
        let classes = options.configuration.classes
        let batches = evaluated.count
        var (reconstruction, kl) = (0.0, 0.0)
        for (k, (images, logits)) in evaluated.enumerated() {
            var omega = [Double](repeating: 0, count: b * classes)
            for i in 0..<b {
                let row = logits[(i * classes)..<((i + 1) * classes)].map(Double.init)
                let peak = row.max()!
                let total = row.reduce(0) { $0 + exp($1 - peak) }
                for c in 0..<classes { omega[i * classes + c] = exp(row[c] - peak) / total }
            }
            for c in 0..<classes {
                let out = try inference.evaluate(
                    state, feeding: ["image": .float32(images), "label": .int32(.init(repeating: Int32(c), count: b))],
                    step: 1_000_000 + k * classes + c)
                let (r, d) = (out["reconstruction_per_image"]!, out["kl_per_image"]!)
                for i in 0..<b {
                    reconstruction += omega[i * classes + c] * Double(r[i])
                    kl += omega[i * classes + c] * Double(d[i])
                }
            }
        }
        let n = Double(batches * b)
        return (batches * b, reconstruction / n, kl / n)
    }

    func appendMetrics(_ metrics: EpochMetrics) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let line = try encoder.encode(metrics) + Data("\n".utf8)
        let path = options.output + "/metrics.jsonl"
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw ExperimentError("cannot create \(path)") }
        }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        try file.seekToEnd()
        try file.write(contentsOf: line)
    }

    /// latent-grid.png, reconstructions.png (originals; reconstructions with the true class; with
    /// the classifier's choice; the drawing in the canonical frame), control.png, control.json.
    func writeFigures(_ figures: Figures, _ evaluation: Inference, _ state: TrainingState, _ first: FirstBatch) throws {
        let c = options.configuration
        let dir = options.output + "/"
        try PNG.write(try figures.latentGrid(state, chosenClass: options.figureClass), to: dir + "latent-grid.png")

        let shown = min(10, options.batch)
        let latents = first.outputs["latent_mean"]!
        let thetas = (0..<options.batch).map { i in
            first.outputs["theta"].map { Affine2D(Array($0[(i * 6)..<((i + 1) * 6)])) } ?? .identity
        }
        func latent(_ i: Int) -> [Float] { Array(latents[(i * c.latentPerClass)..<((i + 1) * c.latentPerClass)]) }
        let canonical = try figures.renderer.render(
            (0..<shown).map { Renderer.Request(latent: latent($0), label: Int(first.labels[$0])) }, state: state)
        // Without labels (PAPER.md §1.6): the decoder of the classifier's most likely class.
        let logits = first.outputs["logits"]!
        let predicted = (0..<options.batch).map { Int32(predictedClass(logits, $0)) }
        let unlabelled = try evaluation.evaluate(
            state, feeding: ["image": .float32(first.images), "label": .int32(predicted)])["reconstruction"]!
        try PNG.write(
            figures.comparison(
                [
                    Array(first.images[0..<(shown * c.pixels)]), Array(first.outputs["reconstruction"]![0..<(shown * c.pixels)]),
                    Array(unlabelled[0..<(shown * c.pixels)]), canonical,
                ],
                columns: shown),
            to: dir + "reconstructions.png")

        let objects = Array(0..<min(options.controlObjects, options.batch))
        let (strip, report) = try figures.control(
            originals: Array(first.images[0..<(objects.count * c.pixels)]), indices: objects,
            labels: objects.map { Int(first.labels[$0]) }, thetas: objects.map { thetas[$0] },
            latents: objects.map(latent), state: state)
        try PNG.write(strip, to: dir + "control.png")
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: dir + "control.json"), options: .atomic)
    }
}
