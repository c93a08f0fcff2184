import CKernels
import Graph

/// Reductions over axes, log-softmax along an axis.
enum Reduce {
    static func reduce(
        _ r: Reduction, axes: [Int], _ x: UnsafePointer<Float>, _ xShape: [Int], _ out: UnsafeMutablePointer<Float>
    ) {
        // The output as the input shape with reduced axes set to 1; walk the input, accumulate.
        var kept = SmallInts(xShape)
        for axis in axes { kept[axis] = 1 }
        let outCount = kept.product
        let initial: Float = r == .max ? -Float.infinity : 0
        for i in 0..<outCount { out[i] = initial }
        var so = SmallInts(count: xShape.count)
        var step = 1
        for i in (0..<xShape.count).reversed() {
            so[i] = kept[i] == 1 ? 0 : step
            step *= kept[i]
        }
        let sx = broadcastStrides(xShape, to: xShape)
        let inner = xShape.last ?? 1
        let io = so.last ?? 0
        if r == .max {
            forEachRow(xShape, StrideSets(sx, so)) { o in
                for j in 0..<inner { out[o[1] + j * io] = Swift.max(out[o[1] + j * io], x[o[0] + j]) }
            }
        } else if io == 0 {
            // The trailing reduced axes are one contiguous run per output element (a bias
            // gradient's H·W): walk the axes before them and sum each run at once.
            var lead = xShape.count
            var run = 1
            while lead > 0 && kept[lead - 1] == 1 {
                lead -= 1
                run *= xShape[lead]
            }
            // Reduced lead axes all before the kept ones (a bias gradient's batch, then its
            // channels): x is [outer, channels, run] and channel blocks go to the workers.
            var (outer, channels, ordered) = (1, 1, true)
            for i in 0..<lead where xShape[i] > 1 {
                if kept[i] > 1 {
                    channels *= xShape[i]
                } else {
                    ordered = ordered && channels == 1
                    outer *= xShape[i]
                }
            }
            let large = xShape.reduce(1, *) >= 1 << 20
            if ordered {
                let workers = large ? Threads.count : 1
                let job = ChannelSums(x: x, out: out, outer: outer, channels: channels, run: run, workers: workers)
                WorkerPool.shared.run(parts: job.parts, workers: min(workers, job.parts), job)
            } else {
                var shape = SmallInts(count: lead + 1)
                var runStrides = SmallInts(count: lead + 1)
                var outStrides = SmallInts(count: lead + 1)
                for i in 0..<lead {
                    shape[i] = xShape[i]
                    runStrides[i] = sx[i]
                    outStrides[i] = so[i]
                }
                shape[lead] = run
                runStrides[lead] = 1
                let job = RunSums(
                    x: x, out: out, shape: shape, strides: StrideSets(runStrides, outStrides), run: run,
                    outputs: outCount)
                let workers = large ? min(Threads.count, outCount) : 1
                if workers > 1 { WorkerPool.shared.run(parts: workers, RunSums.Parts(sums: job, workers: workers)) } else { job.run(0..<outCount) }
            }
        } else {
            forEachRow(xShape, StrideSets(sx, so)) { o in
                for j in 0..<inner { out[o[1] + j * io] += x[o[0] + j] }
            }
        }
        if r == .mean {
            let count = Float(axes.reduce(1) { $0 * xShape[$1] })
            for i in 0..<outCount { out[i] /= count }
        }
    }

    /// `out[c] += Σ_n sum(x[n][c])` over x `[outer, channels, run]`: part p is a contiguous run of
    /// 4-channel blocks, all images in order (`gauge_run_sums`, the same chains as `sum`), so no
    /// output depends on the thread count.
    struct ChannelSums: ParallelJob {
        let x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
        let outer: Int, channels: Int, run: Int
        let parts: Int

        init(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, outer: Int, channels: Int, run: Int, workers: Int) {
            (self.x, self.out, self.outer, self.channels, self.run) = (x, out, outer, channels, run)
            parts = WorkerPool.balancedParts((channels + 3) / 4, workers: workers)
        }

        func run(part p: Int, worker: Int) {
            let share = WorkerPool.share(p, of: parts, count: channels, unit: 4)
            gauge_run_sums(outer, channels, run, x, share.lowerBound, share.upperBound, out)
        }
    }

    /// `out[o] += sum of each run` for the runs whose output o is in a range, in the rows' order,
    /// where kept and reduced lead axes interleave (`ChannelSums` takes the rest): each output is
    /// the same chain whichever worker makes it, so workers can split the outputs.
    struct RunSums {
        let x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
        let shape: SmallInts, strides: StrideSets
        let run: Int, outputs: Int

        func run(_ range: Range<Int>) {
            forEachRow(shape, strides) { o in
                if range.contains(o[1]) { out[o[1]] += sum(x + o[0], run) }
            }
        }

        struct Parts: ParallelJob {
            let sums: RunSums, workers: Int
            func run(part w: Int, worker: Int) { sums.run(WorkerPool.share(w, of: workers, count: sums.outputs)) }
        }
    }

    /// The sum of `count` floats as eight interleaved partial sums (lane j takes elements
    /// j, j + 8, …), then the lanes' total (`SIMD8.sum()`), then the tail in order: an order fixed
    /// by the count alone, with eight additions in flight instead of one chain.
    static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    static func logSoftmax(axis: Int, _ x: UnsafePointer<Float>, _ shape: [Int], _ y: UnsafeMutablePointer<Float>) {
        let outer = shape[..<axis].reduce(1, *)
        let size = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * size * inner + i
                var peak = -Float.infinity
                for k in 0..<size { peak = Swift.max(peak, x[base + k * inner]) }
                var total: Float = 0
                for k in 0..<size { total += expf(x[base + k * inner] - peak) }
                let shift = peak + logf(total)
                for k in 0..<size { y[base + k * inner] = x[base + k * inner] - shift }
            }
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
