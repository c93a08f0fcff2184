import Compiler
import Experiments
import Foundation
import Models
import Runtime
import Testing

/// Control end to end: a decoder made to draw a known blob, posed through the graph's
/// sampler by inv(θ)∘Δ for every edit of the control strip, measured by image moments.
@Suite struct ControlTests {
    /// A small ACE (28×28, or 42×42 for `.rts`) whose class-3 decoder draws `image` whatever
    /// the latent point.
    func stateDrawing(
        _ image: [Float], latents: Int = 1, variant: ACEConfiguration.MNISTVariant = .plain
    ) throws -> (ACEConfiguration, TrainingState) {
        var config = ACEConfiguration.mnist(variant, symmetry: false)
        let pixels = config.pixels
        config.latentPerClass = latents
        (config.encoderHidden, config.decoderHidden, config.classifierFilters, config.classifierHidden) = ([8], [4], [2], 4)
        let step = try TrainingStep(ACE.model(config), batch: 1, optimizer: .adam(learningRate: 0.001))
        let state = step.initialState(seed: 1)
        let output = state.tensors.filter { $0.name.hasPrefix("decoder/") }
        let weight = try #require(output.first { $0.shape == [10, 4, pixels] })
        let bias = try #require(output.first { $0.shape == [10, pixels] })
        try state.setValues(weight.name, [Float](repeating: 0, count: 10 * 4 * pixels))
        var logits = [Float](repeating: -9, count: 10 * pixels)
        for (k, v) in image.enumerated() { logits[3 * pixels + k] = log(max(v, 1e-7) / max(1 - v, 1e-7)) }
        try state.setValues(bias.name, logits)
        return (config, state)
    }

