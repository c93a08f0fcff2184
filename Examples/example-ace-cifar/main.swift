import ArgumentParser
import Compiler
import Datasets
import Foundation
import Graph
import Models
import Runtime

/// Trains the paper's Fig. 3 model — ACE with spatial symmetry statistics — on CIFAR-10, with
/// progress, per-epoch test evaluation and resumable checkpoints.
struct ExampleACECIFAR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-ace-cifar",
        abstract: "Train ACE with symmetry statistics on CIFAR-10 (paper Fig. 3).",
        discussion: """
            Paper settings by default: batch 250, Adam with learning rate 0.0005 halving every 50 \
            epochs, 300 epochs (about 200 steps of ~2 s each per epoch on 2 cores). A checkpoint is \
            written after every epoch; --resume continues from it, data order included.
            Data: --data DIR, else GAUGE_DATA, else ~/.cache/gauge, each holding cifar-10-batches-bin/.
            """)

    @Option(help: "Folder holding cifar-10-batches-bin/ (else GAUGE_DATA, else ~/.cache/gauge).")
    var data: String?

    @Option(help: "Epochs to train.")
    var epochs: Int = 300

    @Option(help: "Stop after this many steps in total (for a quick look); 0 means no limit.")
    var maxSteps: Int = 0

    @Option(help: "Images per step.")
    var batch: Int = 250

    @Option(help: "Adam learning rate.")
    var learningRate: Float = 0.0005

    @Option(help: "Learning-rate half-life in epochs.")
    var halfLife: Double = 50

    @Option(help: "Random seed (parameters, data order, sampling).")
    var seed: UInt64 = 1

    @Option(help: "Worker threads (default: GAUGE_THREADS, else 2).")
    var threads: Int?

    @Option(help: "Folder for the checkpoint.")
    var output: String = "runs/ace-cifar"

    @Flag(help: "Continue from the checkpoint in --output.")
    var resume = false

    @Option(help: "Print progress every this many steps.")
    var every: Int = 10

    @Option(help: "Use only the first N training and test images (a quick check of the whole loop); 0 means all.")
    var limit: Int = 0

    func validate() throws {
        guard epochs > 0, batch > 0, every > 0, (threads ?? 1) > 0, maxSteps >= 0, limit >= 0 else {
            throw ValidationError("--epochs, --batch, --every and --threads must be positive; --max-steps must not be negative")
        }
    }

    func run() throws {
        if let threads { Threads.set(threads) }
        let location = DataLocation(explicit: data)
        log("reading CIFAR-10 …")
        var train = try location.cifar10(train: true)
        var test = try location.cifar10(train: false)
        if limit > 0 {
            guard limit >= batch else { throw ValidationError("--limit \(limit) is smaller than --batch \(batch)") }
            train = train.prefix(limit)
            test = test.prefix(limit)
        }
        log("train \(train.count) images, test \(test.count) images")

        let model = try ACE.model(.cifar)
        let optimizer = Optimizer.adam(learningRate: learningRate, halfLifeEpochs: halfLife)
        let step = try TrainingStep(model, batch: batch, optimizer: optimizer)
        log("compiled the training step in \(Int(step.compileSeconds * 1000)) ms: \(step.plan.instructions.count) kernels, arena \(step.plan.arenaBytes / 1_000_000) MB")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let checkpoint = output + "/checkpoint.safetensors"
        let state: TrainingState
        var batches = Batches(count: train.count, batchSize: batch, seed: seed)
        if resume {
            state = try step.loadState(from: checkpoint)
            batches.cursor = (state.epoch, Int(state.metadata["data.position"] ?? "0") ?? 0)
            log("resumed from \(checkpoint): epoch \(state.epoch + 1), step \(state.step)")
        } else {
            state = step.initialState(seed: seed)
        }
        let evaluation = try Inference(model, batch: batch)
        let perEpoch = batches.batchesPerEpoch
        var sums: [String: Double] = [:]
        var counted = 0
        var started = Date()
        var stepsThisRun = 0
        while state.epoch < epochs {
            let (epoch, records) = batches.next()
            state.epoch = epoch
            let (images, labels) = train.gather(records)
            let losses = try step.run(state, feeding: ["image": .float32(images), "label": .int32(labels)])
            for (k, v) in losses { sums[k, default: 0] += Double(v) / Double(batch) }
            counted += 1
            stepsThisRun += 1
            let position = batches.cursor.epoch == epoch ? batches.cursor.position : perEpoch * batch
            if counted % every == 0 || position / batch == perEpoch {
                let seconds = Date().timeIntervalSince(started) / Double(counted)
                let left = Double((epochs - epoch - 1) * perEpoch + (perEpoch - position / batch)) * seconds
                let terms = ["reconstruction_error", "generative_error", "classification_error"].map {
                    String(format: "%.1f", (sums[$0] ?? 0) / Double(counted))
                }
                log(String(format: "epoch %d/%d step %d/%d  per image: loss %.1f (recon %@, kl %@, class %@)  %.2f s/step  ETA %@",
                    epoch + 1, epochs, position / batch, perEpoch, (sums["total"] ?? 0) / Double(counted), terms[0], terms[1], terms[2], seconds, duration(left)))
            }
            let epochDone = batches.cursor.epoch != epoch
            let limitReached = maxSteps > 0 && stepsThisRun >= maxSteps
            if epochDone || limitReached {
                state.epoch = batches.cursor.epoch
                state.metadata["data.position"] = String(batches.cursor.position)
                try state.save(to: checkpoint)
                log("saved \(checkpoint)")
                if epochDone { try evaluate(evaluation, state, test, epoch: epoch) }
                sums = [:]
                counted = 0
                started = Date()
            }
            if limitReached {
                log("stopped after \(stepsThisRun) steps (--max-steps); continue with --resume")
                break
            }
        }
    }

    /// Test-set classification accuracy and per-image losses with the true labels.
    func evaluate(_ inference: Inference, _ state: TrainingState, _ test: Dataset, epoch: Int) throws {
        var correct = 0
        var totals: [String: Double] = [:]
        let batches = test.count / batch
        for b in 0..<batches {
            let (images, labels) = test.gather(Array((b * batch)..<((b + 1) * batch)))
            let out = try inference.evaluate(state, feeding: ["image": .float32(images), "label": .int32(labels)], step: b)
            let logits = out["logits"]!
            for i in 0..<batch {
                let row = logits[(i * 10)..<((i + 1) * 10)]
                if row.firstIndex(of: row.max()!)! - i * 10 == Int(labels[i]) { correct += 1 }
            }
            for k in ["reconstruction_error", "generative_error", "classification_error"] {
                totals[k, default: 0] += Double(out[k]![0])
            }
        }
        let n = Double(batches * batch)
        log(String(format: "epoch %d test: accuracy %.2f %%, per image: reconstruction %.1f nats, kl %.2f nats, classification %.3f nats",
            epoch + 1, 100 * Double(correct) / n, totals["reconstruction_error"]! / n, totals["generative_error"]! / n, totals["classification_error"]! / n))
    }

    func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }

    func log(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

ExampleACECIFAR.main()
