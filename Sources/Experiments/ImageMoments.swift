import Foundation

/// Intensity moments of an image (channels averaged), to measure where an object is, how it
/// is turned and how large it is: centre of mass (pixels, x right, y down), principal-axis
/// angle (degrees, counter-clockwise on screen, modulo 180°) and spread (RMS radius, pixels).
public struct ImageMoments: Sendable {
    public let centreX: Double
    public let centreY: Double
    public let angleDegrees: Double
    public let spread: Double
    public let mass: Double

    /// Moments of `pixels`, laid out [channels, height, width].
    public init(_ pixels: ArraySlice<Float>, channels: Int, height: Int, width: Int) {
        var gray = [Double](repeating: 0, count: height * width)
        for (k, v) in pixels.enumerated() { gray[k % (height * width)] += Double(v) / Double(channels) }
        var m = 0.0, sx = 0.0, sy = 0.0
        for y in 0..<height {
            for x in 0..<width {
                let v = gray[y * width + x]
                m += v
                sx += v * Double(x)
                sy += v * Double(y)
            }
        }
        let (cx, cy) = m > 0 ? (sx / m, sy / m) : (Double(width - 1) / 2, Double(height - 1) / 2)
        var mxx = 0.0, myy = 0.0, mxy = 0.0
        for y in 0..<height {
            for x in 0..<width {
                let v = gray[y * width + x]
                let (u, w) = (Double(x) - cx, Double(y) - cy)
                mxx += v * u * u
                myy += v * w * w
                mxy += v * u * w
            }
        }
        mass = m
        centreX = cx
        centreY = cy
        // y grows downwards, so −mxy is the covariance in the on-screen (y up) frame.
        angleDegrees = m > 0 ? 0.5 * atan2(-2 * mxy, mxx - myy) * 180 / .pi : 0
        spread = m > 0 ? ((mxx + myy) / m).squareRoot() : 0
    }

    /// `other`'s principal-axis angle minus this one's, wrapped into (−90°, 90°].
    public func rotation(to other: ImageMoments) -> Double { Figures.wrapped(other.angleDegrees - angleDegrees, period: 180) }
}
