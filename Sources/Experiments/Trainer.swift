import Compiler
import Datasets
import Foundation
import Graph
import Runtime

/// What `Trainer.fit` reports after each epoch; also its line of `metrics.jsonl`.
public struct EpochReport: Sendable {
    /// 1-based.
    public var epoch: Int
    /// Updates done so far (the state's step).
    public var steps: Int
    public var seconds: Double
    /// The rate of the epoch's last update.
    public var learningRate: Float
    /// Each loss term (and "total") per row, averaged over this run's steps of the epoch.
    public var train: [String: Double]
    /// Over the whole test set: each loss term per row, and the mean of every element of each
    /// declared `Output`.
    public var test: [String: Double]
    /// Steps skipped so far because their loss was not finite (`NonFiniteLossPolicy.skip`),
    /// over the whole run, resumed parts included.
    public var skippedSteps = 0
}

/// What `Trainer.fit` does when a step's total loss is NaN or infinite.
public enum NonFiniteLossPolicy: Sendable, Equatable {
    /// Stop with `TrainingError.diverged`, naming the first non-finite value (the default).
    case stop
    /// Undo the step and go on with the next batch, at most `limit` times in one run; the next
    /// one stops as `.stop` does. Undoing rebuilds the state from the last checkpoint by running
    /// the steps since then again (the run is deterministic, so the result is the state before
    /// the bad step, bit for bit): it costs up to `checkpointEvery` steps (else an epoch) of time
    /// per skipped step and no memory. A skipped step still counts as an update (its step number
    /// and its batch are used up), so a resumed run skips the same steps.
    case skip(limit: Int)
}

/// Seconds of one `fit` call by what they were spent on.
public struct FitTimings: Sendable {
    /// Making or loading the state.
    public var setup = 0.0
    /// Inside `TrainingStep.run`, and how many runs.
    public var steps = 0.0
    public var stepCount = 0
    /// Writing checkpoints.
    public var checkpoints = 0.0
    /// Test evaluation, metrics.jsonl and callbacks.
    public var evaluation = 0.0
    /// The whole call.
    public var total = 0.0
    /// The rest: the loop's own work around each step.
    public var loop: Double { total - setup - steps - checkpoints - evaluation }
}

/// Why `fit` stopped before its epochs were done.
public enum TrainingError: Error, CustomStringConvertible, Sendable {
    /// A loss became NaN or infinite. `firstNonFinite` names the first kernel (op and DSL line)
    /// that made a non-finite value, found by replaying the step from the last checkpoint with
    /// numeric checks; the checkpoint on disk is the last good one.
    case diverged(step: Int, epoch: Int, losses: [String: Float], firstNonFinite: String?, checkpoint: String?)
    /// More steps than `NonFiniteLossPolicy.skip(limit:)` allows had a non-finite loss.
    case tooManySkippedSteps(step: Int, epoch: Int, limit: Int, checkpoint: String?)

    public var description: String {
        switch self {
        case .diverged(let step, let epoch, let losses, let first, let checkpoint):
            let terms = losses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return "training diverged at step \(step + 1) (epoch \(epoch + 1)): \(terms)"
                + (first.map { "\nfirst non-finite value: \($0)" } ?? "")
                + "\n" + (checkpoint.map { "the last good checkpoint is \($0); lower the learning rate or clip gradients (clipGradientNorm) and resume" }
                    ?? "no checkpoint was written before it; lower the learning rate or clip gradients (clipGradientNorm)")
        case .tooManySkippedSteps(let step, let epoch, let limit, let checkpoint):
            return "the loss at step \(step + 1) (epoch \(epoch + 1)) is not finite, and \(limit) step(s) were already skipped, the limit"
                + "\n" + (checkpoint.map { "the last good checkpoint is \($0); lower the learning rate, clip gradients (clipGradientNorm) or check the data, and resume" }
                    ?? "no checkpoint was written before it; lower the learning rate, clip gradients (clipGradientNorm) or check the data")
        }
    }
}

