import Foundation

/// A 3×3 colour matrix, row-major (output channel i = Σⱼ m_ij · input channel j) — the
/// host-side twin of the graph's `[batch, 9]` colour statistics, for building colour edits.
/// The edits are elements of SL(3, R) (determinant 1) built in the grey/chroma frame: the grey
/// axis u = (1, 1, 1)/√3 and the chroma plane orthogonal to it.
public struct ColourMatrix: Equatable, Sendable {
    public var values: [Float]

    /// The caller's contract (as for an array index): exactly 9 values.
    public init(_ values: [Float]) {
        precondition(values.count == 9, "a colour matrix has 9 values")
        self.values = values
    }

    public static let identity = ColourMatrix([1, 0, 0, 0, 1, 0, 0, 0, 1])

    public var determinant: Float {
        let m = values
        return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    }

    /// Adjugate / determinant, with |det| clamped to `minDeterminant` as the graph's `inverted3x3`.
    public func inverted(minDeterminant: Float = 1e-3) -> ColourMatrix {
        let m = values
        func minor(_ p: Int, _ q: Int, _ r: Int, _ s: Int) -> Float { m[p] * m[q] - m[r] * m[s] }
        let c = [minor(4, 8, 5, 7), minor(5, 6, 3, 8), minor(3, 7, 4, 6),
                 minor(2, 7, 1, 8), minor(0, 8, 2, 6), minor(1, 6, 0, 7),
                 minor(1, 5, 2, 4), minor(2, 3, 0, 5), minor(0, 4, 1, 3)]
        let det = awayFromZero(m[0] * c[0] + m[1] * c[1] + m[2] * c[2], atLeast: minDeterminant)
        return ColourMatrix([c[0], c[3], c[6], c[1], c[4], c[7], c[2], c[5], c[8]].map { $0 / det })
    }

    /// `self · other`: apply `other` first, then `self`.
    public func composed(with other: ColourMatrix) -> ColourMatrix {
        ColourMatrix((0..<9).map { k in
            let (i, j) = (k / 3, k % 3)
            return (0..<3).reduce(Float(0)) { $0 + values[i * 3 + $1] * other.values[$1 * 3 + j] }
        })
    }

    /// `grey`·P + `chroma`·(I − P) + `turn` about the grey axis, P = u·uᵀ the grey projection.
    static func greyChroma(grey: Double, chroma: Double, turnDegrees: Double = 0) -> ColourMatrix {
        let (c, s) = (cos(turnDegrees * .pi / 180), sin(turnDegrees * .pi / 180))
        let r = 1 / 3.0.squareRoot()
        let u = [r, r, r]
        // Rodrigues about u, scaled by `chroma` in the plane, plus `grey` along u.
        let cross = [[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]]
        return ColourMatrix((0..<9).map { k in
            let (i, j) = (k / 3, k % 3)
            let p = u[i] * u[j]
            let planar = c * ((i == j ? 1 : 0) - p) + s * cross[i][j]
            return Float(grey * p + chroma * planar)
        })
    }

    /// A hue turn: rotation by `degrees` about the grey axis (counter-clockwise looking down
    /// the axis from white), which keeps grey and saturation.
    public static func hueRotation(degrees: Double) -> ColourMatrix { greyChroma(grey: 1, chroma: 1, turnDegrees: degrees) }

    /// Saturation ×`factor` (the chroma plane scaled), with grey ×factor⁻² to keep det 1.
    public static func saturation(_ factor: Double) -> ColourMatrix { greyChroma(grey: 1 / (factor * factor), chroma: factor) }

    /// Brightness ×`factor` (the grey axis scaled), with chroma ×factor^−½ to keep det 1.
    public static func brightness(_ factor: Double) -> ColourMatrix { greyChroma(grey: factor, chroma: 1 / factor.squareRoot()) }
}

/// Colour measurements of an image `[3, H, W]` in the grey/chroma frame, clamped to [0, 1]
/// as it is shown: brightness = mean grey coordinate (projection on u), hue = the angle of the
/// mean chroma vector (degrees, in the plane basis (1, −1, 0)/√2, (1, 1, −2)/√6), saturation =
/// RMS chroma length.
public struct ColourMoments: Sendable {
    public let brightness: Double
    public let hueDegrees: Double
    public let saturation: Double

    public init(_ pixels: ArraySlice<Float>, height: Int, width: Int) {
        let n = height * width
        let base = pixels.startIndex
        var grey = 0.0, c1 = 0.0, c2 = 0.0, square = 0.0
        func shown(_ channel: Int, _ p: Int) -> Double { Double(min(max(pixels[base + channel * n + p], 0), 1)) }
        for p in 0..<n {
            let (r, g, b) = (shown(0, p), shown(1, p), shown(2, p))
            let x = (r - g) / 2.0.squareRoot()
            let y = (r + g - 2 * b) / 6.0.squareRoot()
            grey += (r + g + b) / 3.0.squareRoot()
            c1 += x
            c2 += y
            square += x * x + y * y
        }
        brightness = grey / Double(n)
        hueDegrees = atan2(c2, c1) * 180 / .pi
        saturation = (square / Double(n)).squareRoot()
    }

    /// `other`'s hue minus this one's, in (−180°, 180°].
    public func hueTurn(to other: ColourMoments) -> Double { Figures.wrapped(other.hueDegrees - hueDegrees) }
}
