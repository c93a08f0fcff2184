import Compiler
import Experiments
import Foundation
import Graph
import Models
import Runtime
import Testing

/// Colour symmetry statistics (the seed's open problem 3) end to end: the host-side SL(3)
/// edits and their measurements, the model at initialisation, the renderer's colour input and
/// the colour control strip.
@Suite struct ColourStatisticsTests {
    /// `withColour(.cifar)` at toy widths (32×32×3, a few units per layer).
    static func smallConfig(colour: Bool = true) -> ACEConfiguration {
        var config = ACEConfiguration.withColour(.cifar)
        (config.encoderHidden, config.decoderHidden, config.classifierFilters, config.classifierHidden) = ([8], [4], [2], 4)
        let net = ACEConfiguration.SymmetryNet(convolutions: [(2, 3)], poolInput: true, convPadding: .same, hidden: 4)
        config.symmetryNet = net
        config.colourNet = colour ? net : nil
        return config
    }

    static func images(_ count: Int) -> [Float] { (0..<(count * 3072)).map { Float(($0 * 7919) % 1000) / 1000 } }

    /// Each pixel of `image [3, n]` mixed by `m`.
    static func mixed(_ image: ArraySlice<Float>, _ m: ColourMatrix) -> [Float] {
        let n = image.count / 3
        let base = image.startIndex
        return (0..<(3 * n)).map { k in
            let (i, p) = (k / n, k % n)
            return (0..<3).reduce(Float(0)) { $0 + m.values[i * 3 + $1] * image[base + $1 * n + p] }
        }
    }

    @Test func editsAreInSL3AndMeasureAsAsked() {
        // A warm 8×8 patch with some texture, inside [0, 1] under every edit (a clamped pixel
        // would move the measurements: the test of that is the strip's).
        let n = 64
        let image = (0..<(3 * n)).map { k -> Float in
            let (c, p) = (k / n, k % n)
            return [0.55, 0.5, 0.42][c] + 0.05 * Float(sin(Double(p) * 0.7 + Double(c)))
        }
        #expect(Figures.colourEdits.allSatisfy { Self.mixed(image[...], $0.matrix).allSatisfy { (0...1).contains($0) } })
        let base = ColourMoments(image[...], height: 8, width: 8)
        for edit in Figures.colourEdits {
            let m = edit.matrix
            #expect(abs(m.determinant - 1) < 1e-5, "\(edit.name)")
            let round = m.composed(with: m.inverted()).values
            #expect(zip(round, ColourMatrix.identity.values).allSatisfy { abs($0 - $1) < 1e-5 }, "\(edit.name)")
            let edited = ColourMoments(Self.mixed(image[...], m)[...], height: 8, width: 8)
            #expect(abs(Figures.wrapped(base.hueTurn(to: edited) - edit.hueDegrees)) < 1e-3, "\(edit.name)")
            // Saturation s: chroma ×s, grey ×s⁻²; brightness k: grey ×k, chroma ×k^−½.
            let chroma = edit.saturation * (1 / edit.brightness.squareRoot())
            let grey = edit.brightness / (edit.saturation * edit.saturation)
            #expect(abs(edited.saturation / base.saturation - chroma) < 1e-4, "\(edit.name)")
            #expect(abs(edited.brightness / base.brightness - grey) < 1e-4, "\(edit.name)")
        }
        // A hue turn keeps grey, and 120° permutes the channels of a grey-centred frame.
        let turn = ColourMatrix.hueRotation(degrees: 120).values
        #expect(zip(turn, [0, 0, 1, 1, 0, 0, 0, 1, 0] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(turn)")
    }

    /// At initialisation the colour net gives the identity exactly, so the model's losses equal
    /// those of the same model without colour statistics and the same other parameters.
    @Test func atInitialisationColourStatisticsChangeNothing() throws {
        let withColour = try TrainingStep(ACE.model(Self.smallConfig()), batch: 2, optimizer: .adam(learningRate: 0.001))
        let without = try TrainingStep(ACE.model(Self.smallConfig(colour: false)), batch: 2, optimizer: .adam(learningRate: 0.001))
        let a = withColour.initialState(seed: 5)
        let b = without.initialState(seed: 5)
        for tensor in b.tensors {
            if let values = a.values(tensor.name) { try b.setValues(tensor.name, values) }
        }
        let feeds: [String: TensorData] = ["image": .float32(Self.images(2)), "label": .int32([3, 7])]
        let (la, lb) = (try withColour.run(a, feeding: feeds), try without.run(b, feeding: feeds))
        #expect(la.keys.sorted() == lb.keys.sorted())
        for (name, value) in lb { #expect(abs(la[name]! - value) <= 1e-6 * max(1, abs(value)), "\(name): \(la[name]!) vs \(value)") }
    }

    /// The renderer colours the canonical drawing by the request's matrix before posing it:
    /// image(E) = E · image(identity) at every pixel.
    @Test func theRendererColoursByTheRequestsMatrix() throws {
        let config = Self.smallConfig()
        let state = try TrainingStep(ACE.model(config), batch: 1, optimizer: .adam(learningRate: 0.001)).initialState(seed: 2)
        let renderer = try Renderer(config, batch: 2)
        let e = ColourMatrix.hueRotation(degrees: 40).composed(with: .brightness(1.2))
        let pose = Affine2D.rotating(degrees: 10)
        let images = try renderer.render(
            [.init(latent: [0.3, -0.5], label: 4, pose: pose), .init(latent: [0.3, -0.5], label: 4, pose: pose, colour: e)], state: state)
        let expected = Self.mixed(images[0..<3072], e)
        #expect(zip(images[3072...], expected).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// The colour strip: a row per object, every edit measured; hue turns of a linear map come
    /// out as asked (the untrained decoder's output stays inside [0, 1] under them).
    @Test func theColourControlStripMeasuresItsEdits() throws {
        let config = Self.smallConfig()
        let state = try TrainingStep(ACE.model(config), batch: 1, optimizer: .adam(learningRate: 0.001)).initialState(seed: 2)
        let figures = Figures(try Renderer(config, batch: 8))
        let colour = ColourMatrix.saturation(1.1).composed(with: .hueRotation(degrees: 15))
        let (strip, report) = try figures.colourControl(
            originals: Array(Self.images(1)), indices: [0], labels: [6], thetas: [.identity], colours: [colour],
            latents: [[0.1, 0.2]], state: state, scale: 1)
        #expect(strip.width == 9 * 32 + 8 * 2 && strip.height == 32)
        let measurements = report.objects[0].measurements
        #expect(measurements.map(\.edit.name) == Figures.colourEdits.map(\.name))
        for m in measurements where m.edit.hueDegrees != 0 {
            #expect(abs(Figures.wrapped(m.measuredHueDegrees - m.edit.hueDegrees)) < 0.5, "\(m.edit.name): \(m.measuredHueDegrees)")
        }
        #expect(report.objects[0].colour == colour.values)
    }
}