    /// A request of the wrong latent size is a typed error naming it (it was a precondition);
    /// a class outside the decoders is the runtime's label error.
    @Test func badRequestsAreTypedErrors() throws {
        let (config, state) = try stateDrawing([Float](repeating: 0.5, count: 28 * 28))
        let renderer = try Renderer(config, batch: 2)
        #expect(throws: ExperimentError("a latent point of \(config.name) has 1 values; request 1 has 3")) {
            try renderer.render([.init(latent: [0], label: 1), .init(latent: [0, 0, 0], label: 1)], state: state)
        }
        do {
            _ = try renderer.render([.init(latent: [0], label: 10)], state: state)
            Issue.record("expected a label error")
        } catch let error as RuntimeError {
            #expect(error.description.hasSuffix("a label is outside 0..<10"), "\(error)")
        }
    }

    /// Tolerances: bilinear resampling at a fractional offset blurs by a tent filter, which
    /// keeps the centre of mass and the axis but adds up to 1/3 px² to the squared spread.
    @Test(arguments: [Affine2D.identity, Affine2D.rotating(degrees: 30).composed(with: .moving(dx: 2, dy: -1, width: 42, height: 42))])
    func editsMoveTurnAndScaleTheRenderAsAsked(theta: Affine2D) throws {
        let image = blob(side: 42, cx: 20.5, cy: 20.5, degrees: 20, long: 3, short: 1.5)
        let (config, state) = try stateDrawing(image, variant: .rts)
        let figures = Figures(try Renderer(config, batch: 8))
        // The canonical drawing is the blob itself.
        let drawn = try figures.renderer.render([.init(latent: [0.7], label: 3)], state: state)
        #expect(zip(drawn, image).allSatisfy { abs($0 - $1) < 2e-4 })

        let (strip, report) = try figures.control(
            originals: image, indices: [0], labels: [3], thetas: [theta], latents: [[0.7]], state: state)
        #expect(strip.width == 16 * 84 + 15 * 2 && strip.height == 84)
        let measurements = report.objects[0].measurements
        #expect(measurements.count == Figures.edits.count)
        for m in measurements {
            let e = m.edit
            if e.rotationDegrees != 0 {
                #expect(abs(m.measuredRotationDegrees - e.rotationDegrees) < 0.3, "\(e.name): \(m.measuredRotationDegrees)")
            } else if e.scale != 1 {
                #expect(abs(m.measuredScale - e.scale) < 0.03, "\(e.name): \(m.measuredScale)")
            } else {
                #expect(abs(m.measuredDx - e.dx) < 0.05 && abs(m.measuredDy - e.dy) < 0.05, "\(e.name): \(m.measuredDx), \(m.measuredDy)")
                #expect(abs(m.measuredRotationDegrees) < 0.3 && abs(m.measuredScale - 1) < 0.02, "\(e.name)")
            }
        }
        #expect(report.meanAbsoluteError.count == Figures.edits.count)
    }

    @Test func latentGridsHaveThePapersLayouts() throws {
        let image = blob(side: 28, cx: 13.5, cy: 13.5, degrees: 0)
        // One latent per class: one row per class, 20 points; only class 3's row draws the blob (the
        // dark-gray gaps between tiles add 28·38·40 to every row).
        let (config, state) = try stateDrawing(image)
        let rows = try Figures(try Renderer(config, batch: 64)).latentGrid(state, chosenClass: 0, scale: 1)
        #expect(rows.width == 20 * 28 + 19 * 2 && rows.height == 10 * 28 + 9 * 2)
        let rowSums = (0..<10).map { r in
            (0..<28).reduce(0) { sum, y in sum + rows.pixels[((r * 30 + y) * rows.width)..<((r * 30 + y + 1) * rows.width)].reduce(0) { $0 + Int($1) } }
        }
        #expect(rowSums.indices.filter { rowSums[$0] > 2 * 28 * 38 * 40 } == [3])
        // Two latents: the chosen class's 7×7 central segment of the 30×30 grid over [−6, 6].
        let (config2, state2) = try stateDrawing(image, latents: 2)
        let square = try Figures(try Renderer(config2, batch: 64)).latentGrid(state2, chosenClass: 3, scale: 1)
        #expect(square.width == 7 * 28 + 6 * 2 && square.height == square.width)
        let grid = Figures.linspace(-6, 6, 30)
        #expect(abs(grid[11] - -1.448) < 1e-3 && abs(grid[17] - 1.034) < 1e-3)
        #expect(Figures.linspace(-4, 4, 20).first == -4 && Figures.linspace(-4, 4, 20).last == 4)
    }

    /// The per-image terms used by the eq. 4.1 mixture add up to the batch's loss terms.
    @Test(arguments: [ACEConfiguration.Sampling.gaussian, .laplace])
    func perImageTermsSumToTheLosses(sampling: ACEConfiguration.Sampling) throws {
        var config = ACEConfiguration.mnist(.plain)
        (config.encoderHidden, config.decoderHidden, config.classifierFilters, config.classifierHidden) = ([8], [4], [2], 4)
        config.sampling = sampling
        let state = try TrainingStep(ACE.model(config), batch: 1, optimizer: .adam(learningRate: 0.001)).initialState(seed: 4)
        let inference = try Inference(ACE.model(config, perImageTerms: true), batch: 3)
        let images = (0..<(3 * 784)).map { Float(($0 * 7919) % 1000) / 1000 }
        let out = try inference.evaluate(state, feeding: ["image": .float32(images), "label": .int32([2, 5, 9])], step: 3)
        let (r, k) = (try #require(out["reconstruction_per_image"]), try #require(out["kl_per_image"]))
        #expect(r.count == 3 && k.count == 3 && r.allSatisfy { $0 > 0 })
        #expect(abs(r.reduce(0, +) - out["reconstruction_error"]![0]) <= 1e-5 * out["reconstruction_error"]![0])
        #expect(abs(k.reduce(0, +) - out["generative_error"]![0]) <= 1e-4 * max(1, out["generative_error"]![0]))
    }
}
