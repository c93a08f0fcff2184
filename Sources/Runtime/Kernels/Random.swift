#if canImport(Glibc)
    import Glibc
#endif
import CKernels
import Graph

/// Philox 4×32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
/// a counter-based generator, so element i of a random node depends only on (seed, step,
/// stream, i), never on thread count or evaluation order. The blocks are made by
/// `gauge_philox_uniforms` (`CKernels/Philox.c`, 8 at a time with AVX2).
struct Philox {
    var key: (UInt32, UInt32)

    init(seed: UInt64) { key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

    /// Fills `out` with the `n` uniforms in (0, 1) of elements `from…from+n−1` for (step,
    /// stream): block b of the counter (b, stream, step's low and high words) gives elements
    /// 4b…4b+3. Whole blocks go straight to `out`; a block cut by either end passes through four
    /// floats on the stack.
    func uniforms(step: UInt64, stream: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int, from: Int = 0) {
        let s = UInt32(truncatingIfNeeded: stream)
        let (t0, t1) = (UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32))
        func blocks(_ first: Int, _ count: Int, _ into: UnsafeMutablePointer<Float>) {
            gauge_philox_uniforms(key.0, key.1, s, t0, t1, UInt32(truncatingIfNeeded: first), count, into)
        }
        func part(_ element: Int, _ count: Int, _ into: UnsafeMutablePointer<Float>) {
            var four = (Float(0), Float(0), Float(0), Float(0))
            withUnsafeMutableBytes(of: &four) { raw in
                let block = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                blocks(element / 4, 1, block)
                into.update(from: block + element % 4, count: count)
            }
        }
        var i = 0
        if from % 4 != 0 && n > 0 {
            i = min(n, 4 - from % 4)
            part(from, i, out)
        }
        let whole = (n - i) / 4
        if whole > 0 { blocks((from + i) / 4, whole, out + i) }
        i += 4 * whole
        if i < n { part(from + i, n - i, out + i) }
    }
}

enum RandomKernels {
    /// The high bit of the 32-bit stream word, set on every random node's and dropout's stream:
    /// their uniforms never coincide with parameter initialisation's (parameter k draws stream k
    /// at step 0 without it). Data order and distortions use SplitMix64, not Philox.
    static let nodeStreams = 1 << 31

    static func fill(
        _ distribution: Distribution, seed: UInt64, step: UInt64, stream: Int, _ out: UnsafeMutablePointer<Float>,
        _ n: Int
    ) {
        let philox = Philox(seed: seed)
        switch distribution {
        case .uniform:
            philox.uniforms(step: step, stream: stream, out, n)
        case .laplace:
            // Inverse CDF, element-wise (PAPER.md §1.3): ln(2u) below ½, −ln(2 − 2u) above.
            philox.uniforms(step: step, stream: stream, out, n)
            for i in 0..<n {
                let u = out[i]
                out[i] = u < 0.5 ? logf(2 * u) : -logf(2 - 2 * u)
            }
        case .normal:
            // Box–Muller on pairs (2p, 2p+1) of the stream's uniforms, in place (no temporary as
            // large as the tensor); an odd count draws one more uniform for its last pair.
            philox.uniforms(step: step, stream: stream, out, n)
            var last: Float = 0
            if n % 2 == 1 {
                var pair: (Float, Float) = (0, 0)
                withUnsafeMutableBytes(of: &pair) { raw in
                    let two = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                    philox.uniforms(step: step, stream: stream, two, 2, from: n - 1)
                }
                last = pair.1
            }
            for p in 0..<((n + 1) / 2) {
                let u1 = out[2 * p]
                let u2 = 2 * p + 1 < n ? out[2 * p + 1] : last
                let r = sqrtf(-2 * logf(u1))
                let angle = 2 * Float.pi * u2
                out[2 * p] = r * cosf(angle)
                if 2 * p + 1 < n { out[2 * p + 1] = r * sinf(angle) }
            }
        }
    }

    /// Keeps each element with probability 1 − rate, scaled by 1 / (1 − rate); the mask is the
    /// stream's uniforms, so the gradient (same stream) applies the same mask.
    /// Large tensors are cut into runs of whole Philox blocks, one per worker: each element's
    /// draw depends only on its index, so the split changes no result.
    static func dropout(
        _ x: UnsafePointer<Float>, rate: Float, seed: UInt64, step: UInt64, stream: Int,
        _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        let parts = n >= FusedKernel.parallelThreshold ? Threads.count : 1
        WorkerPool.shared.run(
            parts: parts,
            Dropout(x: x, y: y, n: n, rate: rate, philox: Philox(seed: seed), step: step, stream: stream, parts: parts))
    }

    struct Dropout: ParallelJob {
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, n: Int
        let rate: Float
        let philox: Philox
        let step: UInt64, stream: Int
        let parts: Int

        func run(part w: Int, worker: Int) {
            let share = WorkerPool.share(w, of: parts, count: n, unit: 4)
            if share.isEmpty { return }
            philox.uniforms(step: step, stream: stream, y + share.lowerBound, share.count, from: share.lowerBound)
            let scale = 1 / (1 - rate)
            for i in share { y[i] = y[i] >= rate ? x[i] * scale : 0 }
        }
    }
}
