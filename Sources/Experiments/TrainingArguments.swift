import ArgumentParser
import Datasets
import Foundation
import Models
import Runtime

/// The command-line options both ACE examples share (each adds `--epochs` and its own).
public struct TrainingArguments: ParsableArguments {
    public init() {}

    @Option(help: "Folder holding the data sets (else GAUGE_DATA, else ~/.cache/gauge).")
    public var data: String?

    @Flag(help: "When the data set is not found, fetch it from its official address into ~/.cache/gauge (SHA-256 checked, renamed into place when complete).")
    public var download = false

    @Option(help: "Images per step (the paper: 250).")
    public var batch: Int = 250

    @Option(help: "Adam learning rate (default: the paper's, 0.0015 for MNIST and 0.0005 for CIFAR-10).")
    public var learningRate: Float?

    @Option(help: "Learning-rate half-life in epochs (the paper's \"decay = 50 epochs\").")
    public var halfLife: Double = 50

    @Option(help: "The 2015 code's weight decay: each step shrinks every parameter by this × batch / training images, whatever the learning rate; 0 turns it off.")
    public var weightDecay: Float = 1e-4

    @Option(help: "Learning-rate factor for the symmetry-statistics net (the spatial-transformer paper used 0.1 on SVHN).")
    public var ssnRateFactor: Float = 1

    @Flag(help: "Train plain ACE, without the symmetry-statistics net and its warps (paper Fig. 1).")
    public var noSymmetryStatistics = false

    @Option(help: "Symmetry statistics as latent variables: in training draw the pose around the SSN's θ with Laplace noise of this scale (normalised units; the spec's example: 0.02) and add its KL term (pose_kl); tests and figures use θ.")
    public var poseNoise: Float?

    @Flag(help: "Learn the pose noise's six scales (as log b, from --pose-noise) instead of keeping them fixed.")
    public var learnPoseNoise = false

    @Option(help: "Latent sampling and its KL term: gaussian or laplacian (default: the paper's for the model; Laplacian only in Fig. 4).")
    public var sampling: String?

    @Flag(help: "Binarise images stochastically at every use (pixel = 1 with probability = intensity), as the paper's 2015a code does for MNIST; training and test.")
    public var binarize = false

    @Option(help: "Random seed (parameters, data order, distortions, sampling).")
    public var seed: UInt64 = 1

    @Option(help: "Worker threads (default: GAUGE_THREADS, else 2).")
    public var threads: Int?

    @Option(help: "Folder for checkpoint, metrics.jsonl and figures (default: runs/<model>-<date and time>).")
    public var out: String?

    @Flag(help: "Continue from the checkpoint in --out (default: the newest runs/<model>-* folder), data order included.")
    public var resume = false

    @Option(help: "Print a progress line every this many steps when output is not a terminal.")
    public var every: Int = 10

    @Option(help: "Stop after this many steps (checkpoint and figures are written); 0 means no limit.")
    public var maxSteps: Int = 0

    @Option(help: "Skip up to N steps whose loss is NaN or infinite (each undone by running the steps since the last checkpoint again) instead of stopping at the first; 0 stops.")
    public var skipNonFinite: Int = 0

    @Option(help: "Judge file that scores samples and the latent grid after every epoch (default: the training set's judge in ~/.cache/gauge/judges, when `gauge judge` made one; none: no scores).")
    public var judge: String?

    @Option(help: "Use only the first N training and test images (a quick check of the whole loop); 0 means all.")
    public var limit: Int = 0

