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
    /// Steps with a non-finite loss to skip before stopping (0: stop at the first).
    public var skipNonFinite = 0
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
    /// The judge file that scores the generated figures after every epoch (nil: the default
    /// judge of the training set in `cache`, when one has been made; "none": no judge).
    public var judge: String?
    /// Where `gauge judge` keeps its judges by default (`DataLocation.cache`).
    public var cache = DataLocation().cache

    public init(configuration: ACEConfiguration, epochs: Int, output: String, classNames: [String]) {
        self.configuration = configuration
        self.epochs = epochs
        self.output = output
        self.classNames = classNames
        learningRate = configuration.learningRate
    }
}

/// ACE's test evaluation after each epoch (the "test" object of a `metrics.jsonl` line), per image.
public struct ACEEvaluation: Sendable {
    public var images: Int
    public var classificationError: Double
    public var reconstructionNats: Double
    public var klNats: Double
    /// Eq. 4.1 without labels: Σ_c ω_c·(reconstruction, KL) with ω the classifier's softmax,
    /// over the first `mixtureImages` test images, and KL(ω‖π) to the uniform class prior π:
    /// the three together bound −log q(x) per image from above.
    public var mixtureImages: Int
    public var mixtureReconstructionNats: Double
    public var mixtureKlNats: Double
    public var mixtureClassKlNats: Double
    /// The 99th percentile of |posterior mean| over every latent of every test image (with the
    /// true class): where the decoders were trained, beside the figures' grid out to ±4.
    public var latentMeanAbsP99: Double

    /// The fields by their metrics.jsonl names.
    var dictionary: [String: Double] {
        [
            "images": Double(images), "classification_error": classificationError,
            "reconstruction_nats": reconstructionNats, "kl_nats": klNats, "mixture_images": Double(mixtureImages),
            "mixture_reconstruction_nats": mixtureReconstructionNats, "mixture_kl_nats": mixtureKlNats,
            "mixture_class_kl_nats": mixtureClassKlNats, "latent_mean_abs_p99": latentMeanAbsP99,
        ]
    }
}