/// The training loop for any DSL model: shuffled batches with the data cursor in the
/// checkpoint, progress (a bar with ETA on a terminal, ordered plain lines in a pipe),
/// `metrics.jsonl` with every loss term and declared output over the test set, atomic
/// checkpoints every epoch (and every `checkpointEvery` steps), bit-identical resume, a
/// divergence guard, and a callback after each epoch.
///
/// ```swift
/// let trainer = try Trainer(model, batch: 100, optimizer: .adamW(learningRate: 1e-3))
/// try trainer.fit(train: mnist.train, test: mnist.test, epochs: 10, output: "runs/cvae")  // resumes if present
/// ```
public final class Trainer {
    public let model: Model
    public let step: TrainingStep
    public var batch: Int { step.batch }
    /// Parameters, data order and random numbers come from it.
    public let seed: UInt64
    public var progress: TrainingProgress
    /// Also write the checkpoint every this many steps (0: after each epoch only).
    public var checkpointEvery = 0
    /// Called after each epoch's checkpoint and metrics, with the report and the state
    /// (figures, samples); an error stops the run.
    public var onEpoch: ((EpochReport, TrainingState) throws -> Void)?
    /// Called when `maxSteps` stops the run, after its checkpoint.
    public var onStop: ((TrainingState) throws -> Void)?
    /// Replaces the default evaluation on `test` (`evaluate(_:_:)`) in each epoch's report: any
    /// metrics by name (ACE's classification error and mixture bound, say).
    public var evaluation: ((TrainingState) throws -> [String: Double])?
    /// Changes a training batch's feeds before its step, given the update count (stochastic
    /// binarisation, augmentation); deterministic in the step, so resume stays bit-identical.
    public var transform: ((inout [String: TensorData], _ step: Int) -> Void)?
    /// Stop at a non-finite loss (the default) or skip up to a number of such steps.
    public var onNonFiniteLoss = NonFiniteLossPolicy.stop
    /// What a row is called in progress lines ("per image: …").
    public var rowName = "row"
    /// Where the last `fit` spent its time; `loop` is its own per-step work (gathering feeds,
    /// the transform, the guard, running sums, progress), what it adds to `TrainingStep.run`.
    public private(set) var timings = FitTimings()
    /// One inference plan per batch size met in evaluation (a last partial batch compiles its own).
    var evaluators: [Int: Inference] = [:]
    /// The model's input names: a data source's other columns (a label an unconditional model
    /// does not read) are left out of its feeds.
    lazy var inputNames = Set(step.inputNames)
    /// The last step's loss terms, in `step.lossNames` order.
    var lossValues: [Float] = []

    /// The rows' feeds for the model's inputs.
    func feeds(_ data: DataSource, _ rows: [Int]) -> [String: TensorData] {
        data.feeds(rows).filter { inputNames.contains($0.key) }
    }

    public init(
        _ model: Model, batch: Int, optimizer: Optimizer, seed: UInt64 = 1,
        progress: TrainingProgress = TrainingProgress(every: 50)
    ) throws {
        step = try TrainingStep(model, batch: batch, optimizer: optimizer)
        self.model = model
        self.seed = seed
        self.progress = progress
    }

    /// Where `fit` keeps its checkpoint in `output`.
    public static func checkpointPath(_ output: String) -> String { output + "/checkpoint.safetensors" }

