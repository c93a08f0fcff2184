import Foundation
import Graph

/// The spatial transformer's primitives: normalised coordinates in [−1, 1] (x right, y down);
/// with `alignCorners` −1 and 1 are the centres of the corner pixels, else their outer edges.
extension Reference {
    /// The normalised coordinate of pixel `i` along an axis of `size`.
    static func base(_ i: Int, _ size: Int, _ align: Bool) -> Double {
        align ? (size == 1 ? 0 : -1 + 2 * Double(i) / Double(size - 1)) : (2 * Double(i) + 1) / Double(size) - 1
    }

    /// The pixel position of normalised `x` along an axis of `size`, and d(position)/dx.
    static func pixel(_ x: Double, _ size: Int, _ align: Bool) -> (Double, Double) {
        align ? ((x + 1) / 2 * Double(size - 1), Double(size - 1) / 2) : (((x + 1) * Double(size) - 1) / 2, Double(size) / 2)
    }

    /// `grid[b, i, j] = θ[b] · (x_j, y_i, 1)`.
    static func affineGrid(_ theta: ReferenceTensor, _ h: Int, _ w: Int, _ align: Bool) -> ReferenceTensor {
        let batch = theta.dims[0]
        var out = ReferenceTensor(zeros: [batch, h, w, 2])
        for b in 0..<batch {
            let t = Array(theta.values[(b * 6)..<(b * 6 + 6)])
            for i in 0..<h {
                for j in 0..<w {
                    let (x, y) = (base(j, w, align), base(i, h, align))
                    out.values[((b * h + i) * w + j) * 2] = t[0] * x + t[1] * y + t[2]
                    out.values[((b * h + i) * w + j) * 2 + 1] = t[3] * x + t[4] * y + t[5]
                }
            }
        }
        return out
    }

    /// `dθ[b, r] = Σ_ij dgrid[b, i, j, r] · (x_j, y_i, 1)`.
    static func affineGridGrad(_ g: ReferenceTensor, _ align: Bool) -> ReferenceTensor {
        let (batch, h, w) = (g.dims[0], g.dims[1], g.dims[2])
        var out = ReferenceTensor(zeros: [batch, 2, 3])
        for b in 0..<batch {
            for i in 0..<h {
                for j in 0..<w {
                    let point = [base(j, w, align), base(i, h, align), 1]
                    for r in 0..<2 {
                        for k in 0..<3 { out.values[b * 6 + r * 3 + k] += g.values[((b * h + i) * w + j) * 2 + r] * point[k] }
                    }
                }
            }
        }
        return out
    }

    /// A sample point: its four corners (y, x) with bilinear weights, and the fractional parts
    /// and d(position)/d(coordinate); nil when a coordinate is not finite (the sample is NaN).
    struct Point {
        var corners: [(y: Int, x: Int, weight: Double)]
        var a: Double, b: Double, dx: Double, dy: Double
        var x0: Int, y0: Int

        init?(_ grid: ReferenceTensor, _ k: Int, _ h: Int, _ w: Int, _ align: Bool) {
            let (px, dx) = pixel(grid.values[2 * k], w, align)
            let (py, dy) = pixel(grid.values[2 * k + 1], h, align)
            guard px.isFinite, py.isFinite else { return nil }
            let (fx, fy) = (px.rounded(.down), py.rounded(.down))
            // Past any image (a diverged transform): every corner outside.
            (x0, y0) = Swift.abs(fx) < 1e9 && Swift.abs(fy) < 1e9 ? (Int(fx), Int(fy)) : (-2, -2)
            (a, b, self.dx, self.dy) = (px - fx, py - fy, dx, dy)
            corners = [(y0, x0, (1 - a) * (1 - b)), (y0, x0 + 1, a * (1 - b)), (y0 + 1, x0, (1 - a) * b), (y0 + 1, x0 + 1, a * b)]
        }

        /// The image value at a corner, 0 outside.
        static func value(_ image: ReferenceTensor, _ plane: Int, _ y: Int, _ x: Int) -> Double {
            let (h, w) = (image.dims[2], image.dims[3])
            return y >= 0 && y < h && x >= 0 && x < w ? image.values[(plane * h + y) * w + x] : 0
        }
    }

    /// Each channel of `image [B, C, H, W]` at the grid's points `[B, H', W', 2]`.
    static func bilinearSample(_ image: ReferenceTensor, _ grid: ReferenceTensor, _ align: Bool) -> ReferenceTensor {
        let (batch, c, h, w) = (image.dims[0], image.dims[1], image.dims[2], image.dims[3])
        let points = grid.dims[1] * grid.dims[2]
        var out = ReferenceTensor(zeros: [batch, c, grid.dims[1], grid.dims[2]])
        for b in 0..<batch {
            for p in 0..<points {
                let point = Point(grid, b * points + p, h, w, align)
                for channel in 0..<c {
                    out.values[(b * c + channel) * points + p] = point.map { point in
                        point.corners.reduce(0.0) { $0 + $1.weight * Point.value(image, b * c + channel, $1.y, $1.x) }
                    } ?? .nan
                }
            }
        }
        return out
    }

    /// `dimage`: each output gradient spread over its point's corners by their weights.
    static func bilinearSampleImageGrad(_ grid: ReferenceTensor, _ g: ReferenceTensor, _ align: Bool, _ h: Int, _ w: Int)
        -> ReferenceTensor
    {
        let (batch, c) = (g.dims[0], g.dims[1])
        let points = grid.dims[1] * grid.dims[2]
        var out = ReferenceTensor(zeros: [batch, c, h, w])
        for b in 0..<batch {
            for p in 0..<points {
                guard let point = Point(grid, b * points + p, h, w, align) else { continue }
                for channel in 0..<c {
                    for corner in point.corners where corner.y >= 0 && corner.y < h && corner.x >= 0 && corner.x < w {
                        out.values[((b * c + channel) * h + corner.y) * w + corner.x] +=
                            corner.weight * g.values[(b * c + channel) * points + p]
                    }
                }
            }
        }
        return out
    }

    /// `dgrid`: the output gradient times the sample's derivative along x and y.
    static func bilinearSampleGridGrad(_ image: ReferenceTensor, _ grid: ReferenceTensor, _ g: ReferenceTensor, _ align: Bool)
        -> ReferenceTensor
    {
        let (batch, c, h, w) = (image.dims[0], image.dims[1], image.dims[2], image.dims[3])
        let points = grid.dims[1] * grid.dims[2]
        var out = ReferenceTensor(zeros: grid.dims)
        for b in 0..<batch {
            for p in 0..<points {
                guard let point = Point(grid, b * points + p, h, w, align) else {
                    (out.values[2 * (b * points + p)], out.values[2 * (b * points + p) + 1]) = (.nan, .nan)
                    continue
                }
                for channel in 0..<c {
                    func v(_ dy: Int, _ dx: Int) -> Double { Point.value(image, b * c + channel, point.y0 + dy, point.x0 + dx) }
                    let d = g.values[(b * c + channel) * points + p]
                    let alongX = (1 - point.b) * (v(0, 1) - v(0, 0)) + point.b * (v(1, 1) - v(1, 0))
                    let alongY = (1 - point.a) * (v(1, 0) - v(0, 0)) + point.a * (v(1, 1) - v(0, 1))
                    out.values[2 * (b * points + p)] += d * alongX * point.dx
                    out.values[2 * (b * points + p) + 1] += d * alongY * point.dy
                }
            }
        }
        return out
    }
}
