import Compiler
import Graph

/// Convolutions by im2col + GEMM (NCHW): forward, transposed (the input gradient), filter gradient.
struct ConvGeometry {
    var channels: Int, height: Int, width: Int  // the large ("image") side
    var kernelH: Int, kernelW: Int, stride: Int
    var outH: Int, outW: Int  // the small ("convolved") side
    var padTop: Int, padLeft: Int

    init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Padding) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernelH, self.kernelW, self.stride) = (kernelH, kernelW, stride)
        outH = Op.windowOutputSize(height, kernel: kernelH, stride: stride, padding: padding)
        outW = Op.windowOutputSize(width, kernel: kernelW, stride: stride, padding: padding)
        padTop = padding == .same ? Op.samePaddingTotal(height, kernel: kernelH, stride: stride) / 2 : 0
        padLeft = padding == .same ? Op.samePaddingTotal(width, kernel: kernelW, stride: stride) / 2 : 0
    }

    var columnRows: Int { channels * kernelH * kernelW }
    var columnCols: Int { outH * outW }

    /// col[(c·kh + i)·kw + j][oy·outW + ox] = image[c, oy·s + i − padTop, ox·s + j − padLeft] (0 outside).
    func im2col(_ image: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + ((c * kernelH + i) * kernelW + j) * columnCols
                    for oy in 0..<outH {
                        let y = oy * stride + i - padTop
                        let dst = row + oy * outW
                        if y < 0 || y >= height {
                            dst.update(repeating: 0, count: outW)
                            continue
                        }
                        let src = image + (c * height + y) * width
                        for ox in 0..<outW {
                            let x = ox * stride + j - padLeft
                            dst[ox] = x >= 0 && x < width ? src[x] : 0
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: image += scattered columns (image must start zeroed).
    func col2im(_ col: UnsafePointer<Float>, _ image: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + ((c * kernelH + i) * kernelW + j) * columnCols
                    for oy in 0..<outH {
                        let y = oy * stride + i - padTop
                        if y < 0 || y >= height { continue }
                        let dst = image + (c * height + y) * width
                        let src = row + oy * outW
                        for ox in 0..<outW {
                            let x = ox * stride + j - padLeft
                            if x >= 0 && x < width { dst[x] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}

/// Scratch pointer handed to the workers of a convolution; each uses its own slice.
struct ConvPointers: @unchecked Sendable {
    let x: UnsafePointer<Float>
    let w: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
}

/// Convolutions by im2col + GEMM, one image per task. Images are independent, so workers share
/// them freely; the filter gradient sums over images in `filterGradBlocks` fixed blocks whose
/// partial sums are added in a fixed order, so no result depends on the thread count.
enum Convolution {
    /// Most workers a convolution uses (its scratch is sized for this many).
    static let maxWorkers = Plan.convWorkers
    static let filterGradBlocks = Plan.convFilterBlocks

    /// Runs `job` for every task, tasks dealt to workers round-robin.
    static func parallel<J: TaskJob>(_ tasks: Int, _ job: J) {
        let workers = min(Threads.count, maxWorkers, tasks)
        if workers <= 1 {
            for t in 0..<tasks { job.run(task: t, worker: 0) }
            return
        }
        WorkerPool.shared.run(parts: workers, RoundRobin(job: job, tasks: tasks, workers: workers))
    }

    struct RoundRobin<J: TaskJob>: ParallelJob {
        let job: J
        let tasks: Int, workers: Int
        func run(part w: Int) {
            var t = w
            while t < tasks {
                job.run(task: t, worker: w)
                t += workers
            }
        }
    }

    /// One image of the forward convolution: im2col, then one GEMM.
    struct Forward: TaskJob {
        let g: ConvGeometry, p: ConvPointers, out: Int
        func run(task n: Int, worker: Int) {
            let col = p.scratch + worker * g.columnRows * g.columnCols
            g.im2col(p.x + n * g.channels * g.height * g.width, col)
            GEMM.call(
                transposeA: false, transposeB: false, m: out, n: g.columnCols, k: g.columnRows, p.w,
                lda: g.columnRows, col, ldb: g.columnCols, p.y + n * out * g.columnCols, ldc: g.columnCols)
        }
    }

    /// One image of the transposed convolution: one GEMM, then col2im.
    struct Transposed: TaskJob {
        let g: ConvGeometry, p: ConvPointers, image: Int, channels: Int
        func run(task n: Int, worker: Int) {
            let col = p.scratch + worker * g.columnRows * g.columnCols
            // col [O·kh·kw, h·w] = wᵀ [O·kh·kw, C] · x_n [C, h·w]
            GEMM.call(
                transposeA: true, transposeB: false, m: g.columnRows, n: g.columnCols, k: channels, p.w,
                lda: g.columnRows, p.x + n * channels * g.columnCols, ldb: g.columnCols, col, ldc: g.columnCols)
            (p.y + n * image).update(repeating: 0, count: image)
            g.col2im(col, p.y + n * image)
        }
    }

    /// One block of images' filter-gradient partial sum.
    struct FilterGradBlock: TaskJob {
        let g: ConvGeometry, p: ConvPointers, out: Int, filter: Int, images: Int, blocks: Int
        func run(task b: Int, worker: Int) {
            let col = p.scratch + worker * g.columnRows * g.columnCols
            let partial = p.y + b * filter
            for n in (images * b / blocks)..<(images * (b + 1) / blocks) {
                g.im2col(p.x + n * g.channels * g.height * g.width, col)
                GEMM.call(
                    transposeA: false, transposeB: true, m: out, n: g.columnRows, k: g.columnCols,
                    p.w + n * out * g.columnCols, lda: g.columnCols, col, ldb: g.columnCols,
                    beta: n == images * b / blocks ? 0 : 1, partial, ldc: g.columnRows)
            }
        }
    }

    /// `y [N, O, oh, ow] = conv(x [N, C, H, W], w [O, C, kh, kw])`.
    static func forward(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ w: UnsafePointer<Float>, _ wShape: [Int], stride: Int,
        padding: Padding, _ y: UnsafeMutablePointer<Float>, scratch col: UnsafeMutablePointer<Float>
    ) {
        let g = ConvGeometry(
            channels: xShape[1], height: xShape[2], width: xShape[3], kernelH: wShape[2], kernelW: wShape[3],
            stride: stride, padding: padding)
        let p = ConvPointers(x: x, w: w, y: y, scratch: col)
        let out = wShape[0]
        parallel(xShape[0], Forward(g: g, p: p, out: out))
    }

    /// The adjoint of `forward` in its input: `x [N, C, h, w]` (the convolved side) with
    /// `w [C, O, kh, kw]` gives `y [N, O, H, W]`.
    static func transposed(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ w: UnsafePointer<Float>, _ wShape: [Int], stride: Int,
        padding: Padding, height: Int, width: Int, _ y: UnsafeMutablePointer<Float>,
        scratch col: UnsafeMutablePointer<Float>
    ) {
        let out = wShape[1]
        let g = ConvGeometry(
            channels: out, height: height, width: width, kernelH: wShape[2], kernelW: wShape[3], stride: stride,
            padding: padding)
        let image = out * height * width
        let channels = xShape[1]
        let p = ConvPointers(x: x, w: w, y: y, scratch: col)
        parallel(xShape[0], Transposed(g: g, p: p, image: image, channels: channels))
    }

    /// `dw [O, C, kh, kw] = Σ_n dy_n [O, oh·ow] · im2col(x_n)ᵀ`.
    static func filterGrad(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ dy: UnsafePointer<Float>, _ dyShape: [Int], stride: Int,
        padding: Padding, kernelH: Int, kernelW: Int, _ dw: UnsafeMutablePointer<Float>,
        scratch col: UnsafeMutablePointer<Float>
    ) {
        let g = ConvGeometry(
            channels: xShape[1], height: xShape[2], width: xShape[3], kernelH: kernelH, kernelW: kernelW,
            stride: stride, padding: padding)
        let out = dyShape[1]
        let filter = out * g.columnRows
        let images = xShape[0]
        let blocks = min(filterGradBlocks, images)
        let partials = col + maxWorkers * g.columnRows * g.columnCols
        let p = ConvPointers(x: x, w: dy, y: partials, scratch: col)
        parallel(blocks, FilterGradBlock(g: g, p: p, out: out, filter: filter, images: images, blocks: blocks))
        dw.update(from: partials, count: filter)
        for b in 1..<max(blocks, 1) {
            let partial = partials + b * filter
            for i in 0..<filter { dw[i] += partial[i] }
        }
    }
}

/// One task of a parallel kernel, given the worker running it (for its scratch slice).
protocol TaskJob {
    func run(task: Int, worker: Int)
}