    /// Trains until `epochs` epochs are done (or `maxSteps` steps of this call), evaluating on
    /// `test` after each epoch. With `resume` and a checkpoint in `output`, continues from it,
    /// data order included: the result is bit-identical to an uninterrupted run.
    @discardableResult
    public func fit(
        train: DataSource, test: DataSource? = nil, epochs: Int, output: String, resume: Bool = true, maxSteps: Int = 0
    ) throws -> TrainingState {
        guard epochs > 0 else { throw ExperimentError("epochs must be positive, got \(epochs)") }
        guard train.count >= batch else {
            throw ExperimentError("the training set has \(train.count) rows, fewer than one batch of \(batch)")
        }
        let callStart = Date()
        timings = FitTimings()
        defer { timings.total = Date().timeIntervalSince(callStart) }
        try Self.makeFolder(output)
        let path = Self.checkpointPath(output)
        var (state, batches) = try startingState(train, path, resume: resume)
        if transform == nil {
            // Written in place, the rows are not checked at each step: every input is checked here.
            let provided = train.feeds([0])
            try step.requireInputs { provided[$0] != nil }
        }
        timings.setup = Date().timeIntervalSince(callStart)
        progress.line(
            "compiled \(model.name) at batch \(batch) in \(Int(step.compileSeconds * 1000)) ms: \(step.plan.instructions.count) kernels, arena \(step.plan.arenaBytes / 1_000_000) MB")
        let perEpoch = batches.batchesPerEpoch
        var sums: [String: Double] = [:]
        var counted = 0
        var started = Date()
        var stepsThisRun = 0
        var saved = FileManager.default.fileExists(atPath: path)
        // Steps skipped in this call: a replay from the checkpoint skips them again.
        var skipped = Set<Int>()
        let skippedBefore = Int(state.metadata[Self.skippedKey] ?? "0") ?? 0
        while state.epoch < epochs {
            let (epoch, records) = batches.next()
            state.epoch = epoch
            try trainStep(state, train, records, timed: true)
            if !(lossValues.last ?? 0).isFinite {  // "total"
                let losses = Dictionary(uniqueKeysWithValues: zip(step.lossNames, lossValues))
                state = try undoNonFinite(
                    losses, step: state.step - 1, epoch: epoch, train, checkpoint: saved ? path : nil, skipped: &skipped,
                    skippedBefore: skippedBefore)
            } else {
                for (k, v) in zip(step.lossNames, lossValues) { sums[k, default: 0] += Double(v) / Double(batch) }
                counted += 1
            }
            stepsThisRun += 1
            let epochDone = batches.cursor.epoch != epoch
            let position = epochDone ? perEpoch : batches.cursor.position / batch
            let seconds = Date().timeIntervalSince(started) / Double(max(counted, 1))
            let left = Double((epochs - epoch - 1) * perEpoch + (perEpoch - position)) * seconds
            progress.update(
                done: position, total: perEpoch,
                status: "epoch \(epoch + 1)/\(epochs) step \(position)/\(perEpoch)  per \(rowName): \(Self.terms(sums, counted))  "
                    + String(format: "%.3f s/step  ETA %@", seconds, TrainingProgress.duration(left)))
            let limitReached = maxSteps > 0 && stepsThisRun >= maxSteps
            let periodic = checkpointEvery > 0 && state.step % checkpointEvery == 0
            guard epochDone || limitReached || periodic else { continue }
            state.epoch = batches.cursor.epoch
            state.metadata["data.position"] = String(batches.cursor.position)
            let saveStart = Date()
            try state.save(to: path)
            timings.checkpoints += Date().timeIntervalSince(saveStart)
            saved = true
            if epochDone {
                try endEpoch(
                    epoch, state, test: test, output: output, seconds: Date().timeIntervalSince(started),
                    train: sums.mapValues { $0 / Double(max(counted, 1)) }, skippedSteps: skippedBefore + skipped.count)
                sums = [:]
                counted = 0
                started = Date()
            }
            if limitReached {
                progress.line("stopped after \(stepsThisRun) steps (the step limit); the checkpoint is \(path)")
                let callbackStart = Date()
                try onStop?(state)
                timings.evaluation += Date().timeIntervalSince(callbackStart)
                break
            }
        }
        return state
    }

    /// The state and data order to start from: the checkpoint's with `resume` when there is
    /// one, else fresh ones from `seed`.
    func startingState(_ train: DataSource, _ path: String, resume: Bool) throws -> (TrainingState, Batches) {
        guard resume && FileManager.default.fileExists(atPath: path) else {
            return (step.initialState(seed: seed), Batches(count: train.count, batchSize: batch, seed: seed))
        }
        let state = try step.loadState(from: path)
        var batches = Batches(count: train.count, batchSize: batch, seed: state.seed)
        batches.cursor = (state.epoch, Int(state.metadata["data.position"] ?? "0") ?? 0)
        progress.line("resumed from \(path): epoch \(state.epoch + 1), step \(state.step)")
        return (state, batches)
    }

