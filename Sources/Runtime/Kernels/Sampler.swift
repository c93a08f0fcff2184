#if canImport(Glibc)
    import Glibc
#endif
import CKernels

/// The spatial transformer's affine grid and bilinear sampler (PAPER.md §5), with gradients.
/// Coordinates are normalised to [−1, 1]; θ maps output → input; samples outside are 0.
enum Sampler {
    /// Normalised coordinate of pixel `i` of `size`.
    @inline(__always)
    static func base(_ i: Int, _ size: Int, _ alignCorners: Bool) -> Float {
        if alignCorners { return size == 1 ? 0 : -1 + 2 * Float(i) / Float(size - 1) }
        return (2 * Float(i) + 1) / Float(size) - 1
    }

    /// Pixel position of normalised `x` along an axis of `size`, and d(pixel)/d(x).
    @inline(__always)
    static func pixel(_ x: Float, _ size: Int, _ alignCorners: Bool) -> (Float, Float) {
        alignCorners
            ? ((x + 1) * 0.5 * Float(size - 1), 0.5 * Float(size - 1))
            : (((x + 1) * Float(size) - 1) * 0.5, 0.5 * Float(size))
    }

    static func affineGrid(
        _ theta: UnsafePointer<Float>, batch: Int, height: Int, width: Int, alignCorners: Bool,
        _ grid: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<batch {
            let t = theta + b * 6
            for i in 0..<height {
                let y = base(i, height, alignCorners)
                for j in 0..<width {
                    let x = base(j, width, alignCorners)
                    let g = grid + ((b * height + i) * width + j) * 2
                    g[0] = t[0] * x + t[1] * y + t[2]
                    g[1] = t[3] * x + t[4] * y + t[5]
                }
            }
        }
    }

    static func affineGridGrad(
        _ dgrid: UnsafePointer<Float>, batch: Int, height: Int, width: Int, alignCorners: Bool,
        _ dtheta: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<batch {
            var s: (Float, Float, Float, Float, Float, Float) = (0, 0, 0, 0, 0, 0)
            for i in 0..<height {
                let y = base(i, height, alignCorners)
                for j in 0..<width {
                    let x = base(j, width, alignCorners)
                    let g = dgrid + ((b * height + i) * width + j) * 2
                    s.0 += g[0] * x
                    s.1 += g[0] * y
                    s.2 += g[0]
                    s.3 += g[1] * x
                    s.4 += g[1] * y
                    s.5 += g[1]
                }
            }
            let t = dtheta + b * 6
            (t[0], t[1], t[2], t[3], t[4], t[5]) = s
        }
    }

    /// A floored pixel position as an index; a NaN, an infinity or a position past any image
    /// (a diverged transform) is −2, whose corners are all outside. Such a point then samples
    /// NaN where a coordinate is not finite (its weights are NaN, and NaN · 0 is NaN) and 0
    /// otherwise, rather than trapping here.
    @inline(__always)
    static func index(_ floored: Float) -> Int { Swift.abs(floored) < 1e9 ? Int(floored) : -2 }

    /// The four corners around a sample point, their bilinear weights and where they are in a
    /// plane: worked out once per point, so each channel reads its four values with no test of
    /// its own (a corner outside reads offset 0 and takes 0 instead).
    struct Corners {
        var a: Float, b: Float, dx: Float, dy: Float
        /// Offsets in an h × w plane of the corners (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1)
        /// for (x0, y0) the point's floor, 0 outside.
        var o00 = 0, o01 = 0, o10 = 0, o11 = 0
        var in00 = false, in01 = false, in10 = false, in11 = false

        init(_ gx: Float, _ gy: Float, width: Int, height: Int, alignCorners: Bool) {
            let (px, sx) = pixel(gx, width, alignCorners)
            let (py, sy) = pixel(gy, height, alignCorners)
            let fx = floorf(px)
            let fy = floorf(py)
            let (x0, y0) = (Sampler.index(fx), Sampler.index(fy))
            a = px - fx
            b = py - fy
            dx = sx
            dy = sy
            let (left, right) = (x0 >= 0 && x0 < width, x0 + 1 >= 0 && x0 + 1 < width)
            let (top, bottom) = (y0 >= 0 && y0 < height, y0 + 1 >= 0 && y0 + 1 < height)
            (in00, in01, in10, in11) = (top && left, top && right, bottom && left, bottom && right)
            let base = y0 &* width &+ x0
            o00 = in00 ? base : 0
            o01 = in01 ? base &+ 1 : 0
            o10 = in10 ? base &+ width : 0
            o11 = in11 ? base &+ width &+ 1 : 0
        }

        /// The four corner values of `plane`, 0 outside: (y0,x0), (y0,x0+1), (y0+1,x0), (y0+1,x0+1).
        @inline(__always)
        func values(_ plane: UnsafePointer<Float>) -> (Float, Float, Float, Float) {
            let (v00, v01, v10, v11) = (plane[o00], plane[o01], plane[o10], plane[o11])
            return (in00 ? v00 : 0, in01 ? v01 : 0, in10 ? v10 : 0, in11 ? v11 : 0)
        }
    }

