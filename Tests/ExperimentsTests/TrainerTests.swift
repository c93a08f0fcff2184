import Compiler
import Datasets
import Experiments
import Foundation
import Graph
import Runtime
import Testing

/// `Trainer.fit` on a small regression: metrics, resume, the divergence guard, evaluation.
@Suite struct TrainerTests {
    func model() throws -> Model {
        try Model("regression") {
            let x = Input("x", [.batch, 2])
            let y = Input("y", [.batch, 1])
            let prediction = x.dense(8, activation: .tanh).dense(1)
            Output("prediction", prediction)
            Loss((prediction - y).square().sum(), name: "squared_error")
        }
    }

    /// y = sin(x0) + x1/2 on 40 points (train) and 10 (test).
    func data(_ count: Int, seed: Int) throws -> ArraySource {
        let x = (0..<(2 * count)).map { Float(sin(Double($0 * 7 + seed) * 1.3)) }
        let y = (0..<count).map { Float(sin(Double(x[2 * $0]))) + x[2 * $0 + 1] / 2 }
        return try ArraySource(["x": .float32(x), "y": .float32(y)], count: count)
    }

    func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gauge-fit-\(UUID().uuidString)").path
    }

    func quiet() -> TrainingProgress { TrainingProgress(every: 1_000, isTerminal: false) { _ in } }

    @Test func fitWritesMetricsAndTheLossFalls() throws {
        let out = folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try Trainer(model(), batch: 8, optimizer: .adam(learningRate: 0.02), progress: quiet())
        var reports: [EpochReport] = []
        trainer.onEpoch = { report, _ in reports.append(report) }
        try trainer.fit(train: data(40, seed: 1), test: data(10, seed: 2), epochs: 6, output: out)
        #expect(reports.map(\.epoch) == [1, 2, 3, 4, 5, 6])
        #expect(reports.map(\.steps) == [5, 10, 15, 20, 25, 30])
        let first = try #require(reports.first?.test["squared_error"]), last = try #require(reports.last?.test["squared_error"])
        #expect(last < first / 2, "\(first) → \(last)")
        #expect(Set(reports[0].test.keys) == ["squared_error", "prediction"])
        #expect(Set(reports[0].train.keys) == ["squared_error", "total"])
        let lines = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        let json = try #require(JSONSerialization.jsonObject(with: Data(lines[5].utf8)) as? [String: Any])
        #expect(json["epoch"] as? Int == 6)
        #expect(abs(((json["test"] as? [String: Double])?["squared_error"] ?? 0) - last) < 1e-9)
        #expect(FileManager.default.fileExists(atPath: Trainer.checkpointPath(out)))
    }

    /// Stopped in the middle of an epoch and fitted again, the run ends with the same bytes as
    /// one that was never stopped.
    @Test func resumeIsBitIdenticalToAnUninterruptedRun() throws {
        let (whole, parts) = (folder(), folder())
        defer { for f in [whole, parts] { try? FileManager.default.removeItem(atPath: f) } }
        let optimizer = Optimizer.sgd(learningRate: 0.05, momentum: 0.9, schedule: .cosine(warmupSteps: 3, totalSteps: 15))
        try Trainer(model(), batch: 8, optimizer: optimizer, seed: 3, progress: quiet())
            .fit(train: data(40, seed: 1), epochs: 3, output: whole)
        try Trainer(model(), batch: 8, optimizer: optimizer, seed: 3, progress: quiet())
            .fit(train: data(40, seed: 1), epochs: 3, output: parts, maxSteps: 7)
        let resumed = try Trainer(model(), batch: 8, optimizer: optimizer, seed: 3, progress: quiet())
        let state = try resumed.fit(train: data(40, seed: 1), epochs: 3, output: parts)
        #expect(state.step == 15)
        let a = try Data(contentsOf: URL(fileURLWithPath: Trainer.checkpointPath(whole)))
        let b = try Data(contentsOf: URL(fileURLWithPath: Trainer.checkpointPath(parts)))
        #expect(a == b)
    }

    /// A diverging run stops with a typed error naming the first non-finite value's op and DSL
    /// line, and keeps the last good checkpoint.
    @Test func aDivergingRunStopsAndNamesTheFirstNonFiniteValue() throws {
        let out = folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var lines: [String] = []
        let progress = TrainingProgress(every: 1_000, isTerminal: false) { lines.append($0) }
        let trainer = try Trainer(model(), batch: 8, optimizer: .sgd(learningRate: 1e4), progress: progress)
        trainer.checkpointEvery = 1
        do {
            try trainer.fit(train: data(40, seed: 1), epochs: 50, output: out)
            Issue.record("expected divergence")
        } catch let error as TrainingError {
            guard case .diverged(let step, _, let losses, let first, let checkpoint) = error else { return }
            #expect(!(losses["total"]!.isFinite))
            #expect(checkpoint == Trainer.checkpointPath(out))
            let good = try trainer.step.loadState(from: checkpoint!)
            #expect(good.step == step)
            #expect(good.tensors.allSatisfy { $0.values.allSatisfy(\.isFinite) })
            let where_ = try #require(first)
            #expect(where_.hasPrefix("ExperimentsTests/TrainerTests.swift:"), "\(where_)")
            #expect(error.description.contains("the last good checkpoint is \(checkpoint!)"))
        }
        #expect(lines.contains { $0.contains("replaying 1 step(s) from \(Trainer.checkpointPath(out))") })
    }

    /// Row 13 of the training data has an infinite target: every batch holding it has an
    /// infinite loss.
    func poisoned() throws -> ArraySource {
        let clean = try data(40, seed: 1)
        guard case .float32(let x) = clean.feeds(Array(0..<40))["x"], case .float32(var y) = clean.feeds(Array(0..<40))["y"] else {
            throw ExperimentError("no data")
        }
        y[13] = .infinity
        return try ArraySource(["x": .float32(x), "y": .float32(y)], count: 40)
    }

    /// With `.skip`, a step whose loss is not finite is undone: the result equals, bit for bit,
    /// a hand-written loop that leaves out exactly the batches holding the bad row (their step
    /// numbers used up), also when the undo starts from a checkpoint written mid-epoch.
    @Test(arguments: [0, 2]) func skippingNonFiniteStepsLeavesOutExactlyThoseBatches(checkpointEvery: Int) throws {
        let out = folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let optimizer = Optimizer.adam(learningRate: 0.02)
        var lines: [String] = []
        let trainer = try Trainer(
            model(), batch: 8, optimizer: optimizer, seed: 5, progress: TrainingProgress(every: 1_000, isTerminal: false) { lines.append($0) })
        trainer.onNonFiniteLoss = .skip(limit: 3)
        trainer.checkpointEvery = checkpointEvery
        var reports: [EpochReport] = []
        trainer.onEpoch = { report, _ in reports.append(report) }
        let train = try poisoned()
        let state = try trainer.fit(train: train, epochs: 3, output: out)
        #expect(reports.map(\.skippedSteps) == [1, 2, 3])
        #expect(reports.allSatisfy { $0.train["total"]!.isFinite })
        #expect(lines.filter { $0.hasPrefix("skipped step ") }.count == 3)

        let reference = try TrainingStep(model(), batch: 8, optimizer: optimizer)
        let expected = reference.initialState(seed: 5)
        var batches = Batches(count: 40, batchSize: 8, seed: 5)
        var left = 0
        while expected.step < 15 {
            let (_, rows) = batches.next()
            if rows.contains(13) {
                expected.step += 1
                left += 1
            } else {
                try reference.run(expected, feeding: train.feeds(rows))
            }
        }
        #expect(left == 3)
        #expect(state.step == 15)
        for (a, b) in zip(state.tensors, expected.tensors) { #expect(a.values == b.values, "\(a.name)") }
        let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"skipped_steps\":3"))
    }

    /// More non-finite steps than the limit stop the run with a typed error.
    @Test func skippingStopsAtItsLimit() throws {
        let out = folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try Trainer(model(), batch: 8, optimizer: .adam(learningRate: 0.02), seed: 5, progress: quiet())
        trainer.onNonFiniteLoss = .skip(limit: 1)
        var batches = Batches(count: 40, batchSize: 8, seed: 5)
        var bad: [(step: Int, epoch: Int)] = []
        for step in 0..<15 {
            let (epoch, rows) = batches.next()
            if rows.contains(13) { bad.append((step, epoch)) }
        }
        do {
            try trainer.fit(train: poisoned(), epochs: 3, output: out)
            Issue.record("expected a stop")
        } catch let error as TrainingError {
            #expect(error.description == """
                the loss at step \(bad[1].step + 1) (epoch \(bad[1].epoch + 1)) is not finite, and 1 step(s) were already skipped, the limit
                the last good checkpoint is \(Trainer.checkpointPath(out)); lower the learning rate, clip gradients (clipGradientNorm) or check the data, and resume
                """)
        }
    }

    /// A last partial batch is evaluated with a plan of its own size: batch 4 over 10 rows gives
    /// what batch 5 gives.
    @Test func evaluationCoversAPartialLastBatch() throws {
        let four = try Trainer(model(), batch: 4, optimizer: .adam(learningRate: 0.01), progress: quiet())
        let five = try Trainer(model(), batch: 5, optimizer: .adam(learningRate: 0.01), progress: quiet())
        let state = four.step.initialState(seed: 8)
        let (a, b) = (try four.evaluate(data(10, seed: 4), state), try five.evaluate(data(10, seed: 4), state))
        #expect(Set(a.keys) == Set(b.keys))
        for (k, v) in a { #expect(abs(v - b[k]!) <= 1e-5 * max(1, abs(v)), "\(k): \(v) vs \(b[k]!)") }
    }

    /// A data set feeds image and label; a model that reads only the image (an unconditional
    /// VAE) trains and evaluates on it: the columns it does not read are left out.
    @Test func aModelThatReadsOnlyTheImageTrainsOnADataset() throws {
        let model = try Model("autoencoder") {
            let x = Input("image", [.batch, 1, 2, 2]).flattened()
            Loss((x.dense(2, activation: .tanh).dense(4) - x).square().sum(), name: "error")
        }
        let images = (0..<(20 * 4)).map { Float($0 % 7) / 7 }
        let data = Dataset(name: "tiny", channels: 1, height: 2, width: 2, images: images, labels: [Int32](repeating: 3, count: 20), classes: 10)
        let out = folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let trainer = try Trainer(model, batch: 5, optimizer: .adam(learningRate: 0.01), progress: quiet())
        var report: EpochReport?
        trainer.onEpoch = { r, _ in report = r }
        try trainer.fit(train: data, test: data, epochs: 1, output: out)
        #expect(report?.test.keys.sorted() == ["error"])
    }

    @Test func badDataAndOutputAreTypedErrors() throws {
        #expect { _ = try ArraySource(["x": .float32([1, 2, 3])], count: 2) } throws: {
            "\($0)" == "x holds 3 values, which do not split into 2 equal rows"
        }
        let file = folder()
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: file) }
        let trainer = try Trainer(model(), batch: 8, optimizer: .adam(learningRate: 0.01), progress: quiet())
        #expect { try trainer.fit(train: data(40, seed: 1), epochs: 1, output: file) } throws: {
            "\($0)" == "the output folder \(file) is a file"
        }
        #expect { try trainer.fit(train: data(4, seed: 1), epochs: 1, output: folder()) } throws: {
            "\($0)" == "the training set has 4 rows, fewer than one batch of 8"
        }
        // Rows written in place are checked once, before the first step.
        let noTargets = try ArraySource(["x": .float32([Float](repeating: 0.5, count: 80))], count: 40)
        let out = folder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect { try trainer.fit(train: noTargets, epochs: 1, output: out) } throws: {
            "\($0)" == "error: no values fed for input y"
        }
    }
}
