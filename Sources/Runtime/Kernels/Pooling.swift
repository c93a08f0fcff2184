/// Max-pooling over `window × window` patches every `stride` pixels (no padding). Planes are
/// independent, so workers share them without changing any result.
enum Pooling {
    static func maxPool(
        _ x: UnsafePointer<Float>, _ shape: [Int], window: Int, stride: Int, _ y: UnsafeMutablePointer<Float>,
        _ outShape: [Int]
    ) {
        let (planes, h, w, oh, ow) = (shape[0] * shape[1], shape[2], shape[3], outShape[2], outShape[3])
        Convolution.parallel(
            planes, Plane(x: x, y: y, h: h, w: w, oh: oh, ow: ow, window: window, stride: stride))
    }

    /// Max-pools one plane.
    struct Plane: TaskJob {
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let h: Int, w: Int, oh: Int, ow: Int, window: Int, stride: Int
        func run(task p: Int, worker: Int) {
            let src = x + p * h * w
            let dst = y + p * oh * ow
            if window == 2 && stride == 2 {  // the common 2×2 pool, without the inner loops
                for oy in 0..<oh {
                    let (top, bottom, out) = (src + 2 * oy * w, src + (2 * oy + 1) * w, dst + oy * ow)
                    for ox in 0..<ow {
                        // The general loop's order exactly: ((((−∞ ∨ a) ∨ b) ∨ c) ∨ d).
                        out[ox] = max(max(max(max(-Float.infinity, top[2 * ox]), top[2 * ox + 1]), bottom[2 * ox]), bottom[2 * ox + 1])
                    }
                }
                return
            }
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var peak = -Float.infinity
                    for i in 0..<window {
                        let row = src + (oy * stride + i) * w + ox * stride
                        for j in 0..<window { peak = max(peak, row[j]) }
                    }
                    dst[oy * ow + ox] = peak
                }
            }
        }
    }

    /// Routes each output gradient to the first maximum of its window (found again from `x`).
    static func maxPoolGrad(
        _ x: UnsafePointer<Float>, _ shape: [Int], _ dy: UnsafePointer<Float>, _ dyShape: [Int], window: Int,
        stride: Int, _ dx: UnsafeMutablePointer<Float>
    ) {
        let (planes, h, w, oh, ow) = (shape[0] * shape[1], shape[2], shape[3], dyShape[2], dyShape[3])
        Convolution.parallel(
            planes, GradPlane(x: x, dy: dy, dx: dx, h: h, w: w, oh: oh, ow: ow, window: window, stride: stride))
    }

    /// Routes one plane's output gradients.
    struct GradPlane: TaskJob {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>
        let h: Int, w: Int, oh: Int, ow: Int, window: Int, stride: Int
        func run(task p: Int, worker: Int) {
            let src = x + p * h * w
            let dst = dx + p * h * w
            if window == 2 && stride == 2 && h == 2 * oh && w == 2 * ow {
                twoByTwo(src, dy + p * oh * ow, dst)
                return
            }
            dst.update(repeating: 0, count: h * w)
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var peak = -Float.infinity
                    var at = (oy * stride) * w + ox * stride
                    for i in 0..<window {
                        for j in 0..<window {
                            let k = (oy * stride + i) * w + ox * stride + j
                            if src[k] > peak {
                                peak = src[k]
                                at = k
                            }
                        }
                    }
                    dst[at] += dy[(p * oh + oy) * ow + ox]
                }
            }
        }

        /// Non-overlapping 2×2 windows tiling the plane: every pixel belongs to one window, so
        /// each is written once (its window's gradient or 0) without zeroing first, and the first
        /// maximum (in the general loop's order a, b, c, d) is chosen without branches: with
        /// random data a branch per comparison is mispredicted about half the time.
        @inline(__always)
        private func twoByTwo(_ src: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
            for oy in 0..<oh {
                let (top, bottom) = (src + 2 * oy * w, src + (2 * oy + 1) * w)
                let (outTop, outBottom) = (dst + 2 * oy * w, dst + (2 * oy + 1) * w)
                let grads = g + oy * ow
                for ox in 0..<ow {
                    let (a, b, c, d) = (top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1])
                    // Strict > keeps the earlier of equal values, as the general loop does.
                    var peak = max(-Float.infinity, a)
                    let takeB = b > peak
                    peak = takeB ? b : peak
                    let takeC = c > peak
                    peak = takeC ? c : peak
                    let takeD = d > peak
                    let value = grads[ox]
                    outTop[2 * ox] = !takeB && !takeC && !takeD ? value : 0
                    outTop[2 * ox + 1] = takeB && !takeC && !takeD ? value : 0
                    outBottom[2 * ox] = takeC && !takeD ? value : 0
                    outBottom[2 * ox + 1] = takeD ? value : 0
                }
            }
        }
    }
}
