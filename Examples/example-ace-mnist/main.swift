import ArgumentParser
import Datasets
import Experiments
import Foundation
import Models

/// Trains the paper's Figs. 1–2 models — ACE with (or without) spatial symmetry statistics —
/// on MNIST, rotated-translated-scaled MNIST (42×42) or translated-cluttered MNIST (60×60).
struct ExampleACEMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-ace-mnist",
        abstract: "Train ACE with symmetry statistics on MNIST, RTS or TC MNIST (paper Figs. 1–2).",
        discussion: """
            Paper settings: batch 250, Adam with learning rate 0.0015 halving every 50 epochs, one \
            latent per class. The RTS and TC sets are made from MNIST on the fly from --seed \
            (PAPER.md §4): RTS turns by ±45°, scales by 0.7–1.2 and moves by ±7 px on 42×42; TC \
            moves the digit across 60×60 and adds six 6×6 pieces of other digits. After every \
            epoch it writes into --out: checkpoint.safetensors, a line of metrics.jsonl, \
            latent-grid.png (one row per class, 20 points in [-4, 4], canonical frame), \
            reconstructions.png and control.png with control.json (test digits moved, turned and \
            rescaled by editing their symmetry statistics). When MNIST is not found it uses \
            Fashion-MNIST (also where Debian's dataset-fashion-mnist puts it) and says so, unless \
            --data names a folder.
            Data: --data DIR, else GAUGE_DATA, else ~/.cache/gauge, each holding mnist/; --download \
            fetches MNIST (11 MB) into ~/.cache/gauge when it is nowhere.
            """)

    @OptionGroup var training: TrainingArguments

    @Option(help: "Data set: plain (28×28), rts (42×42) or tc (60×60).")
    var variant: String = "rts"

    @Option(help: "Epochs to train (default: 10 plain, 5 rts, 3 tc, each about 25 minutes on 2 cores; the paper's long schedule: 300).")
    var epochs: Int?

    func validate() throws {
        guard (epochs ?? 1) > 0 else { throw ValidationError("--epochs must be positive") }
        guard ACEConfiguration.MNISTVariant(rawValue: variant) != nil else {
            throw ValidationError("--variant takes plain, rts or tc, not \(variant)")
        }
        if variant == "tc" && training.limit == 1 {
            throw ValidationError("--variant tc takes its clutter from other images: --limit must be at least 2")
        }
    }

    func run() throws {
        let variant = ACEConfiguration.MNISTVariant(rawValue: variant)!
        let progress = TrainingProgress(every: training.every)
        let options = try training.options(
            training.configure(.mnist(variant)), epochs: epochs ?? [.plain: 10, .rts: 5, .tc: 3][variant]!, classNames: (0..<10).map(String.init))
        let fetch = { (location: DataLocation) in
            try Download.files(Download.mnist, into: location.cache + "/mnist") { TrainingProgress.standardOutput($0) }
        }
        var train = try mnist(fetch, train: true, progress: progress)
        var test = try mnist(fetch, train: false, progress: nil)
        if training.limit > 0 {
            train = train.prefix(training.limit)
            test = test.prefix(training.limit)
        }
        if variant != .plain {
            let started = Date()
            let make = { (data: Dataset, seed: UInt64) in
                variant == .rts ? try Distortion.rts(data, seed: seed).0 : try Distortion.tc(data, seed: seed).0
            }
            train = try make(train, training.seed)
            test = try make(test, training.seed &+ 1)
            progress.line(String(format: "made %@ and %@ from seed %llu in %.1f s", train.name, test.name, training.seed, Date().timeIntervalSince(started)))
        }
        progress.line("train \(train.count) images, test \(test.count) images; writing to \(options.output)/")
        try TrainingRun(options, train: train, test: test, progress: progress).run()
    }

    /// MNIST (fetched first with --download), else Fashion-MNIST (saying so through `progress`)
    /// — but not when --data names a folder: then MNIST missing there is an error naming where
    /// it looked.
    func mnist(_ fetch: (DataLocation) throws -> Void, train: Bool, progress: TrainingProgress?) throws -> Dataset {
        let searched: [String]
        do {
            return try training.read(fetch) { location throws(DataError) in try location.mnist(train: train) }
        } catch let error as DataError {
            guard case .notFound(_, let places) = error, training.data == nil else { throw error }
            searched = places
        }
        let location = training.location
        progress?.line("MNIST not found (looked in \(searched.joined(separator: ", "))); using Fashion-MNIST instead")
        return try location.mnist(train: train, fashion: true)
    }
}

ExampleACEMNIST.main()