    /// The sampler and its gradients, one image per task: images are independent, so workers
    /// share them with the same arithmetic per image as on one thread (the same bits).
    struct Images: TaskJob {
        enum Kind { case sample, imageGrad, gridGrad }
        let kind: Kind
        let image: UnsafePointer<Float>?, grid: UnsafePointer<Float>, dy: UnsafePointer<Float>?
        let out: UnsafeMutablePointer<Float>
        let channels: Int, h: Int, w: Int, outH: Int, outW: Int, alignCorners: Bool

        func run(task n: Int, worker: Int) {
            switch kind {
            case .sample: sample(n)
            case .imageGrad: imageGrad(n)
            case .gridGrad: gridGrad(n)
            }
        }

        func sample(_ n: Int) {
            let points = outH * outW
            // Whole groups of 8 points in C with AVX2 (the same arithmetic), the rest here.
            let done = gauge_bilinear_sample(
                image! + n * channels * h * w, channels, h, w, grid + n * points * 2, points, alignCorners ? 1 : 0,
                out + n * channels * points)
            for p in done..<points {
                let g = grid + (n * outH * outW + p) * 2
                let k = Corners(g[0], g[1], width: w, height: h, alignCorners: alignCorners)
                for c in 0..<channels {
                    let (v00, v01, v10, v11) = k.values(image! + (n * channels + c) * h * w)
                    out[(n * channels + c) * outH * outW + p] =
                        (1 - k.a) * (1 - k.b) * v00 + k.a * (1 - k.b) * v01 + (1 - k.a) * k.b * v10 + k.a * k.b * v11
                }
            }
        }

        func imageGrad(_ n: Int) {
            (out + n * channels * h * w).update(repeating: 0, count: channels * h * w)
            for p in 0..<(outH * outW) {
                let g = grid + (n * outH * outW + p) * 2
                let k = Corners(g[0], g[1], width: w, height: h, alignCorners: alignCorners)
                for c in 0..<channels {
                    let gradient = dy![(n * channels + c) * outH * outW + p]
                    let plane = out + (n * channels + c) * h * w
                    if k.in00 { plane[k.o00] += (1 - k.a) * (1 - k.b) * gradient }
                    if k.in01 { plane[k.o01] += k.a * (1 - k.b) * gradient }
                    if k.in10 { plane[k.o10] += (1 - k.a) * k.b * gradient }
                    if k.in11 { plane[k.o11] += k.a * k.b * gradient }
                }
            }
        }

        func gridGrad(_ n: Int) {
            let points = outH * outW
            let done = gauge_bilinear_grid_gradient(
                image! + n * channels * h * w, channels, h, w, grid + n * points * 2, dy! + n * channels * points, points,
                alignCorners ? 1 : 0, out + n * points * 2)
            for p in done..<points {
                let g = grid + (n * outH * outW + p) * 2
                let k = Corners(g[0], g[1], width: w, height: h, alignCorners: alignCorners)
                var dpx: Float = 0
                var dpy: Float = 0
                for c in 0..<channels {
                    let (v00, v01, v10, v11) = k.values(image! + (n * channels + c) * h * w)
                    let gradient = dy![(n * channels + c) * outH * outW + p]
                    dpx += gradient * ((1 - k.b) * (v01 - v00) + k.b * (v11 - v10))
                    dpy += gradient * ((1 - k.a) * (v10 - v00) + k.a * (v11 - v01))
                }
                out[(n * outH * outW + p) * 2] = dpx * k.dx
                out[(n * outH * outW + p) * 2 + 1] = dpy * k.dy
            }
        }
    }

    static func sample(
        _ image: UnsafePointer<Float>, _ shape: [Int], _ grid: UnsafePointer<Float>, outH: Int, outW: Int,
        alignCorners: Bool, _ out: UnsafeMutablePointer<Float>
    ) {
        Convolution.parallel(
            shape[0],
            Images(
                kind: .sample, image: image, grid: grid, dy: nil, out: out, channels: shape[1], h: shape[2], w: shape[3],
                outH: outH, outW: outW, alignCorners: alignCorners))
    }

    static func imageGrad(
        _ grid: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dyShape: [Int], height h: Int, width w: Int,
        alignCorners: Bool, _ dimage: UnsafeMutablePointer<Float>
    ) {
        Convolution.parallel(
            dyShape[0],
            Images(
                kind: .imageGrad, image: nil, grid: grid, dy: dy, out: dimage, channels: dyShape[1], h: h, w: w,
                outH: dyShape[2], outW: dyShape[3], alignCorners: alignCorners))
    }

    static func gridGrad(
        _ image: UnsafePointer<Float>, _ shape: [Int], _ grid: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
        outH: Int, outW: Int, alignCorners: Bool, _ dgrid: UnsafeMutablePointer<Float>
    ) {
        Convolution.parallel(
            shape[0],
            Images(
                kind: .gridGrad, image: image, grid: grid, dy: dy, out: dgrid, channels: shape[1], h: shape[2],
                w: shape[3], outH: outH, outW: outW, alignCorners: alignCorners))
    }
}