    public mutating func validate() throws {
        guard batch > 0, every > 0, (threads ?? 1) > 0, halfLife > 0 else {
            throw ValidationError("--batch, --every, --threads and --half-life must be positive")
        }
        guard maxSteps >= 0, limit >= 0 else { throw ValidationError("--max-steps and --limit must not be negative") }
        if let sampling, !["gaussian", "laplacian", "laplace"].contains(sampling) {
            throw ValidationError("--sampling takes gaussian or laplacian, not \(sampling)")
        }
        if let learningRate, !(learningRate > 0) { throw ValidationError("--learning-rate must be positive") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be 0 or positive") }
        guard ssnRateFactor > 0, ssnRateFactor.isFinite else { throw ValidationError("--ssn-rate-factor must be positive") }
        if let poseNoise {
            guard poseNoise > 0, poseNoise.isFinite else { throw ValidationError("--pose-noise must be positive, got \(poseNoise)") }
            guard !noSymmetryStatistics else { throw ValidationError("--pose-noise samples the symmetry statistics: drop --no-symmetry-statistics") }
        }
        if learnPoseNoise && poseNoise == nil { throw ValidationError("--learn-pose-noise needs --pose-noise SCALE to start from") }
        if limit > 0 && limit < batch { throw ValidationError("--limit \(limit) is smaller than --batch \(batch)") }
    }

    /// Where to look for data: --data, GAUGE_DATA, ~/.cache/gauge.
    public var location: DataLocation { DataLocation(explicit: data) }

    /// Reads a data set; when it is not found and `--download` is given, fetches it with
    /// `fetch` (into `location.cache`) and reads again.
    public func read<T>(_ fetch: (DataLocation) throws -> Void, _ body: (DataLocation) throws(DataError) -> T) throws -> T {
        do {
            return try body(location)
        } catch {
            guard download, case .notFound = error else { throw error }
        }
        try fetch(location)
        return try body(location)
    }

    /// The configuration with this command line's sampling and symmetry choices applied.
    public func configure(_ base: ACEConfiguration) -> ACEConfiguration {
        var config = base
        if noSymmetryStatistics {
            config.symmetryNet = nil
            if !config.name.hasSuffix("-nosym") { config.name += "-nosym" }
        }
        if let sampling { config.sampling = sampling == "gaussian" ? .gaussian : .laplace }
        if let poseNoise, config.symmetryNet != nil {
            config.poseNoise = learnPoseNoise ? .learned(initialScale: poseNoise) : .fixed(scale: poseNoise)
        }
        return config
    }

    /// Training options for `config` and `epochs`, with the output folder resolved.
    public func options(
        _ config: ACEConfiguration, epochs: Int, classNames: [String], now: Date = Date()
    ) throws -> TrainingOptions {
        if let threads { Threads.set(threads) }
        var o = TrainingOptions(configuration: config, epochs: epochs, output: "", classNames: classNames)
        o.batch = batch
        if let learningRate { o.learningRate = learningRate }
        o.halfLife = halfLife
        o.weightDecay = weightDecay
        o.symmetryRateFactor = ssnRateFactor
        o.seed = seed
        o.resume = resume
        o.every = every
        o.maxSteps = maxSteps
        guard skipNonFinite >= 0 else { throw ExperimentError("--skip-non-finite must be 0 or more, got \(skipNonFinite)") }
        o.skipNonFinite = skipNonFinite
        o.judge = judge
        o.cache = location.cache
        o.binarize = binarize
        o.output = try outputFolder(model: config.name, now: now)
        return o
    }

    func outputFolder(model: String, now: Date) throws -> String {
        if let out { return out }
        if resume {
            let runs = (try? FileManager.default.contentsOfDirectory(atPath: "runs")) ?? []
            let newest = runs.filter { $0.hasPrefix(model + "-") && $0.dropFirst(model.count + 1).first?.isNumber == true
                    && FileManager.default.fileExists(atPath: "runs/\($0)/checkpoint.safetensors") }.max()
            guard let newest else {
                throw ExperimentError("--resume: no runs/\(model)-*/checkpoint.safetensors here; name the run folder with --out DIR")
            }
            return "runs/" + newest
        }
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.dateFormat = "yyyyMMdd-HHmmss"
        return "runs/\(model)-\(format.string(from: now))"
    }
}
