import CKernels
import Compiler
import Graph

/// Convolutions (NCHW): forward, transposed (the input gradient), filter gradient; by im2col +
/// GEMM here, by Winograd's F(2×2, 3×3) (`Convolution+Winograd.swift`) or summed directly for
/// images with few channels (`Convolution+Direct.swift`) where those apply.
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
        walk(Gather.self, col, UnsafeMutablePointer(mutating: image))
    }

    /// The adjoint of `im2col`: image += scattered columns (image must start zeroed).
    func col2im(_ col: UnsafePointer<Float>, _ image: UnsafeMutablePointer<Float>) {
        walk(Scatter.self, UnsafeMutablePointer(mutating: col), image)
    }

    /// What `walk` does with each row segment of the im2col matrix.
    private protocol Move {
        /// `count` column elements and their pixels `stride` apart, all inside the image.
        static func inside(_ col: UnsafeMutablePointer<Float>, _ pixel: UnsafeMutablePointer<Float>, count: Int, stride: Int)
        /// `count` column elements whose pixels lie outside the image (padding).
        static func outside(_ col: UnsafeMutablePointer<Float>, count: Int)
    }

    private enum Gather: Move {
        static func inside(_ col: UnsafeMutablePointer<Float>, _ pixel: UnsafeMutablePointer<Float>, count: Int, stride: Int) {
            if stride == 1 {
                col.update(from: pixel, count: count)
            } else {
                for k in 0..<count { col[k] = pixel[k * stride] }
            }
        }
        static func outside(_ col: UnsafeMutablePointer<Float>, count: Int) { col.update(repeating: 0, count: count) }
    }

    private enum Scatter: Move {
        static func inside(_ col: UnsafeMutablePointer<Float>, _ pixel: UnsafeMutablePointer<Float>, count: Int, stride: Int) {
            if stride == 1 {
                for k in 0..<count { pixel[k] += col[k] }
            } else {
                for k in 0..<count { pixel[k * stride] += col[k] }
            }
        }
        static func outside(_ col: UnsafeMutablePointer<Float>, count: Int) {}
    }

    /// The output columns `lo ..< hi` whose pixel x = ox·stride + j − padLeft lies inside the image.
    func insideColumns(_ j: Int) -> (lo: Int, hi: Int) {
        let shift = j - padLeft
        let lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride
        let hi = shift >= width ? 0 : min(outW, (width - 1 - shift) / stride + 1)
        return (min(lo, hi), hi)
    }

    /// The one loop nest of im2col and col2im, specialised per `Move` (no closure, no dispatch):
    /// per row, the padded ends and one contiguous (or strided) run in between, with no bounds
    /// test per element.
    @inline(__always)
    private func walk<M: Move>(_: M.Type, _ col: UnsafeMutablePointer<Float>, _ image: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + ((c * kernelH + i) * kernelW + j) * columnCols
                    let (lo, hi) = insideColumns(j)
                    for oy in 0..<outH {
                        let y = oy * stride + i - padTop
                        let dst = row + oy * outW
                        if y < 0 || y >= height {
                            M.outside(dst, count: outW)
                            continue
                        }
                        let line = image + (c * height + y) * width
                        M.outside(dst, count: lo)
                        M.inside(dst + lo, line + lo * stride + j - padLeft, count: hi - lo, stride: stride)
                        M.outside(dst + hi, count: outW - hi)
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
    /// Per-class filters: image n uses the `filterSize` floats at `w + labels[n] · filterSize`
    /// (labels already checked against the class count). Nil: one filter for all images.
    var labels: UnsafePointer<Int32>? = nil
    var filterSize = 0

    /// The filter image `n` uses.
    func filter(_ n: Int) -> UnsafePointer<Float> {
        guard let labels else { return w }
        return w + Int(labels[n]) * filterSize
    }
}

/// Convolutions by im2col + GEMM, one image per task. Images are independent, so workers share
/// them freely; the filter gradient sums over images in `filterGradBlocks` fixed blocks whose
/// partial sums are added in a fixed order, so no result depends on the thread count.
enum Convolution {

    /// Runs `job` for every task, in `WorkerPool.partsPerWorker` contiguous runs of tasks per
    /// worker that the workers take as they go, so a slower core takes fewer. (Dealt
    /// round-robin, each worker's planes lay one plane apart, which defeats the hardware
    /// prefetcher: max-pool and its gradient took up to twice as long; `docs/kernels.md`.) With an `epilogue`, task t makes output elements from t · `perTask`, and each
    /// worker runs the epilogue on what its tasks made as it goes.
    static func parallel<J: TaskJob>(_ tasks: Int, _ job: J, epilogue: Epilogue? = nil, perTask: Int = 0) {
        let workers = max(1, min(Threads.count, maxWorkers, tasks))
        let runs = workers == 1 ? 1 : WorkerPool.balancedParts(tasks, workers: workers)
        let job = TaskRuns(job: job, tasks: tasks, runs: runs, epilogue: epilogue, perTask: perTask)
        WorkerPool.shared.run(parts: runs, workers: workers, job)
    }

    struct TaskRuns<J: TaskJob>: ParallelJob {
        let job: J
        let tasks: Int, runs: Int
        let epilogue: Epilogue?
        let perTask: Int
        func run(part r: Int, worker w: Int) {
            let run = WorkerPool.share(r, of: runs, count: tasks)
            guard let epilogue else {
                for t in run { job.run(task: t, worker: w) }
                return
            }
            epilogue.follow(job, tasks: run, perTask: perTask, worker: w)
        }
    }

    /// One image of the forward convolution: im2col, then one GEMM.
    struct Forward: TaskJob {
        let g: ConvGeometry, p: ConvPointers, out: Int
        func run(task n: Int, worker: Int) {
            let col = p.scratch + worker * g.columnRows * g.columnCols
            g.im2col(p.x + n * g.channels * g.height * g.width, col)
            GEMM.call(
                transposeA: false, transposeB: false, m: out, n: g.columnCols, k: g.columnRows, p.filter(n),
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
                transposeA: true, transposeB: false, m: g.columnRows, n: g.columnCols, k: channels, p.filter(n),
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
            let share = WorkerPool.share(b, of: blocks, count: images)
            for n in share {
                g.im2col(p.x + n * g.channels * g.height * g.width, col)
                GEMM.call(
                    transposeA: false, transposeB: true, m: out, n: g.columnRows, k: g.columnCols,
                    p.w + n * out * g.columnCols, lda: g.columnCols, col, ldb: g.columnCols,
                    beta: n == share.lowerBound ? 0 : 1, partial, ldc: g.columnRows)
            }
        }
    }

    /// One class's filter gradient: its images in index order, summed straight into its slice
    /// (zero when the class has no images in the batch).
    struct FilterGradClass: TaskJob {
        let g: ConvGeometry, p: ConvPointers, out: Int, filter: Int, groups: RowGroups
        func run(task c: Int, worker: Int) {
            let col = p.scratch + worker * g.columnRows * g.columnCols
            let slice = p.y + c * filter
            let images = groups.members(c)
            if images.isEmpty { slice.update(repeating: 0, count: filter) }
            for (k, n) in images.enumerated() {
                g.im2col(p.x + n * g.channels * g.height * g.width, col)
                GEMM.call(
                    transposeA: false, transposeB: true, m: out, n: g.columnRows, k: g.columnCols,
                    p.w + n * out * g.columnCols, lda: g.columnCols, col, ldb: g.columnCols,
                    beta: k == 0 ? 0 : 1, slice, ldc: g.columnRows)
            }
        }
    }

    /// `y [N, O, oh, ow] = conv(x [N, C, H, W], w [O, C, kh, kw])`; with `labels`, `w` holds one
    /// such filter per class and image n uses `w[labels[n]]`.
    static func forward(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ w: UnsafePointer<Float>, _ wShape: [Int], stride: Int,
        padding: Padding, labels: UnsafePointer<Int32>? = nil, _ y: UnsafeMutablePointer<Float>,
        scratch col: UnsafeMutablePointer<Float>, epilogue: Epilogue? = nil
    ) {
        let f = filterDims(wShape, grouped: labels != nil)
        let g = ConvGeometry(
            channels: xShape[1], height: xShape[2], width: xShape[3], kernelH: f.kh, kernelW: f.kw,
            stride: stride, padding: padding)
        if labels == nil,
            direct(
                x, channels: xShape[1], images: xShape[0], g, padding, w, outputs: f.first, transposedFilter: false, y,
                col, epilogue)
                || winograd(
                    x, channels: xShape[1], images: xShape[0], g, padding, w, outputs: f.first, transposedFilter: false,
                    y, col, epilogue)
        {
            return
        }
        let p = ConvPointers(x: x, w: w, y: y, scratch: col, labels: labels, filterSize: f.size)
        let out = f.first
        parallel(xShape[0], Forward(g: g, p: p, out: out), epilogue: epilogue, perTask: out * g.columnCols)
    }

    /// The adjoint of `forward` in its input: `x [N, C, h, w]` (the convolved side) with
    /// `w [C, O, kh, kw]` gives `y [N, O, H, W]`; `labels` as in `forward`.
    static func transposed(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ w: UnsafePointer<Float>, _ wShape: [Int], stride: Int,
        padding: Padding, height: Int, width: Int, labels: UnsafePointer<Int32>? = nil,
        _ y: UnsafeMutablePointer<Float>, scratch col: UnsafeMutablePointer<Float>, epilogue: Epilogue? = nil
    ) {
        let f = filterDims(wShape, grouped: labels != nil)
        let out = f.second
        let g = ConvGeometry(
            channels: out, height: height, width: width, kernelH: f.kh, kernelW: f.kw, stride: stride,
            padding: padding)
        let image = out * height * width
        let channels = xShape[1]
        if labels == nil,
            direct(
                x, channels: channels, images: xShape[0], g, padding, w, outputs: out, transposedFilter: true, y, col,
                epilogue)
                || winograd(
                    x, channels: channels, images: xShape[0], g, padding, w, outputs: out, transposedFilter: true, y,
                    col, epilogue)
        {
            return
        }
        let p = ConvPointers(x: x, w: w, y: y, scratch: col, labels: labels, filterSize: f.size)
        parallel(
            xShape[0], Transposed(g: g, p: p, image: image, channels: channels), epilogue: epilogue, perTask: image)
    }

    /// `dw [O, C, kh, kw] = Σ_n dy_n [O, oh·ow] · im2col(x_n)ᵀ`; with `groups` (images sorted by
    /// label), `dw [classes, O, C, kh, kw]` where class c sums over its own images.
    static func filterGrad(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ dy: UnsafePointer<Float>, _ dyShape: [Int], stride: Int,
        padding: Padding, kernelH: Int, kernelW: Int, groups: RowGroups? = nil, _ dw: UnsafeMutablePointer<Float>,
        scratch col: UnsafeMutablePointer<Float>
    ) {
        let g = ConvGeometry(
            channels: xShape[1], height: xShape[2], width: xShape[3], kernelH: kernelH, kernelW: kernelW,
            stride: stride, padding: padding)
        let out = dyShape[1]
        let filter = out * g.columnRows
        if groups == nil,
            directFilterGrad(x, images: xShape[0], channels: xShape[1], dy, outputs: out, g, padding, dw, scratch: col)
                || winogradFilterGrad(
                    x, images: xShape[0], channels: xShape[1], dy, outputs: out, g, padding, dw, scratch: col)
        {
            return
        }
        if let groups {
            let p = ConvPointers(x: x, w: dy, y: dw, scratch: col)
            parallel(groups.classes, FilterGradClass(g: g, p: p, out: out, filter: filter, groups: groups))
            return
        }
        let images = xShape[0]
        let blocks = min(filterGradBlocks, images)
        let partials = col + maxWorkers * g.columnRows * g.columnCols
        let p = ConvPointers(x: x, w: dy, y: partials, scratch: col)
        parallel(blocks, FilterGradBlock(g: g, p: p, out: out, filter: filter, images: images, blocks: blocks))
        addPartials(partials, blocks: blocks, size: filter, into: dw)
    }

    /// `into` = the sum of `blocks` partial sums of `size` floats, added in block order (no
    /// result depends on the thread count); `into` may be the first partial itself.
    static func addPartials(
        _ partials: UnsafeMutablePointer<Float>, blocks: Int, size: Int, into out: UnsafeMutablePointer<Float>
    ) {
        if out != partials { out.update(from: partials, count: size) }
        for b in 1..<max(blocks, 1) {
            let partial = partials + b * size
            for i in 0..<size { out[i] += partial[i] }
        }
    }

    /// One image's filter dims from a filter shape, `[a, b, kh, kw]` or per class `[classes, a, b, kh, kw]`.
    static func filterDims(_ shape: [Int], grouped: Bool) -> (first: Int, second: Int, kh: Int, kw: Int, size: Int) {
        let o = grouped ? 1 : 0  // indexed, not sliced: no array is made per step
        return (shape[o], shape[o + 1], shape[o + 2], shape[o + 3], shape[o] * shape[o + 1] * shape[o + 2] * shape[o + 3])
    }
}

/// One task of a parallel kernel, given the worker running it (for its scratch slice).
protocol TaskJob {
    func run(task: Int, worker: Int)
}
