#if canImport(Glibc)
    import Glibc
#endif

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

    /// The four corners around a sample point and their bilinear weights.
    struct Corners {
        var x0: Int, y0: Int, a: Float, b: Float, dx: Float, dy: Float

        init(_ gx: Float, _ gy: Float, width: Int, height: Int, alignCorners: Bool) {
            let (px, sx) = pixel(gx, width, alignCorners)
            let (py, sy) = pixel(gy, height, alignCorners)
            let fx = floorf(px)
            let fy = floorf(py)
            x0 = Int(fx)
            y0 = Int(fy)
            a = px - fx
            b = py - fy
            dx = sx
            dy = sy
        }

        /// The four corner values of `plane` (h × w), 0 outside: (y0,x0), (y0,x0+1), (y0+1,x0), (y0+1,x0+1).
        @inline(__always)
        func values(_ plane: UnsafePointer<Float>, _ h: Int, _ w: Int) -> (Float, Float, Float, Float) {
            (at(plane, y0, x0, h, w), at(plane, y0, x0 + 1, h, w), at(plane, y0 + 1, x0, h, w), at(plane, y0 + 1, x0 + 1, h, w))
        }
    }

    /// Reads `plane[y, x]`, 0 outside.
    @inline(__always)
    static func at(_ plane: UnsafePointer<Float>, _ y: Int, _ x: Int, _ h: Int, _ w: Int) -> Float {
        y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : 0
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
            for p in 0..<(outH * outW) {
                let g = grid + (n * outH * outW + p) * 2
                let k = Corners(g[0], g[1], width: w, height: h, alignCorners: alignCorners)
                for c in 0..<channels {
                    let (v00, v01, v10, v11) = k.values(image! + (n * channels + c) * h * w, h, w)
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
                    @inline(__always) func add(_ y: Int, _ x: Int, _ weight: Float) {
                        if y >= 0 && y < h && x >= 0 && x < w { plane[y * w + x] += weight * gradient }
                    }
                    add(k.y0, k.x0, (1 - k.a) * (1 - k.b))
                    add(k.y0, k.x0 + 1, k.a * (1 - k.b))
                    add(k.y0 + 1, k.x0, (1 - k.a) * k.b)
                    add(k.y0 + 1, k.x0 + 1, k.a * k.b)
                }
            }
        }

        func gridGrad(_ n: Int) {
            for p in 0..<(outH * outW) {
                let g = grid + (n * outH * outW + p) * 2
                let k = Corners(g[0], g[1], width: w, height: h, alignCorners: alignCorners)
                var dpx: Float = 0
                var dpy: Float = 0
                for c in 0..<channels {
                    let (v00, v01, v10, v11) = k.values(image! + (n * channels + c) * h * w, h, w)
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
