import Datasets
import Experiments
import Foundation
import Runtime
import Testing

/// The judge: its scores against hand-computed values, and a judge trained by Gauge on a small
/// set it must learn, kept as a file and read back.
@Suite struct JudgeTests {
    /// Three images asked for classes 0, 1, 1 with logits whose softmax is known; the third is
    /// flat (all 0.5), the others are not.
    @Test func scoresAreConsistencyConfidenceAndFlatFraction() {
        let logits: [Float] = [
            2, 0,  // class 0, p(0) = e²/(e²+1)
            0, 0,  // a tie: the first largest (class 0) is the judge's class; p(1) = ½
            -1, 3,  // class 1, p(1) = e⁴/(e⁴+1)
        ]
        let images: [Float] = [0, 1, 0, 1] + [0, 0, 1, 1] + [0.5, 0.5, 0.5, 0.5]
        let scores = JudgeScores(logits: logits, classes: 2, asked: [0, 1, 1], images: images)
        #expect(scores.images == 3)
        #expect(abs(scores.classConsistency - 2.0 / 3) < 1e-12)
        let expected = (exp(2.0) / (exp(2.0) + 1) + 0.5 + exp(4.0) / (exp(4.0) + 1)) / 3
        #expect(abs(scores.meanConfidence - expected) < 1e-9)
        #expect(abs(scores.flatFraction - 1.0 / 3) < 1e-12)
        #expect(scores.metrics("judge_x") == [
            "judge_x_consistency": scores.classConsistency, "judge_x_confidence": scores.meanConfidence,
            "judge_x_flat": scores.flatFraction,
        ])
    }

    /// `count` 8×8 images of 3 classes: a bright 3×3 square at the top left, top right or
    /// bottom, at a jittered place, over faint noise.
    func squares(_ count: Int, seed: UInt64, name: String) -> Dataset {
        var random = SplitMix64(seed: seed)
        var images = [Float](repeating: 0, count: count * 64)
        var labels: [Int32] = []
        for i in 0..<count {
            let label = i % 3
            labels.append(Int32(label))
            for k in 0..<64 { images[i * 64 + k] = Float(random.below(100)) / 1000 }
            let (x0, y0) = [(0, 0), (5, 0), (2, 5)][label]
            let (x, y) = (min(x0 + random.below(2), 5), min(y0 + random.below(2), 5))
            for dy in 0..<3 { for dx in 0..<3 { images[i * 64 + (y + dy) * 8 + x + dx] = 1 } }
        }
        return Dataset(name: name, channels: 1, height: 8, width: 8, images: images, labels: labels, classes: 3)
    }

    @Test func aJudgeTrainedByGaugeIsKeptAsAFileAndScores() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-judge-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let quiet = TrainingProgress(every: 1_000, isTerminal: false) { _ in }
        let test = squares(90, seed: 2, name: "squares test")
        let trained = try Judge.train(
            train: squares(600, seed: 1, name: "squares train"), test: test, epochs: 3, folder: folder, batch: 30,
            progress: quiet)
        let judge = try Judge(Judge.path(in: folder))
        #expect((judge.channels, judge.height, judge.width, judge.classes) == (1, 8, 8, 3))
        #expect(judge.dataset == "squares train")
        let accuracy = try #require(judge.testAccuracy)
        #expect(accuracy == trained.testAccuracy && accuracy >= 0.95, "accuracy \(accuracy)")
        #expect(try judge.accuracy(on: test) == accuracy)

        // Asked for the true classes, then for the next class: consistency falls to ≈ 0.
        let right = try judge.score(test.images, asked: test.labels.map { Int($0) })
        let wrong = try judge.score(test.images, asked: test.labels.map { (Int($0) + 1) % 3 })
        #expect(right.classConsistency == accuracy && right.flatFraction == 0)
        #expect(wrong.classConsistency <= 1 - accuracy && wrong.meanConfidence < right.meanConfidence)

        #expect(throws: ExperimentError("the judge knows classes 0..<3; asked for [3]")) {
            try judge.score(Array(test.images[0..<64]), asked: [3])
        }
        #expect(throws: ExperimentError("the judge takes images of 1×8×8 = 64 values; got 63 values")) {
            try judge.logits([Float](repeating: 0, count: 63))
        }
        // A training checkpoint is not a judge file.
        let checkpoint = Trainer.checkpointPath(folder)
        #expect(throws: ExperimentError("\(checkpoint) is not a judge file: its metadata has no judge.channels; make one with `gauge judge`")) {
            try Judge(checkpoint)
        }
    }

    @Test func theDefaultFolderIsNamedForTheSet() {
        #expect(Judge.defaultFolder(for: "mnist-rts train", cache: "/c") == "/c/judges/mnist-rts")
        #expect(Judge.defaultFolder(for: "cifar-10 train", cache: "/c") == "/c/judges/cifar-10")
    }
}
