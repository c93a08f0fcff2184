import CKernels
import Compiler
import Graph

extension Convolution {
    /// The convolution summed directly (`CKernels/FewChannelConv.c`) where `usesDirect`
    /// allows it and the CPU has AVX2 and FMA: images shared among the workers, each made by one
    /// call whatever the worker. `transposedFilter`: `w` is the forward filter of the adjoint
    /// being computed, flipped first. False (nothing done) where it does not apply.
    static func direct(
        _ x: UnsafePointer<Float>, channels: Int, images: Int, _ g: ConvGeometry, _ padding: Padding,
        _ w: UnsafePointer<Float>, outputs: Int, transposedFilter: Bool, _ y: UnsafeMutablePointer<Float>,
        _ scratch: UnsafeMutablePointer<Float>, _ epilogue: Epilogue? = nil
    ) -> Bool {
        guard directCPU,
            usesDirect(
                imageChannels: transposedFilter ? outputs : channels, width: g.outW, kernel: (g.kernelH, g.kernelW),
                stride: g.stride, padding: padding, perClass: false)
        else { return false }
        let perWorker = directWorkerFloats(channels: channels, height: g.outH, width: g.outW)
        var filter = w
        if transposedFilter {
            let flipped = scratch + maxWorkers * perWorker
            gauge_few_channel_flip(w, channels, outputs, flipped)
            filter = UnsafePointer(flipped)
        }
        parallel(
            images,
            DirectImage(
                x: x, f: filter, y: y, scratch: scratch, channels: channels, outputs: outputs, h: g.outH, w: g.outW,
                perWorker: perWorker),
            epilogue: epilogue, perTask: outputs * g.outH * g.outW)
        return true
    }

    struct DirectImage: TaskJob {
        let x: UnsafePointer<Float>, f: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let scratch: UnsafeMutablePointer<Float>
        let channels: Int, outputs: Int, h: Int, w: Int, perWorker: Int

        func run(task n: Int, worker: Int) {
            gauge_few_channel_conv(
                x + n * channels * h * w, channels, h, w, f, outputs, y + n * outputs * h * w,
                scratch + worker * perWorker)
        }
    }

    /// The filter gradient summed directly where `direct` runs the convolution: per image into
    /// the partial sum of one of `filterGradBlocks` fixed blocks of images, added in order.
    static func directFilterGrad(
        _ x: UnsafePointer<Float>, images: Int, channels: Int, _ dy: UnsafePointer<Float>, outputs: Int,
        _ g: ConvGeometry, _ padding: Padding, _ dw: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) -> Bool {
        guard directCPU, images > 0,
            usesDirect(
                imageChannels: channels, width: g.width, kernel: (g.kernelH, g.kernelW), stride: g.stride,
                padding: padding, perClass: false)
        else { return false }
        let perWorker = directWorkerFloats(channels: channels, height: g.height, width: g.width)
        let filter = outputs * channels * 9
        let partials = scratch + maxWorkers * perWorker
        let blocks = min(filterGradBlocks, images)
        parallel(
            blocks,
            DirectFilterBlock(
                x: x, dy: dy, partials: partials, scratch: scratch, images: images, blocks: blocks, channels: channels,
                outputs: outputs, h: g.height, w: g.width, perWorker: perWorker))
        addPartials(partials, blocks: blocks, size: filter, into: dw)
        return true
    }

    struct DirectFilterBlock: TaskJob {
        let x: UnsafePointer<Float>, dy: UnsafePointer<Float>
        let partials: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        let images: Int, blocks: Int, channels: Int, outputs: Int, h: Int, w: Int, perWorker: Int

        func run(task b: Int, worker: Int) {
            let partial = partials + b * outputs * channels * 9
            partial.update(repeating: 0, count: outputs * channels * 9)
            for n in WorkerPool.share(b, of: blocks, count: images) {
                gauge_few_channel_filter_gradient(
                    x + n * channels * h * w, channels, h, w, dy + n * outputs * h * w, outputs, partial,
                    scratch + worker * perWorker)
            }
        }
    }

    static let directCPU = gauge_cpu_has_avx2_fma() != 0
}
