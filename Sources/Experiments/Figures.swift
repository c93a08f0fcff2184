import Foundation
import Models
import Runtime

/// The paper's pictures from a training state: latent-manifold grids (Figs. 1–3), originals
/// beside reconstructions, and the control strip with its measurements (§2.3, §5.5).
public struct Figures {
    public let renderer: Renderer
    public var configuration: ACEConfiguration { renderer.configuration }

    public init(_ renderer: Renderer) { self.renderer = renderer }

    /// `count` evenly spaced values from `low` to `high` inclusive (numpy's linspace).
    public static func linspace(_ low: Double, _ high: Double, _ count: Int) -> [Float] {
        (0..<count).map { Float(low + (high - low) * Double($0) / Double(count - 1)) }
    }

    /// The images of a figure before they are tiled: each request asks its class's decoder for
    /// one image; `columns` per row.
    public struct Sheet: Sendable {
        public var requests: [Renderer.Request]
        public var columns: Int
        /// The class each image was asked to show.
        public var classes: [Int] { requests.map(\.label) }
    }

    /// The sheet's images `[count, C, H, W]` and its picture.
    public func draw(_ sheet: Sheet, _ state: TrainingState, scale: Int = 2) throws -> (images: [Float], picture: Picture) {
        let c = configuration
        let images = try renderer.render(sheet.requests, state: state)
        let picture = tiledPicture(
            images, count: sheet.requests.count, channels: c.channels, height: c.height, width: c.width,
            columns: sheet.columns, scale: scale)
        return (images, picture)
    }

    /// The latent manifold in the canonical frame. One latent per class (Figs. 1–2): one row per
    /// class, 20 points in [−4, 4]. Two or more (Fig. 3): for `chosenClass`, the 7×7 central
    /// segment (indices 11…17) of a 30×30 grid over [−6, 6] in the first two latents, rows
    /// the second latent, columns the first; other latents 0.
    public func latentGridSheet(chosenClass: Int) -> Sheet {
        let c = configuration
        var requests: [Renderer.Request] = []
        if c.latentPerClass == 1 {
            for label in 0..<c.classes {
                for v in Self.linspace(-4, 4, 20) { requests.append(.init(latent: [v], label: label)) }
            }
            return Sheet(requests: requests, columns: 20)
        }
        let values = Array(Self.linspace(-6, 6, 30)[11...17])
        for tau in values {
            for sigma in values {
                var z = [Float](repeating: 0, count: c.latentPerClass)
                (z[0], z[1]) = (sigma, tau)
                requests.append(.init(latent: z, label: chosenClass))
            }
        }
        return Sheet(requests: requests, columns: 7)
    }

    /// `latentGridSheet` drawn.
    public func latentGrid(_ state: TrainingState, chosenClass: Int, scale: Int = 2) throws -> Picture {
        try draw(latentGridSheet(chosenClass: chosenClass), state, scale: scale).picture
    }

    /// Rows of `columns` images each: every row is one of `rows` (e.g. originals,
    /// reconstructions, canonical drawings), `[columns, C, H, W]` each.
    public func comparison(_ rows: [[Float]], columns: Int, scale: Int = 2) -> Picture {
        let c = configuration
        return tiledPicture(
            rows.flatMap { $0 }, count: rows.count * columns, channels: c.channels, height: c.height, width: c.width,
            columns: columns, scale: scale)
    }

    /// One edit of the control strip: what was asked of the pose.
    public struct Edit: Codable, Sendable {
        public var name: String
        public var dx: Double = 0
        public var dy: Double = 0
        public var rotationDegrees: Double = 0
        public var scale: Double = 1
    }

    /// The control strip's edits: moves of ±3 and ±5 px along x and y, turns of ±15° and ±30°,
    /// and scalings by 0.8 and 1.25.
    public static let edits: [Edit] =
        [3.0, -3, 5, -5].map { Edit(name: "move x \($0 > 0 ? "+" : "")\(Int($0)) px", dx: $0) }
        + [3.0, -3, 5, -5].map { Edit(name: "move y \($0 > 0 ? "+" : "")\(Int($0)) px", dy: $0) }
        + [15.0, -15, 30, -30].map { Edit(name: "rotate \($0 > 0 ? "+" : "")\(Int($0))°", rotationDegrees: $0) }
        + [0.8, 1.25].map { Edit(name: "scale ×\($0)", scale: $0) }

