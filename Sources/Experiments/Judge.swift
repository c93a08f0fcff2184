import Compiler
import Datasets
import Foundation
import Graph
import Runtime

/// What a judge says of a set of generated images, each asked to show a class.
public struct JudgeScores: Sendable, Equatable {
    public var images: Int
    /// The fraction the judge classifies as the class they were asked for.
    public var classConsistency: Double
    /// The judge's mean probability of the asked class.
    public var meanConfidence: Double
    /// The fraction of flat images (pixel standard deviation under `JudgeScores.flatDeviation`:
    /// blank squares, a sigmoid saturated everywhere), whatever the judge says of them.
    public var flatFraction: Double

    /// An image is flat when its pixels' standard deviation is below this (pixels in [0, 1]; a
    /// digit on black has about 0.3, a CIFAR-10 photograph 0.2).
    public static let flatDeviation = 0.02

    /// The scores from a judge's `logits [count, classes]` of `images [count, pixels]`.
    public init(logits: [Float], classes: Int, asked: [Int], images: [Float]) {
        let count = asked.count
        let pixels = count == 0 ? 0 : images.count / count
        var (consistent, confidence, flat) = (0, 0.0, 0)
        for i in 0..<count {
            // The first largest logit is the judge's class; a NaN row counts as no class.
            let best = Logits.firstLargest(logits, row: i, classes: classes)
            if best == asked[i] && logits[i * classes + best].isFinite { consistent += 1 }
            let p = Logits.probabilities(logits, row: i, classes: classes)[asked[i]]
            confidence += p.isFinite ? p : 0
            let image = images[(i * pixels)..<((i + 1) * pixels)].map(Double.init)
            let mean = image.reduce(0, +) / Double(max(pixels, 1))
            let variance = image.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(pixels, 1))
            if variance.squareRoot() < Self.flatDeviation { flat += 1 }
        }
        let n = Double(max(count, 1))
        self.images = count
        classConsistency = Double(consistent) / n
        meanConfidence = confidence / n
        flatFraction = Double(flat) / n
    }

    /// `prefix_consistency`, `prefix_confidence`, `prefix_flat`: metrics.jsonl keys.
    public func metrics(_ prefix: String) -> [String: Double] {
        [prefix + "_consistency": classConsistency, prefix + "_confidence": meanConfidence, prefix + "_flat": flatFraction]
    }
}

/// A classifier written in the DSL and trained by Gauge, kept as a file, that scores generated
/// images: does each show the class it was asked for? A small CNN — 3×3 convolutions with ReLU
/// and 2×2 max-pooling (two stages up to 28 pixels a side, three above), a dense layer of 128
/// with dropout 0.25 in training, and the class logits — trained with Adam on a data set's
/// training images, the rate rising to 0.002 over 200 steps, then falling to 0 on a cosine.
///
/// ```swift
/// let judge = try Judge("~/.cache/gauge/judges/mnist-rts/judge.safetensors")
/// let scores = try judge.score(images, asked: labels)   // class consistency, confidence, flat
/// ```
public final class Judge {
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classes: Int
    /// The data set it was trained on (`mnist-rts train`) and its test accuracy there.
    public let dataset: String
    public let testAccuracy: Double?
    let inference: Inference
    let parameters: Parameters

    /// The judge's network for images `[batch, channels, height, width]` and `classes`.
    public static func model(channels: Int, height: Int, width: Int, classes: Int) throws -> Model {
        try Model("judge-\(channels)x\(height)x\(width)") {
            let image = Input("image", [.batch, .fixed(channels), .fixed(height), .fixed(width)])
            let label = Input("label", [.batch], dtype: .int32)
            let stages = min(height, width) > 28 ? 3 : 2
            let features = (0..<stages).reduce(image) { x, stage in
                x.conv2d(stage == 0 ? 32 : 64, kernel: 3, activation: .relu).maxPool(2)
            }
            let logits = features.flattened().dense(128, activation: .relu).dropout(0.25).dense(classes)
            Output("logits", logits)
            Loss(softmaxCrossEntropy(logits: logits, labels: label), name: "cross_entropy")
        }
    }

    /// Where `gauge judge` keeps the judge of a data set by default: `cache/judges/<set>/`,
    /// the set named by the first word of its name (`mnist-rts train` → `mnist-rts`).
    public static func defaultFolder(for dataset: String, cache: String = DataLocation().cache) -> String {
        cache + "/judges/" + (dataset.split(separator: " ").first.map(String.init) ?? dataset)
    }

    /// The judge file in a folder `train` wrote.
    public static func path(in folder: String) -> String { folder + "/judge.safetensors" }

