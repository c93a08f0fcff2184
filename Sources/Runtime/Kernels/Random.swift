#if canImport(Glibc)
    import Glibc
#endif
import Graph

/// Philox 4×32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
/// a counter-based generator, so element i of a random node depends only on (seed, step,
/// stream, i), never on thread count or evaluation order.
struct Philox {
    var key: (UInt32, UInt32)

    init(seed: UInt64) { key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

    @inline(__always)
    static func mulhilo(_ a: UInt32, _ b: UInt32) -> (UInt32, UInt32) {
        let p = UInt64(a) * UInt64(b)
        return (UInt32(truncatingIfNeeded: p >> 32), UInt32(truncatingIfNeeded: p))
    }

    /// Four random words for the counter (c0, c1, c2, c3).
    @inline(__always)
    func block(_ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = (c0, c1, c2, c3)
        var k = key
        for _ in 0..<10 {
            let (hi0, lo0) = Self.mulhilo(0xD251_1F53, c.0)
            let (hi1, lo1) = Self.mulhilo(0xCD9E_8D57, c.2)
            c = (hi1 ^ c.1 ^ k.0, lo1, hi0 ^ c.3 ^ k.1, lo0)
            k.0 &+= 0x9E37_79B9
            k.1 &+= 0xBB67_AE85
        }
        return c
    }

    /// Uniform in (0, 1): 24 random bits, offset by half a step so 0 and 1 never occur.
    @inline(__always)
    static func unit(_ word: UInt32) -> Float { (Float(word >> 8) + 0.5) * (1.0 / 16_777_216.0) }

    /// Fills `out` with the `n` uniforms of elements `from…from+n−1` for (step, stream): block b
    /// gives elements 4b…4b+3 (`from` must be even).
    func uniforms(step: UInt64, stream: Int, _ out: UnsafeMutablePointer<Float>, _ n: Int, from: Int = 0) {
        if from % 4 != 0 {
            // Start inside a block: draw it whole and keep the tail.
            var block = (Float(0), Float(0), Float(0), Float(0))
            withUnsafeMutableBytes(of: &block) { raw in
                let four = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                uniforms(step: step, stream: stream, four, 4, from: from - from % 4)
                for j in 0..<min(n, 4 - from % 4) { out[j] = four[from % 4 + j] }
            }
            let done = min(n, 4 - from % 4)
            if n > done { uniforms(step: step, stream: stream, out + done, n - done, from: from + done) }
            return
        }
        let s = UInt32(truncatingIfNeeded: stream)
        let (t0, t1) = (UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32))
        var i = 0
        var blockIndex = UInt32(truncatingIfNeeded: from / 4)
        while i < n {
            let r = block(blockIndex, s, t0, t1)
            out[i] = Self.unit(r.0)
            if i + 1 < n { out[i + 1] = Self.unit(r.1) }
            if i + 2 < n { out[i + 2] = Self.unit(r.2) }
            if i + 3 < n { out[i + 3] = Self.unit(r.3) }
            i += 4
            blockIndex &+= 1
        }
    }
}

enum RandomKernels {
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

        func run(part w: Int) {
            let blocks = (n + 3) / 4
            let start = min(n, blocks * w / parts * 4)
            let end = min(n, blocks * (w + 1) / parts * 4)
            if start >= end { return }
            philox.uniforms(step: step, stream: stream, y + start, end - start, from: start)
            let scale = 1 / (1 - rate)
            for i in start..<end { y[i] = y[i] >= rate ? x[i] * scale : 0 }
        }
    }
}
