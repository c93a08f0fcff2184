import Foundation

/// A 2-D affine transform θ = [[a, b, e], [c, d, f]] in the sampler's normalised coordinates
/// (−1…1 across the image, align_corners; PAPER.md §5.1), mapping output points to input points
/// — the host-side twin of the graph's `[batch, 6]` θ, for building control poses (§5.5).
public struct Affine2D: Equatable, Sendable {
    /// θ11 θ12 θ13 θ21 θ22 θ23, the graph's layout.
    public var values: [Float]

    /// The caller's contract (as for an array index): exactly 6 values.
    public init(_ values: [Float]) {
        precondition(values.count == 6, "an affine transform has 6 values")
        self.values = values
    }

    public static let identity = Affine2D([1, 0, 0, 0, 1, 0])

    /// The inverse [A⁻¹ | −A⁻¹t], with |det A| clamped to `minDeterminant` as in the graph.
    public func inverted(minDeterminant: Float = 1e-3) -> Affine2D {
        let (a, b, e, c, d, f) = (values[0], values[1], values[2], values[3], values[4], values[5])
        let det = awayFromZero(a * d - b * c, atLeast: minDeterminant)
        return Affine2D([d / det, -b / det, (b * f - d * e) / det, -c / det, a / det, (c * e - a * f) / det])
    }

    /// `self ∘ other`: sample with `other` first, then `self` (the 3×3 product self·other).
    public func composed(with other: Affine2D) -> Affine2D {
        let (a, b, e, c, d, f) = (values[0], values[1], values[2], values[3], values[4], values[5])
        let o = other.values
        return Affine2D([
            a * o[0] + b * o[3], a * o[1] + b * o[4], a * o[2] + b * o[5] + e,
            c * o[0] + d * o[3], c * o[1] + d * o[4], c * o[2] + d * o[5] + f,
        ])
    }

    /// Moves content by (dx, dy) pixels (x right, y down) on a width×height image.
    public static func moving(dx: Double, dy: Double, width: Int, height: Int) -> Affine2D {
        Affine2D([1, 0, Float(-2 * dx / Double(width - 1)), 0, 1, Float(-2 * dy / Double(height - 1))])
    }

    /// Turns content counter-clockwise on screen by `degrees` about the image centre.
    public static func rotating(degrees: Double) -> Affine2D {
        let r = degrees * .pi / 180
        let (c, s) = (Float(cos(r)), Float(sin(r)))
        return Affine2D([c, -s, 0, s, c, 0])
    }

    /// Scales content by `factor` about the image centre.
    public static func scaling(_ factor: Double) -> Affine2D {
        let k = Float(1 / factor)
        return Affine2D([k, 0, 0, 0, k, 0])
    }
}

/// `value` with |value| raised to at least `floor`, its sign kept (0 counts as positive): the
/// determinant clamp of `Affine2D.inverted` and `ColourMatrix.inverted`, as in the graph.
func awayFromZero(_ value: Float, atLeast floor: Float) -> Float { value >= 0 ? max(value, floor) : min(value, -floor) }