    /// Reads a judge file (`train` writes one): its image size and classes from the metadata,
    /// then the network's parameters, each checked by name and shape.
    public convenience init(_ path: String, batch: Int = 100) throws {
        let metadata = try SafeTensors.readHeader(path).metadata
        func number(_ key: String) throws -> Int {
            guard let value = metadata["judge." + key].flatMap({ Int($0) }), value > 0 else {
                throw ExperimentError("\(path) is not a judge file: its metadata has no judge.\(key); make one with `gauge judge`")
            }
            return value
        }
        let (channels, height, width, classes) = (try number("channels"), try number("height"), try number("width"), try number("classes"))
        let model = try Self.model(channels: channels, height: height, width: width, classes: classes)
        try self.init(
            model, parameters: try Parameters.load(path, for: model), shape: (channels, height, width, classes),
            dataset: metadata["judge.dataset"] ?? "?", testAccuracy: metadata["judge.test_accuracy"].flatMap { Double($0) },
            batch: batch)
    }

    /// A judge from parameters in memory (`model` is `Judge.model` of `shape`).
    init(
        _ model: Model, parameters: Parameters, shape: (channels: Int, height: Int, width: Int, classes: Int), dataset: String,
        testAccuracy: Double?, batch: Int = 100
    ) throws {
        (channels, height, width, classes) = shape
        self.dataset = dataset
        self.testAccuracy = testAccuracy
        self.parameters = parameters
        inference = try Inference(model, batch: batch)
    }

    /// The judge's logits `[count, classes]` of images `[count, channels, height, width]`.
    public func logits(_ images: [Float]) throws -> [Float] {
        let pixels = channels * height * width
        guard images.count % pixels == 0 else {
            throw ExperimentError("the judge takes images of \(channels)×\(height)×\(width) = \(pixels) values; got \(images.count) values")
        }
        let count = images.count / pixels
        var result: [Float] = []
        result.reserveCapacity(count * classes)
        for start in stride(from: 0, to: count, by: inference.batch) {
            let rows = min(inference.batch, count - start)
            let out = try inference.run(
                parameters,
                feeding: [
                    "image": .float32(Array(images[(start * pixels)..<((start + rows) * pixels)])),
                    "label": .int32([Int32](repeating: 0, count: rows)),
                ])
            result += out["logits"] ?? []
        }
        return result
    }

    /// Scores images, each asked to show `asked[i]`.
    public func score(_ images: [Float], asked: [Int]) throws -> JudgeScores {
        guard asked.allSatisfy({ (0..<classes).contains($0) }) else {
            throw ExperimentError("the judge knows classes 0..<\(classes); asked for \(asked.filter { !(0..<classes).contains($0) })")
        }
        let logits = try logits(images)
        guard logits.count == asked.count * classes else {
            throw ExperimentError("\(asked.count) classes asked for \(logits.count / classes) images")
        }
        return JudgeScores(logits: logits, classes: classes, asked: asked, images: images)
    }

    /// The fraction of a labelled set the judge classifies correctly.
    public func accuracy(on data: Dataset) throws -> Double {
        let logits = try logits(data.images)
        let scores = JudgeScores(logits: logits, classes: classes, asked: data.labels.map { Int($0) }, images: data.images)
        return scores.classConsistency
    }

    /// Trains a judge on `train` with `Trainer.fit` (Adam, learning rate 0.002 after a 200-step
    /// warm-up, on a cosine to 0,
    /// batch 100; resumable in `folder`), measures it on `test` and writes `folder/judge.safetensors`: the
    /// parameters, with the image size, classes, data set and test accuracy as metadata.
    @discardableResult
    public static func train(
        train: Dataset, test: Dataset, epochs: Int, folder: String, batch: Int = 100, learningRate: Float = 0.002,
        seed: UInt64 = 1, progress: TrainingProgress
    ) throws -> Judge {
        let model = try Self.model(channels: train.channels, height: train.height, width: train.width, classes: train.classes)
        let steps = epochs * (train.count / batch)
        // Warm-up: Adam's first updates move every parameter by about the full rate at once, which
        // left the ReLUs dead (the loss stuck at ln 10) for some data orders at 0.002.
        let adam = Optimizer.adam(learningRate: learningRate, schedule: .cosine(warmupSteps: min(200, steps / 10), totalSteps: steps))
        let trainer = try Trainer(model, batch: batch, optimizer: adam, seed: seed, progress: progress)
        trainer.rowName = "image"
        let state = try trainer.fit(train: train, epochs: epochs, output: folder)
        let path = Self.path(in: folder)
        let shape = (train.channels, train.height, train.width, train.classes)
        let accuracy = try Judge(model, parameters: state.parameters, shape: shape, dataset: train.name, testAccuracy: nil)
            .accuracy(on: test)
        try state.parameters.save(to: path, metadata: metadata(train, accuracy: accuracy))
        progress.line(String(format: "judge of %@: test accuracy %.2f %% on %d images; wrote %@", train.name, 100 * accuracy, test.count, path))
        return try Judge(model, parameters: state.parameters, shape: shape, dataset: train.name, testAccuracy: accuracy)
    }

    static func metadata(_ data: Dataset, accuracy: Double?) -> [String: String] {
        var m = [
            "judge.channels": String(data.channels), "judge.height": String(data.height),
            "judge.width": String(data.width), "judge.classes": String(data.classes), "judge.dataset": data.name,
        ]
        if let accuracy { m["judge.test_accuracy"] = String(accuracy) }
        return m
    }
}
