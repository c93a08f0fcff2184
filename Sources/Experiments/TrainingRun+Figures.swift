import Datasets
import Foundation
import Models
import Runtime

/// The figures of a training run (samples, latent grid, reconstructions, control strips) and
/// the judge's scores of them.
extension TrainingRun {
    /// samples.png: per class, ten latent points from the prior (the same ones every epoch)
    /// decoded in the canonical frame. With symmetry statistics also samples-posed.png: the same
    /// points, each drawn in the pose of a training image of its class — warped by θ⁻¹ for the
    /// θ the SSN gave that image, as the model unwarps its reconstructions, and with colour
    /// statistics coloured by that image's M⁻¹ — drawn at random
    /// from the first two training batches — a real image's θ is a pose the SSN makes, where a
    /// Gaussian fitted to the θs could give shears and flips it never makes.
    func sampleSheets(_ figures: Figures, _ evaluation: Inference, _ state: TrainingState) throws -> [(name: String, sheet: Figures.Sheet)] {
        let o = options
        let canonical = ("samples", figures.samplesSheet(seed: o.seed))
        guard o.configuration.symmetryNet != nil || o.configuration.colourNet != nil else { return [canonical] }
        let classes = o.configuration.classes
        var poses = [[(Affine2D, ColourMatrix)]](repeating: [], count: classes)
        for k in 0..<min(2, train.count / o.batch) {
            let (images, labels) = train.gather(Array((k * o.batch)..<((k + 1) * o.batch)))
            let out = try evaluation.evaluate(state, feeding: ["image": .float32(images), "label": .int32(labels)])
            for (i, label) in labels.enumerated() {
                let (theta, colour) = Self.statistics(out, i)
                poses[Int(label)].append((theta.inverted(), colour.inverted()))
            }
        }
        var random = SplitMix64(seed: o.seed ^ 0x5A4D_504C_4553)
        let picks = (0..<classes).map { c in
            (0..<10).map { _ in poses[c].isEmpty ? (Affine2D.identity, ColourMatrix.identity) : poses[c][random.below(poses[c].count)] }
        }
        let posed = figures.samplesSheet(seed: o.seed, pose: { label, k in picks[label][k].0 }, colour: { label, k in picks[label][k].1 })
        return [canonical, ("samples-posed", posed)]
    }

    func writeSamples(_ figures: Figures, _ evaluation: Inference, _ state: TrainingState) throws {
        for (name, sheet) in try sampleSheets(figures, evaluation, state) {
            try PNG.write(try figures.draw(sheet, state).picture, to: options.output + "/\(name).png")
        }
    }

    /// The judge of `options.judge`, else the default judge of the training set when one was
    /// made; its image size and classes must be the model's.
    func loadJudge() throws -> Judge? {
        let c = options.configuration
        if options.judge == "none" { return nil }
        let path = options.judge ?? Judge.path(in: Judge.defaultFolder(for: train.name, cache: options.cache))
        guard options.judge != nil || FileManager.default.fileExists(atPath: path) else {
            let set = String(train.name.split(separator: " ").first ?? "")
            let argument = ["mnist-rts": "rts", "mnist-tc": "tc", "cifar-10": "cifar10"][set] ?? set
            progress.line("no judge at \(path): figures are not scored; make one with `gauge judge \(argument)`")
            return nil
        }
        let judge = try Judge(path)
        guard judge.channels == c.channels, judge.height == c.height, judge.width == c.width, judge.classes == c.classes else {
            throw ExperimentError(
                "the judge \(path) takes \(judge.channels)×\(judge.height)×\(judge.width) images of \(judge.classes) classes; \(c.name) draws \(c.channels)×\(c.height)×\(c.width) of \(c.classes)")
        }
        progress.line(
            "judge: \(path), trained on \(judge.dataset)" + (judge.testAccuracy.map { String(format: ", test accuracy %.2f %%", 100 * $0) } ?? ""))
        return judge
    }

    /// The judge's scores of samples.png, samples-posed.png and latent-grid.png:
    /// `judge_samples_consistency`, `…_confidence`, `…_flat`, and so on.
    func judgeScores(_ judge: Judge, _ figures: Figures, _ evaluation: Inference, _ state: TrainingState) throws -> [String: Double] {
        var metrics: [String: Double] = [:]
        let sheets = try sampleSheets(figures, evaluation, state) + [("latent-grid", figures.latentGridSheet(chosenClass: options.figureClass))]
        let pixels = options.configuration.pixels
        for (name, sheet) in sheets {
            let images = try figures.draw(sheet, state).images
            let scores = try judge.score(images, asked: sheet.classes)
            metrics.merge(scores.metrics("judge_" + name.replacingOccurrences(of: "-", with: "_"))) { $1 }
            guard name == "latent-grid", options.configuration.latentPerClass == 1 else { continue }
            // The grid's ends apart (|z| ≥ 3.5, the outer two columns each side): out of the
            // posterior's range, they show what the decoder does where it was not trained.
            let ends = sheet.requests.indices.filter { Swift.abs(sheet.requests[$0].latent[0]) >= 3.5 }
            let endImages = ends.flatMap { images[($0 * pixels)..<(($0 + 1) * pixels)] }
            let endScores = try judge.score(endImages, asked: ends.map { sheet.requests[$0].label })
            metrics.merge(endScores.metrics("judge_latent_grid_ends")) { $1 }
        }
        return metrics
    }

