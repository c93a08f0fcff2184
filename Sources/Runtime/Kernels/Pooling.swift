import CKernels

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
            if window == 2 && stride == 2 {  // the common 2×2 pool: CKernels/MaxPool.c, same bits
                gauge_max_pool_2x2(src, w, dst, oh, ow)
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
        stride: Int, _ dx: UnsafeMutablePointer<Float>, epilogue: Epilogue? = nil
    ) {
        let (planes, h, w, oh, ow) = (shape[0] * shape[1], shape[2], shape[3], dyShape[2], dyShape[3])
        Convolution.parallel(
            planes, GradPlane(x: x, dy: dy, dx: dx, h: h, w: w, oh: oh, ow: ow, window: window, stride: stride),
            epilogue: epilogue, perTask: h * w)
    }

    /// Routes one plane's output gradients.
    struct GradPlane: TaskJob {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>
        let h: Int, w: Int, oh: Int, ow: Int, window: Int, stride: Int
        func run(task p: Int, worker: Int) {
            let src = x + p * h * w
            let dst = dx + p * h * w
            if window == 2 && stride == 2 && h == 2 * oh && w == 2 * ow {
                // Windows tile the plane: each pixel written once, 8 windows at a time, no branches.
                gauge_max_pool_2x2_grad(src, dy + p * oh * ow, dst, oh, ow)
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
    }
}