/// Trains ACE with `Trainer.fit` — progress, a checkpoint, metrics and figures after every
/// epoch, `resume` from the checkpoint (data order included) — the loop behind both examples.
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

    var checkpointPath: String { Trainer.checkpointPath(options.output) }

    /// Trains with `Trainer.fit`: ACE's evaluation (classification error, per-image terms, the
    /// mixture bound) and its figures are the trainer's evaluation and callbacks, so the paper's
    /// models use nothing a user's own model cannot.
    public func run() throws {
        let o = options
        let adam = Optimizer.adam(
            learningRate: o.learningRate, weightDecay: o.weightDecay * Float(o.batch) / Float(train.count),
            decayFollowsLearningRate: false, halfLifeEpochs: o.halfLife,
            rateFactors: o.symmetryRateFactor == 1 || o.configuration.symmetryNet == nil ? [:] : ["ssn": o.symmetryRateFactor])
        if o.resume && !FileManager.default.fileExists(atPath: checkpointPath) {
            throw ExperimentError("--resume: there is no checkpoint at \(checkpointPath)")
        }
        let trainer = try Trainer(ACE.model(o.configuration), batch: o.batch, optimizer: adam, seed: o.seed, progress: progress)
        trainer.rowName = "image"
        if o.skipNonFinite > 0 { trainer.onNonFiniteLoss = .skip(limit: o.skipNonFinite) }
        if o.binarize {
            trainer.transform = { feeds, step in
                guard case .float32(let images) = feeds["image"] else { return }
                feeds["image"] = .float32(Distortion.binarized(images, seed: o.seed ^ UInt64(step) &* 0x2545_F491_4F6C_DD1D))
            }
        }
        let evaluation = try Inference(ACE.model(o.configuration, perImageTerms: true, evaluation: true), batch: o.batch)
        let figures = Figures(try Renderer(o.configuration))
        var first: FirstBatch?
        let judge = try loadJudge()
        trainer.evaluation = { state in
            let (test, batch) = try self.evaluate(evaluation, state)
            first = batch
            guard let judge else { return test.dictionary }
            return test.dictionary.merging(try self.judgeScores(judge, figures, evaluation, state)) { $1 }
        }
        let grid = o.configuration.latentPerClass > 1 ? " (latent grid of class \(o.classNames[o.figureClass]))" : ""
        trainer.onEpoch = { _, state in
            try self.writeFigures(figures, evaluation, state, first ?? self.firstTestBatch(evaluation, state))
            try self.writeSamples(figures, evaluation, state)
            self.progress.line("saved figures\(grid) in \(o.output)/")
        }
        trainer.onStop = { state in
            try self.writeFigures(figures, evaluation, state, try self.firstTestBatch(evaluation, state))
            try self.writeSamples(figures, evaluation, state)
            self.progress.line("saved figures\(grid) in \(o.output)/; stopped after --max-steps \(o.maxSteps), continue with --resume")
        }
        try trainer.fit(train: train, epochs: o.epochs, output: o.output, resume: o.resume, maxSteps: o.maxSteps)
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
        Logits.firstLargest(logits, row: i, classes: options.configuration.classes)
    }

    /// Test batch `k` (binarised the same way at every evaluation when asked).
    func testBatch(_ k: Int) -> (images: [Float], labels: [Int32]) {
        let b = options.batch
        let (images, labels) = test.gather(Array((k * b)..<((k + 1) * b)))
        guard options.binarize else { return (images, labels) }
        return (Distortion.binarized(images, seed: ~options.seed ^ UInt64(k) &* 0x9E37_79B9_7F4A_7C15), labels)
    }

    /// Test classification error and per-image losses with the true labels, over whole batches.
    func evaluate(_ inference: Inference, _ state: TrainingState) throws -> (ACEEvaluation, FirstBatch) {
        let b = options.batch
        var wrong = 0
        var totals: [String: Double] = [:]
        var first: FirstBatch?
        let count = test.count / b
        let mixtureCount = max(1, min(test.count, options.mixtureImages) / b)
        var mixtureBatches: [(images: [Float], logits: [Float])] = []
        var latentMeans: [Float] = []
        for k in 0..<count {
            let (images, labels) = testBatch(k)
            let out = try inference.evaluate(state, feeding: ["image": .float32(images), "label": .int32(labels)], step: k)
            if k == 0 { first = FirstBatch(images: images, labels: labels, outputs: out) }
            // ACE.model declares the logits output and the loss terms (ACEModelTests check it).
            let logits = out["logits"]!
            if k < mixtureCount { mixtureBatches.append((images, logits)) }
            latentMeans += (out["latent_mean"] ?? []).map { Swift.abs($0) }
            for i in 0..<b where predictedClass(logits, i) != Int(labels[i]) { wrong += 1 }
            for term in Self.terms { totals[term, default: 0] += Double(out[term]![0]) }
        }
        let n = Double(count * b)
        let mixture = try mixtureBound(inference, state, batches: mixtureBatches)
        let test = ACEEvaluation(
            images: count * b, classificationError: Double(wrong) / n,
            reconstructionNats: totals[Self.terms[0]]! / n, klNats: totals[Self.terms[1]]! / n,
            mixtureImages: mixture.images, mixtureReconstructionNats: mixture.reconstruction, mixtureKlNats: mixture.kl,
            mixtureClassKlNats: mixture.classKL, latentMeanAbsP99: Self.percentile(latentMeans, 0.99))
        return (test, first!)
    }

    /// The `q` quantile of `values` (the nearest rank); 0 when empty.
    static func percentile(_ values: [Float], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return Double(sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)])
    }

    /// The test-time mixture over classes (seed eq. 4.1, PAPER.md §1.6): every class's latent
    /// head and decoder run on each image of the test batches the evaluation already fed (its
    /// images, as fed, and its `logits`), weighted by the classifier's ω (softmax of those
    /// logits, which do not depend on the label fed); per-image means, with KL(ω‖π) for the
    /// uniform class prior π (Σ_c ω_c log(C·ω_c)), which makes the sum a true bound.
    func mixtureBound(_ inference: Inference, _ state: TrainingState, batches evaluated: [(images: [Float], logits: [Float])]) throws
        -> (images: Int, reconstruction: Double, kl: Double, classKL: Double)
    {
        let b = options.batch
        let classes = options.configuration.classes
        let batches = evaluated.count
        var (reconstruction, kl, classKL) = (0.0, 0.0, 0.0)
        for (k, (images, logits)) in evaluated.enumerated() {
            var omega = [Double](repeating: 0, count: b * classes)
            for i in 0..<b {
                for (c, w) in Logits.probabilities(logits, row: i, classes: classes).enumerated() {
                    omega[i * classes + c] = w
                    if w > 0 { classKL += w * Foundation.log(Double(classes) * w) }
                }
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
        return (batches * b, reconstruction / n, kl / n, classKL / n)
    }
}
