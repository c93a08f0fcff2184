import Foundation
import Runtime

extension Figures {
    /// One edit of the colour control strip, an element of SL(3, R) (`ColourMatrix`).
    public struct ColourEdit: Codable, Sendable {
        public var name: String
        public var hueDegrees: Double = 0
        public var saturation: Double = 1
        public var brightness: Double = 1

        public var matrix: ColourMatrix {
            ColourMatrix.hueRotation(degrees: hueDegrees).composed(with: .saturation(saturation))
                .composed(with: .brightness(brightness))
        }
    }

    /// The colour strip's edits: hue turns of ±60° and 180°, saturation ×1.25 and ×0.8 (grey
    /// ×0.64 and ×1.56 with them: in SL(3) a saturation change is paid for in brightness),
    /// brightness ×1.25 and ×0.8 (chroma ×0.89 and ×1.12).
    public static let colourEdits: [ColourEdit] =
        [60.0, -60, 180].map { ColourEdit(name: "hue \($0 > 0 ? "+" : "")\(Int($0))°", hueDegrees: $0) }
        + [1.25, 0.8].map { ColourEdit(name: "saturation ×\($0)", saturation: $0) }
        + [1.25, 0.8].map { ColourEdit(name: "brightness ×\($0)", brightness: $0) }

    /// What a colour edit did to one render, measured (`ColourMoments`) against the unedited one.
    public struct ColourMeasurement: Codable, Sendable {
        public var edit: ColourEdit
        public var measuredHueDegrees: Double
        public var measuredSaturation: Double
        public var measuredBrightness: Double
    }

    public struct ColourControlObject: Codable, Sendable {
        public var testIndex: Int
        public var label: Int
        /// The colour statistics M the net gave the test image.
        public var colour: [Float]
        public var measurements: [ColourMeasurement]
    }

    /// The colour control figure's numbers, written as `colour-control.json`.
    public struct ColourControlReport: Codable, Sendable {
        public var description =
            "Each test object is drawn by its class decoder at its latent mean, posed by inv(θ) and coloured by E·inv(M), E the edit (an SL(3) element); measured = colour moments of the edited render (clamped to [0, 1]) against the unedited one: hue turn of the mean chroma in degrees, RMS-chroma ratio, mean-grey ratio."
        public var objects: [ColourControlObject] = []
        /// Mean absolute difference between asked and measured, per edit name.
        public var meanAbsoluteError: [String: Double] = [:]
    }

    /// Test objects re-rendered with edited colour statistics (the colour twin of `control`):
    /// per object a row of the original, the unedited render, then one render per edit.
    public func colourControl(
        originals: [Float], indices: [Int], labels: [Int], thetas: [Affine2D], colours: [ColourMatrix],
        latents: [[Float]], state: TrainingState, scale: Int = 2
    ) throws -> (Picture, ColourControlReport) {
        let c = configuration
        var requests: [Renderer.Request] = []
        for k in indices.indices {
            let (unwarp, uncolour) = (thetas[k].inverted(), colours[k].inverted())
            for edit in [ColourEdit(name: "none")] + Self.colourEdits {
                requests.append(
                    .init(latent: latents[k], label: labels[k], pose: unwarp, colour: edit.matrix.composed(with: uncolour)))
            }
        }
        let renders = try renderer.render(requests, state: state)
        let perObject = Self.colourEdits.count + 1
        var report = ColourControlReport()
        var rows: [Float] = []
        var errors: [String: Double] = [:]
        for k in indices.indices {
            rows += originals[(k * c.pixels)..<((k + 1) * c.pixels)]
            rows += renders[(k * perObject * c.pixels)..<((k + 1) * perObject * c.pixels)]
            func moments(_ j: Int) -> ColourMoments {
                let start = (k * perObject + j) * c.pixels
                return ColourMoments(renders[start..<(start + c.pixels)], height: c.height, width: c.width)
            }
            let base = moments(0)
            var object = ColourControlObject(testIndex: indices[k], label: labels[k], colour: colours[k].values, measurements: [])
            for (j, edit) in Self.colourEdits.enumerated() {
                let m = moments(j + 1)
                let measured = ColourMeasurement(
                    edit: edit, measuredHueDegrees: base.hueTurn(to: m),
                    measuredSaturation: base.saturation > 0 ? m.saturation / base.saturation : 0,
                    measuredBrightness: base.brightness > 0 ? m.brightness / base.brightness : 0)
                object.measurements.append(measured)
                let error =
                    edit.hueDegrees != 0 ? Swift.abs(Self.wrapped(measured.measuredHueDegrees - edit.hueDegrees))
                    : edit.saturation != 1 ? Swift.abs(measured.measuredSaturation - edit.saturation)
                    : Swift.abs(measured.measuredBrightness - edit.brightness)
                errors[edit.name, default: 0] += error / Double(indices.count)
            }
            report.objects.append(object)
        }
        report.meanAbsoluteError = errors
        return (strip(rows, objects: indices.count, perObject: perObject, scale: scale), report)
    }

    /// An angle difference wrapped into (−period/2, period/2]: (−180°, 180°] for a hue, (−90°,
    /// 90°] for an axis, which has no direction.
    public static func wrapped(_ degrees: Double, period: Double = 360) -> Double {
        var d = degrees
        while d > period / 2 { d -= period }
        while d <= -period / 2 { d += period }
        return d
    }
}