    /// The end of an epoch: its report (train terms, evaluation) into metrics.jsonl, a progress
    /// line, then `onEpoch`.
    func endEpoch(
        _ epoch: Int, _ state: TrainingState, test: DataSource?, output: String, seconds: Double, train: [String: Double],
        skippedSteps: Int
    ) throws {
        let evaluationStart = Date()
        let report = EpochReport(
            epoch: epoch + 1, steps: state.step, seconds: seconds,
            learningRate: step.optimizer.rate(step: state.step - 1, epoch: epoch), train: train,
            test: try evaluation?(state) ?? test.map { try evaluate($0, state) } ?? [:], skippedSteps: skippedSteps)
        try Self.append(report, to: output + "/metrics.jsonl")
        timings.evaluation += Date().timeIntervalSince(evaluationStart)
        progress.line(
            "epoch \(epoch + 1) done in \(TrainingProgress.duration(report.seconds))"
                + (report.test.isEmpty ? "" : "; test: " + Self.terms(report.test, 1)) + "; saved \(Self.checkpointPath(output))")
        let callbackStart = Date()
        try onEpoch?(report, state)
        timings.evaluation += Date().timeIntervalSince(callbackStart)
    }

    /// Each loss term per row and the mean element of each output, over a whole data set
    /// (a last partial batch runs through a plan compiled for its size). `eachBatch` sees every
    /// batch's rows and results as they are made, for metrics of one's own (an error rate from
    /// the logits) in the same pass.
    public func evaluate(
        _ data: DataSource, _ state: TrainingState,
        eachBatch: ((_ rows: Range<Int>, _ results: [String: [Float]]) throws -> Void)? = nil
    ) throws -> [String: Double] {
        let parameters = state.parameters
        var sums: [String: Double] = [:]
        var elements: [String: Int] = [:]
        let losses = Set(model.graph.losses.map(\.name))
        for start in stride(from: 0, to: data.count, by: batch) {
            let rows = min(batch, data.count - start)
            let inference = try evaluators[rows] ?? Inference(model, batch: rows)
            evaluators[rows] = inference
            let results = try inference.run(parameters, feeding: feeds(data, Array(start..<(start + rows))), seed: state.seed)
            try eachBatch?(start..<(start + rows), results)
            for (name, values) in results {
                sums[name, default: 0] += values.reduce(0) { $0 + Double($1) }
                elements[name, default: 0] += losses.contains(name) ? rows : values.count
            }
        }
        return sums.reduce(into: [:]) { $0[$1.key] = $1.value / Double(max(elements[$1.key] ?? 1, 1)) }
    }

    static let skippedKey = "training.skipped_steps"

    /// One step on rows `records`, its loss terms into `lossValues` (`step.lossNames` order):
    /// the rows written into the step's input memory in place, or, with a `transform`, fed
    /// through its dictionary. `timed` adds the run to `timings`.
    func trainStep(_ state: TrainingState, _ train: DataSource, _ records: [Int], timed: Bool) throws {
        let start: Date
        if let transform {
            var feeds = self.feeds(train, records)
            transform(&feeds, state.step)
            start = Date()
            let losses = try step.run(state, feeding: feeds)
            lossValues = step.lossNames.map { losses[$0] ?? .nan }
        } else {
            try train.write(records, into: step)
            start = Date()
            try step.run(state, losses: &lossValues)
        }
        if timed {
            timings.steps += Date().timeIntervalSince(start)
            timings.stepCount += 1
        }
    }

    static func terms(_ sums: [String: Double], _ count: Int) -> String {
        sums.sorted { ($0.key == "total" ? "" : $0.key) < ($1.key == "total" ? "" : $1.key) }
            .map { String(format: "%@ %.4g", $0.key, $0.value / Double(count)) }.joined(separator: ", ")
    }

    static func makeFolder(_ output: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw ExperimentError("the output folder \(output) is a file") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw ExperimentError("cannot make the output folder \(output): \(error.localizedDescription)")
        }
    }

    static func append(_ report: EpochReport, to path: String) throws {
        let object: [String: Any] = [
            "epoch": report.epoch, "steps": report.steps, "seconds": report.seconds,
            "learning_rate": Double(report.learningRate), "train": report.train, "test": report.test,
            "skipped_steps": report.skippedSteps,
        ]
        var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        line.append(UInt8(ascii: "\n"))
        if let handle = FileHandle(forWritingAtPath: path) {
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
        } else {
            try line.write(to: URL(fileURLWithPath: path))
        }
    }
}
