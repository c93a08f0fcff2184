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
    }
}