    /// What an edit did to one render, measured from image moments against the unedited render.
    public struct Measurement: Codable, Sendable {
        public var edit: Edit
        public var measuredDx: Double
        public var measuredDy: Double
        public var measuredRotationDegrees: Double
        public var measuredScale: Double
    }

    public struct ControlObject: Codable, Sendable {
        public var testIndex: Int
        public var label: Int
        public var theta: [Float]
        public var measurements: [Measurement]
    }

    /// The control figure's numbers, written as `control.json`.
    public struct ControlReport: Codable, Sendable {
        public var description =
            "Each test object is drawn by its class decoder at its latent mean, posed by inv(θ)∘Δ (PAPER.md §2.3, §5.5); measured = image moments of the edited render against the unedited one (centre of mass in px, principal-axis turn in degrees counter-clockwise, RMS-radius ratio)."
        public var objects: [ControlObject] = []
        /// Mean absolute difference between asked and measured, per edit name.
        public var meanAbsoluteError: [String: Double] = [:]
    }

    /// Test objects re-rendered with edited poses (PAPER.md §2.3): per object a row of the
    /// original, the unedited render, then one render per edit. `thetas` are the symmetry
    /// statistics (identity without them), `colours` the colour statistics of models that have
    /// them (each render is coloured by their inverse), `latents` the posterior means.
    public func control(
        originals: [Float], indices: [Int], labels: [Int], thetas: [Affine2D], colours: [ColourMatrix]? = nil,
        latents: [[Float]], state: TrainingState, scale: Int = 2
    ) throws -> (Picture, ControlReport) {
        let c = configuration
        var requests: [Renderer.Request] = []
        for k in indices.indices {
            let unwarp = thetas[k].inverted()
            let uncolour = colours?[k].inverted() ?? .identity
            for edit in [Edit(name: "none")] + Self.edits {
                let delta = Affine2D.moving(dx: edit.dx, dy: edit.dy, width: c.width, height: c.height)
                    .composed(with: .rotating(degrees: edit.rotationDegrees)).composed(with: .scaling(edit.scale))
                requests.append(
                    .init(latent: latents[k], label: labels[k], pose: unwarp.composed(with: delta), colour: uncolour))
            }
        }
        let renders = try renderer.render(requests, state: state)
        let perObject = Self.edits.count + 1
        var report = ControlReport()
        var rows: [Float] = []
        var errors: [String: Double] = [:]
        for k in indices.indices {
            rows += originals[(k * c.pixels)..<((k + 1) * c.pixels)]
            rows += renders[(k * perObject * c.pixels)..<((k + 1) * perObject * c.pixels)]
            func moments(_ j: Int) -> ImageMoments {
                let start = (k * perObject + j) * c.pixels
                return ImageMoments(renders[start..<(start + c.pixels)], channels: c.channels, height: c.height, width: c.width)
            }
            let base = moments(0)
            var object = ControlObject(testIndex: indices[k], label: labels[k], theta: thetas[k].values, measurements: [])
            for (j, edit) in Self.edits.enumerated() {
                let m = moments(j + 1)
                let measured = Measurement(
                    edit: edit, measuredDx: m.centreX - base.centreX, measuredDy: m.centreY - base.centreY,
                    measuredRotationDegrees: base.rotation(to: m), measuredScale: base.spread > 0 ? m.spread / base.spread : 0)
                object.measurements.append(measured)
                let error =
                    edit.rotationDegrees != 0 ? abs(measured.measuredRotationDegrees - edit.rotationDegrees)
                    : edit.scale != 1 ? abs(measured.measuredScale - edit.scale)
                    : hypot(measured.measuredDx - edit.dx, measured.measuredDy - edit.dy)
                errors[edit.name, default: 0] += error / Double(indices.count)
            }
            report.objects.append(object)
        }
        report.meanAbsoluteError = errors
        return (strip(rows, objects: indices.count, perObject: perObject, scale: scale), report)
    }

    /// A control strip's picture: per object, its original then its `perObject` renders.
    func strip(_ rows: [Float], objects: Int, perObject: Int, scale: Int) -> Picture {
        let c = configuration
        return tiledPicture(
            rows, count: objects * (perObject + 1), channels: c.channels, height: c.height, width: c.width,
            columns: perObject + 1, scale: scale)
    }
}