    /// Label-free reconstructions from the mixture over classes (seed eq. 4.1): Σ_c ω_c · x̂_c,
    /// every class's reconstruction of the image weighted by the classifier's ω (softmax of
    /// `logits`), for the first `count` images of a batch.
    func mixtureReconstructions(_ evaluation: Inference, _ state: TrainingState, images: [Float], logits: [Float], count: Int) throws -> [Float] {
        let (classes, pixels, b) = (options.configuration.classes, options.configuration.pixels, options.batch)
        var result = [Float](repeating: 0, count: count * pixels)
        let omega = (0..<count).map { Logits.probabilities(logits, row: $0, classes: classes).map(Float.init) }
        for c in 0..<classes {
            let out = try evaluation.evaluate(state, feeding: ["image": .float32(images), "label": .int32(.init(repeating: Int32(c), count: b))])
            guard let reconstruction = out["reconstruction"] else { continue }
            for i in 0..<count {
                for p in 0..<pixels { result[i * pixels + p] += omega[i][c] * reconstruction[i * pixels + p] }
            }
        }
        return result
    }

    /// latent-grid.png, reconstructions.png (originals; reconstructions with the true class; with
    /// the classifier's choice; from the mixture over classes; the drawing in the canonical
    /// frame), control.png, control.json.
    func writeFigures(_ figures: Figures, _ evaluation: Inference, _ state: TrainingState, _ first: FirstBatch) throws {
        let c = options.configuration
        let dir = options.output + "/"
        try PNG.write(try figures.latentGrid(state, chosenClass: options.figureClass), to: dir + "latent-grid.png")

        let shown = min(10, options.batch)
        let latents = first.outputs["latent_mean"]!
        let statistics = (0..<options.batch).map { Self.statistics(first.outputs, $0) }
        let thetas = statistics.map(\.theta)
        let colours = first.outputs["colour"] == nil ? nil : statistics.map(\.colour)
        func latent(_ i: Int) -> [Float] { Array(latents[(i * c.latentPerClass)..<((i + 1) * c.latentPerClass)]) }
        let canonical = try figures.renderer.render(
            (0..<shown).map { Renderer.Request(latent: latent($0), label: Int(first.labels[$0])) }, state: state)
        // Without labels (PAPER.md §1.6): the decoder of the classifier's most likely class.
        let logits = first.outputs["logits"]!
        let predicted = (0..<options.batch).map { Int32(predictedClass(logits, $0)) }
        let unlabelled = try evaluation.evaluate(
            state, feeding: ["image": .float32(first.images), "label": .int32(predicted)])["reconstruction"]!
        let mixture = try mixtureReconstructions(evaluation, state, images: first.images, logits: logits, count: shown)
        try PNG.write(
            figures.comparison(
                [
                    Array(first.images[0..<(shown * c.pixels)]), Array(first.outputs["reconstruction"]![0..<(shown * c.pixels)]),
                    Array(unlabelled[0..<(shown * c.pixels)]), mixture, canonical,
                ],
                columns: shown),
            to: dir + "reconstructions.png")

        let objects = Array(0..<min(options.controlObjects, options.batch))
        let (strip, report) = try figures.control(
            originals: Array(first.images[0..<(objects.count * c.pixels)]), indices: objects,
            labels: objects.map { Int(first.labels[$0]) }, thetas: objects.map { thetas[$0] },
            colours: colours.map { m in objects.map { m[$0] } }, latents: objects.map(latent), state: state)
        try PNG.write(strip, to: dir + "control.png")
        try Self.writeJSON(report, to: dir + "control.json")
        guard let colours else { return }
        let (colourStrip, colourReport) = try figures.colourControl(
            originals: Array(first.images[0..<(objects.count * c.pixels)]), indices: objects,
            labels: objects.map { Int(first.labels[$0]) }, thetas: objects.map { thetas[$0] },
            colours: objects.map { colours[$0] }, latents: objects.map(latent), state: state)
        try PNG.write(colourStrip, to: dir + "colour-control.png")
        try Self.writeJSON(colourReport, to: dir + "colour-control.json")
    }

    /// The symmetry statistics of image `i` in an evaluation's outputs: θ and M (identity
    /// where the model has none). The model applies their inverses to its reconstructions.
    static func statistics(_ out: [String: [Float]], _ i: Int) -> (theta: Affine2D, colour: ColourMatrix) {
        let theta = out["theta"].map { Affine2D(Array($0[(i * 6)..<((i + 1) * 6)])) } ?? .identity
        let colour = out["colour"].map { ColourMatrix(Array($0[(i * 9)..<((i + 1) * 9)])) } ?? .identity
        return (theta, colour)
    }

    static func writeJSON(_ value: some Encodable, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
