import ArgumentParser
import Datasets
import Experiments
import Foundation
import Models

/// Trains the paper's Fig. 3 model — ACE with spatial symmetry statistics — on CIFAR-10, with
/// progress, per-epoch test evaluation, metrics, figures and resumable checkpoints.
struct ExampleACECIFAR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-ace-cifar",
        abstract: "Train ACE with symmetry statistics on CIFAR-10 (paper Fig. 3, or Fig. 4 with --conv).",
        discussion: """
            Paper settings: batch 250, Adam with learning rate 0.0005 halving every 50 epochs. By \
            default 4 epochs (200 steps of 0.6–1 s each per epoch on 2 cores, 4–5 minutes an epoch with its \
            evaluation and figures); --epochs 300 is the long schedule. After every epoch it writes into --out: \
            checkpoint.safetensors, a line of metrics.jsonl, latent-grid.png (the 7×7 central \
            segment of the 30×30 latent grid over [-6, 6] for --class), reconstructions.png and \
            control.png with control.json (test objects moved, turned and rescaled by editing \
            their symmetry statistics). With --colour (colour symmetry statistics in SL(3), the \
            paper's open problem 3) also colour-control.png with colour-control.json (hue, \
            saturation and brightness edited as SL(3) elements, measured on the renders). \
            --resume continues from the checkpoint, data order included.
            Data: --data DIR, else GAUGE_DATA, else ~/.cache/gauge, each holding cifar-10-batches-bin/; \
            --download fetches it (162 MB) into ~/.cache/gauge when it is nowhere.
            """)

    @OptionGroup var training: TrainingArguments

    @Option(help: "Epochs to train (the paper's long schedule: 300).")
    var epochs: Int = 4

    @Flag(help: "Train the convolutional ACE of Fig. 4 (conv encoder, deconv decoder, Laplacian sampling) instead of Fig. 3's.")
    var conv = false

    @Flag(help: "Add colour symmetry statistics (the paper's open problem 3): a colour net beside the SSN gives a 3×3 matrix M in SL(3) per image (exp of a traceless matrix, identity at the start); the canonical image is M·x, the reconstruction is mapped back by M⁻¹ (ace-cifar-colour, ace-cifar-conv-colour).")
    var colour = false

    @Option(help: "Class drawn in the latent-grid figure: a name (airplane … truck) or 0-9.")
    var `class`: String = "horse"

    func validate() throws {
        guard epochs > 0 else { throw ValidationError("--epochs must be positive") }
        guard classIndex != nil else {
            throw ValidationError("--class \(self.class) is not one of \(CIFAR10.classNames.joined(separator: ", ")) or 0-9")
        }
    }

    var classIndex: Int? {
        CIFAR10.classNames.firstIndex(of: self.class.lowercased()) ?? Int(self.class).flatMap { (0..<10).contains($0) ? $0 : nil }
    }

    func run() throws {
        let progress = TrainingProgress(every: training.every)
        var options = try training.options(
            training.configure(colour ? .withColour(conv ? .cifarConv : .cifar) : conv ? .cifarConv : .cifar), epochs: epochs, classNames: CIFAR10.classNames)
        options.figureClass = classIndex!
        progress.line("reading CIFAR-10 …")
        let fetch = { (location: DataLocation) in
            try Download.cifar10Batches(into: location.cache) { TrainingProgress.standardOutput($0) }
        }
        var train = try training.read(fetch) { location throws(DataError) in try location.cifar10(train: true) }
        var test = try training.read(fetch) { location throws(DataError) in try location.cifar10(train: false) }
        if training.limit > 0 {
            train = train.prefix(training.limit)
            test = test.prefix(training.limit)
        }
        progress.line("train \(train.count) images, test \(test.count) images; writing to \(options.output)/")
        try TrainingRun(options, train: train, test: test, progress: progress).run()
    }
}

ExampleACECIFAR.main()
