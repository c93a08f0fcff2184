import CKernels
import Compiler
import Graph

extension Convolution {
    /// The convolution by Winograd's F(2×2, 3×3) (`CKernels/Winograd.c`) where `usesWinograd`
    /// allows it and the CPU has AVX2: the filters transformed once, then per image the input
    /// transform, 16 GEMMs [O, C]·[C, h·w/4] and the output transform, images shared among the
    /// workers (each image's arithmetic is the same on any worker). `transposedFilter`: `w` is the
    /// forward filter of the adjoint being computed. False (nothing done) where it does not apply.
    static func winograd(
        _ x: UnsafePointer<Float>, channels: Int, images: Int, _ g: ConvGeometry, _ padding: Padding,
        _ w: UnsafePointer<Float>, outputs: Int, transposedFilter: Bool, _ y: UnsafeMutablePointer<Float>,
        _ scratch: UnsafeMutablePointer<Float>, _ epilogue: Epilogue? = nil
    ) -> Bool {
        guard winogradCPU,
            usesWinograd(
                channels: channels, outputs: outputs, height: g.outH, width: g.outW, kernel: (g.kernelH, g.kernelW),
                stride: g.stride, padding: padding, perClass: false)
        else { return false }
        let perWorker = winogradWorkerFloats(channels: channels, outputs: outputs, height: g.outH, width: g.outW)
        let u = scratch + maxWorkers * perWorker
        gauge_winograd_filters(w, outputs, channels, transposedFilter ? 1 : 0, u)
        let group = winogradImages(height: g.outH, width: g.outW)
        parallel(
            (images + group - 1) / group,
            WinogradImages(
                x: x, u: u, y: y, scratch: scratch, images: images, group: group, channels: channels,
                outputs: outputs, h: g.outH, w: g.outW, perWorker: perWorker),
            epilogue: epilogue, perTask: group * outputs * g.outH * g.outW)
        return true
    }

    /// Images `task · group ..<` (up to `group`): their input transforms side by side, 16 GEMMs
    /// over all their blocks, their output transforms.
    struct WinogradImages: TaskJob {
        let x: UnsafePointer<Float>, u: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let scratch: UnsafeMutablePointer<Float>
        let images: Int, group: Int, channels: Int, outputs: Int, h: Int, w: Int, perWorker: Int

        func run(task: Int, worker: Int) {
            let perImage = h * w / 4
            let row = group * perImage
            let v = scratch + worker * perWorker
            let m = v + 16 * channels * row
            let padded = m + 16 * outputs * row
            let first = task * group
            let count = min(group, images - first)
            for k in 0..<count {
                gauge_winograd_input(x + (first + k) * channels * h * w, channels, h, w, v + k * perImage, row, padded)
            }
            for xi in 0..<16 {
                let (a, b, c) = (u + xi * outputs * channels, v + xi * channels * row, m + xi * outputs * row)
                if smallProducts && channels <= 128 {
                    gauge_small_product(outputs, count * perImage, channels, a, channels, b, row, c, row)
                } else {
                    GEMM.call(
                        transposeA: false, transposeB: false, m: outputs, n: count * perImage, k: channels, a,
                        lda: channels, b, ldb: row, c, ldc: row)
                }
            }
            for k in 0..<count {
                gauge_winograd_output(m + k * perImage, row, outputs, h, w, y + (first + k) * outputs * h * w)
            }
        }
    }

    static let winogradCPU = gauge_cpu_has_avx2() != 0
    /// Whether the 16 products of a group run by `gauge_small_product` (AVX2 and FMA) rather than
    /// OpenBLAS: with at most 128 input channels both operands stay in cache, and packing them
    /// costs OpenBLAS as much as the arithmetic (equal at 128 channels; `docs/kernels.md`).
    static let smallProducts = gauge_cpu_has_avx2_fma() != 0

    /// The filter gradient by Winograd: per image the input and output-gradient transforms, and
    /// per group of images (`winogradImages`) 16 GEMMs dU[ξ] += dM[ξ]·V[ξ]ᵀ into the
    /// partial sum of one of `filterGradBlocks` fixed blocks of images; the partials are added in
    /// order (no result depends on the thread count) and turned into dw once.
    static func winogradFilterGrad(
        _ x: UnsafePointer<Float>, images: Int, channels: Int, _ dy: UnsafePointer<Float>, outputs: Int,
        _ g: ConvGeometry, _ padding: Padding, _ dw: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        guard winogradCPU, images > 0,
            usesWinograd(
                channels: channels, outputs: outputs, height: g.height, width: g.width, kernel: (g.kernelH, g.kernelW),
                stride: g.stride, padding: padding, perClass: false)
        else { return false }
        let perWorker = winogradWorkerFloats(
            channels: channels, outputs: outputs, height: g.height, width: g.width)
        let partialSize = 16 * outputs * channels
        let partials = scratch + maxWorkers * perWorker
        let blocks = min(filterGradBlocks, images)
        parallel(
            blocks,
            WinogradFilterBlock(
                x: x, dy: dy, partials: partials, scratch: scratch, images: images, blocks: blocks, channels: channels,
                outputs: outputs, h: g.height, w: g.width, perWorker: perWorker))
        addPartials(partials, blocks: blocks, size: partialSize, into: partials)
        gauge_winograd_filter_gradient(partials, outputs, channels, dw)
        return true
    }

    struct WinogradFilterBlock: TaskJob {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>
        let partials: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        let images: Int, blocks: Int, channels: Int, outputs: Int, h: Int, w: Int, perWorker: Int

        func run(task b: Int, worker: Int) {
            let perImage = h * w / 4
            let group = winogradImages(height: h, width: w)
            let row = group * perImage
            let v = scratch + worker * perWorker
            let dm = v + 16 * channels * row
            let padded = dm + 16 * outputs * row
            let partial = partials + b * 16 * outputs * channels
            let share = WorkerPool.share(b, of: blocks, count: images)
            var n = share.lowerBound
            var first = true
            while n < share.upperBound {
                let count = min(group, share.upperBound - n)
                for k in 0..<count {
                    gauge_winograd_input(x + (n + k) * channels * h * w, channels, h, w, v + k * perImage, row, padded)
                    gauge_winograd_output_gradient(dy + (n + k) * outputs * h * w, outputs, h, w, dm + k * perImage, row)
                }
                for xi in 0..<16 {
                    GEMM.call(
                        transposeA: false, transposeB: true, m: outputs, n: channels, k: count * perImage,
                        dm + xi * outputs * row, lda: row, v + xi * channels * row, ldb: row, beta: first ? 0 : 1,
                        partial + xi * outputs * channels, ldc: channels)
                }
                first = false
                n += count
            }
        }
    }
}
