import CBLAS
import CKernels
import Compiler

/// Matrix products through OpenBLAS (row-major `cblas_sgemm`).
///
/// Results must not depend on the thread count, and OpenBLAS's own threading changes rounding
/// (its partition moves edge micro-kernels). So OpenBLAS runs single-threaded, and a large GEMM
/// is cut into column blocks chosen from its shape alone, which `Threads.count` workers share:
/// every output element is computed by the same call whatever the thread count.

enum GEMM {
    /// About this many columns (or rows) per block when a GEMM is split; blocks depend only on
    /// the shape.
    static let blockColumns = 512
    /// GEMMs below this many multiply-adds run as one call.
    static let splitThreshold = 1 << 21

    /// `c = alpha · op(a) · op(b) + beta · c` with `op(a)` m×k and `op(b)` k×n, all row-major.
    ///
    /// Split along n into equal blocks of about `blockColumns` (at least two), or along m when n
    /// is narrow (a 128-unit layer, forward or weight gradient: both workers always have work,
    /// where column blocks left the SSN's [250, 16384]·[16384, 128] to one core) or when a is
    /// transposed with m ≥ n (a weight gradient such as the classifier's [8192, 700]: faster in
    /// row blocks). Measurements: `docs/kernels.md`.
    ///
    /// With an `epilogue` (c is then the whole m×n output, `ldc == n`), each block's worker runs
    /// the element-wise program on the block it has just made, while it is in cache: a row
    /// block at once, a column block row by row. The blocks are the same as without one, so the
    /// products are bit for bit the same.
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        _ c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue? = nil
    ) {
        let (byRows, blocks) = split(m: m, n: n, k: k, transposeA: transposeA)
        guard blocks > 1 else {
            call(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
            epilogue?.runAll()
            return
        }
        let job = Blocks(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
            ldb: ldb, beta: beta, c: c, ldc: ldc, byRows: byRows, blocks: blocks, epilogue: epilogue)
        WorkerPool.shared.run(parts: blocks, workers: min(Threads.count, blocks), job)
    }

    /// How `sgemm` cuts a product: by rows or by columns, into blocks chosen from its shape alone.
    static func split(m: Int, n: Int, k: Int, transposeA: Bool) -> (byRows: Bool, blocks: Int) {
        // A weight gradient (aᵀ·b, the batch inside) splits by its rows as well: each block then
        // packs a slice of a and the thin b, where column blocks each packed all of a.
        let byRows = (n < 256 && m >= 64) || (transposeA && m >= n)
        let extent = byRows ? m : n
        let blocks = extent < (byRows ? 64 : 256) ? 1 : max(2, (extent + blockColumns - 1) / blockColumns)
        return (byRows, m * n * k >= splitThreshold ? blocks : 1)
    }

    /// A split GEMM: part b is block b of rows or columns, block edges on multiples of 16 (whole
    /// micro-kernel tiles); the workers take blocks as they finish one.
    struct Blocks: ParallelJob {
        let transposeA: Bool, transposeB: Bool
        let m: Int, n: Int, k: Int
        let alpha: Float
        let a: UnsafePointer<Float>, lda: Int
        let b: UnsafePointer<Float>, ldb: Int
        let beta: Float
        let c: UnsafeMutablePointer<Float>, ldc: Int
        let byRows: Bool
        let blocks: Int
        var epilogue: Epilogue? = nil

        func edge(_ block: Int) -> Int {
            let extent = byRows ? m : n
            return block == blocks ? extent : extent * block / blocks / 16 * 16
        }

        func run(part block: Int, worker: Int) {
            let (start, end) = (edge(block), edge(block + 1))
            if byRows {
                call(
                    transposeA: transposeA, transposeB: transposeB, m: end - start, n: n, k: k, alpha: alpha,
                    transposeA ? a + start : a + start * lda, lda: lda, b, ldb: ldb, beta: beta, c + start * ldc,
                    ldc: ldc)
            } else {
                call(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: end - start, k: k, alpha: alpha, a,
                    lda: lda, transposeB ? b + start * ldb : b + start, ldb: ldb, beta: beta, c + start, ldc: ldc)
            }
            guard let epilogue else { return }
            if byRows {
                epilogue.run(start * ldc..<end * ldc, worker: worker)
            } else {
                for row in 0..<m { epilogue.run(row * ldc + start..<row * ldc + end, worker: worker) }
            }
        }
    }

    /// One `cblas_sgemm` call.
    static func call(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        gauge_blas_enter()
        defer { gauge_blas_leave() }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The `matmul` primitive on row-major operands with their stored shapes.
    static func matmul(
        _ a: UnsafePointer<Float>, _ aShape: [Int], _ b: UnsafePointer<Float>, _ bShape: [Int], transposeA: Bool,
        transposeB: Bool, _ c: UnsafeMutablePointer<Float>, epilogue: Epilogue? = nil
    ) {
        let m = transposeA ? aShape[1] : aShape[0]
        let k = transposeA ? aShape[0] : aShape[1]
        let n = transposeB ? bShape[0] : bShape[1]
        sgemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a, lda: aShape[1], b, ldb: bShape[1],
            c, ldc: n, epilogue: epilogue)
    }

    /// `y[b] = x[b] · w[labels[b]]` (or `· w[labels[b]]ᵀ`): one GEMM per class over its rows,
    /// padded with zero rows to `paddedGroupRows` (each row's result is its own: the padding
    /// only changes which OpenBLAS micro-kernel runs), cut into blocks as `sgemm` would cut it.
    /// Three jobs: the classes' rows gathered, every block of every class's GEMM, the rows put
    /// back (so the workers balance over all classes at once, not one class at a time). With
    /// `transposeWeights` (the input gradient of a per-class layer) and AVX2 and FMA, each class's
    /// product is `gauge_few_rows_product` instead, its weight rows cut into runs of whole 4-row
    /// tiles (each output is made by one call whatever the cut).
    static func groupedMatmul(
        _ x: UnsafePointer<Float>, rows: Int, k: Int, _ w: UnsafePointer<Float>, classes: Int, n: Int,
        transposeWeights: Bool, groups: RowGroups, _ y: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let fewRows = transposeWeights && fewRowsProduct
        var most = 1
        if fewRows {
            most = WorkerPool.balancedParts((n + 3) / 4, workers: Threads.count)
        } else {
            for c in 0..<groups.classes {
                let padded = paddedGroupRows(groups.members(c).count)
                most = max(most, split(m: padded, n: n, k: k, transposeA: false).blocks)
            }
        }
        let workers = min(Threads.count, groups.classes * most)
        var job = ClassProducts(
            phase: .gather, x: x, w: w, y: y, px: scratch, py: scratch + (rows + 3 * groups.classes) * k, k: k, n: n,
            transposeWeights: transposeWeights, fewRows: fewRows, groups: groups, blocksPerClass: most)
        WorkerPool.shared.run(parts: groups.classes, workers: workers, job)
        job.phase = .product
        WorkerPool.shared.run(parts: groups.classes * most, workers: workers, job)
        job.phase = .scatter
        WorkerPool.shared.run(parts: groups.classes, workers: workers, job)
    }

    /// The phases of `groupedMatmul`. Class c's rows, padded with zero rows to a multiple of 4,
    /// are rows `starts[c] + 3c …` of `px` (inputs) and `py` (results). Gathering and putting
    /// back, part c is class c; in the product, part `c · blocksPerClass + b` is block b of class
    /// c's GEMM (nothing where its GEMM has fewer blocks), or with `fewRows` its b-th run of
    /// weight-row tiles.
    struct ClassProducts: ParallelJob {
        enum Phase { case gather, product, scatter }
        var phase: Phase
        let x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let px: UnsafeMutablePointer<Float>, py: UnsafeMutablePointer<Float>
        let k: Int, n: Int
        let transposeWeights: Bool, fewRows: Bool
        let groups: RowGroups
        let blocksPerClass: Int

        func run(part: Int, worker: Int) {
            let c = phase == .product ? part / blocksPerClass : part
            let members = groups.members(c)
            if members.isEmpty { return }
            let first = groups.classStarts[c] + 3 * c
            let padded = paddedGroupRows(members.count)
            switch phase {
            case .gather:
                groups.gather(c, from: x, width: k, into: px + first * k)
                // Zero rows up to a multiple of 4: OpenBLAS then needs no edge pass over the weights.
                (px + (first + members.count) * k).update(repeating: 0, count: (padded - members.count) * k)
            case .product:
                let b = part % blocksPerClass
                if fewRows {
                    let share = WorkerPool.share(b, of: blocksPerClass, count: n, unit: 4)
                    if !share.isEmpty {
                        gauge_few_rows_product(
                            members.count, share.count, k, px + first * k, k, w + c * k * n + share.lowerBound * k, k,
                            py + first * n + share.lowerBound, n)
                    }
                    return
                }
                let (byRows, blocks) = split(m: padded, n: n, k: k, transposeA: false)
                guard b < blocks else { return }
                let gemm = Blocks(
                    transposeA: false, transposeB: transposeWeights, m: padded, n: n, k: k, alpha: 1, a: px + first * k,
                    lda: k, b: w + c * k * n, ldb: transposeWeights ? k : n, beta: 0, c: py + first * n, ldc: n,
                    byRows: byRows, blocks: blocks)
                gemm.run(part: b, worker: worker)
            case .scatter:
                for (r, row) in members.enumerated() { (y + row * n).update(from: py + (first + r) * n, count: n) }
            }
        }
    }

    /// Rows of one class in a `groupedMatmul` GEMM: its rows and zero rows up to a multiple of 4.
    /// OpenBLAS's kernels take a product's short side 4 at a time; with 25 rows (a class's share
    /// of a batch of 250) the 25th row costs an extra pass over the weights (`docs/kernels.md`).
    static func paddedGroupRows(_ rows: Int) -> Int { (rows + 3) / 4 * 4 }

    /// Scratch floats of `groupedMatmul`: every class's rows of x and of y, each class padded by
    /// up to 3 zero rows.
    static func groupedScratchFloats(rows: Int, classes: Int, k: Int, n: Int) -> Int { (rows + 3 * classes) * (k + n) }

    /// Scratch floats of `groupedWeightGrad`: one class's rows of a and of g (at most all rows).
    static func groupedWeightGradScratchFloats(rows: Int, k: Int, n: Int) -> Int { rows * (k + n) }

    /// Whether `gauge_few_rows_product` can run here (AVX2 and FMA).
    static let fewRowsProduct = gauge_cpu_has_avx2_fma() != 0

    /// `out[c] = Σ_{b in class c} a[b]ᵀ · g[b]`: `[classes, k, n]`, zero for classes with no rows.
    static func groupedWeightGrad(
        _ a: UnsafePointer<Float>, k: Int, _ g: UnsafePointer<Float>, n: Int, groups: RowGroups,
        _ out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        var largest = 0
        for c in 0..<groups.classes { largest = max(largest, groups.members(c).count) }
        let pa = scratch
        let pg = scratch + largest * k
        for c in 0..<groups.classes {
            let members = groups.members(c)
            let dst = out + c * k * n
            guard !members.isEmpty else {
                dst.update(repeating: 0, count: k * n)
                continue
            }
            groups.gather(c, from: a, width: k, into: pa)
            groups.gather(c, from: g, width: n, into: pg)
            sgemm(transposeA: true, transposeB: false, m: k, n: n, k: members.count, pa, lda: k, pg, ldb: n, dst, ldc: n)
        }
    }
}

/// Rows of a batch grouped by class label, in memory made once (no allocation per step):
/// class c's rows, in batch order, are `order[starts[c]..<starts[c + 1]]`.
struct RowGroups {
    let capacity: Int
    let classCapacity: Int
    private(set) var classes = 0
    private let order: UnsafeMutablePointer<Int>
    private let starts: UnsafeMutablePointer<Int>

    init(rows: Int, classes: Int) {
        capacity = max(rows, 1)
        classCapacity = max(classes, 1)
        order = .allocate(capacity: capacity)
        starts = .allocate(capacity: classCapacity + 1)
    }

    func deallocate() {
        order.deallocate()
        starts.deallocate()
    }

    /// Where each class's rows start in class order (`classes + 1` entries, the last the count).
    var classStarts: UnsafePointer<Int> { UnsafePointer(starts) }

    /// Class `c`'s rows.
    func members(_ c: Int) -> UnsafeBufferPointer<Int> {
        UnsafeBufferPointer(start: order + starts[c], count: starts[c + 1] - starts[c])
    }

    /// Copies class `c`'s rows of `source` (rows of `width` floats) one after another into `out`.
    func gather(_ c: Int, from source: UnsafePointer<Float>, width: Int, into out: UnsafeMutablePointer<Float>) {
        for (r, row) in members(c).enumerated() { (out + r * width).update(from: source + row * width, count: width) }
    }

    /// Sorts `count` rows by `labels` into `classes` groups; false if a label is out of range.
    mutating func fill(_ labels: UnsafePointer<Int32>, count: Int, classes: Int) -> Bool {
        // Invariant: the executor makes each RowGroups for its plan's batch and its node's class
        // count, and calls this with those; labels themselves are checked below.
        precondition(count <= capacity && classes <= classCapacity)
        self.classes = classes
        starts.update(repeating: 0, count: classes + 1)
        for i in 0..<count {
            let c = Int(labels[i])
            guard c >= 0 && c < classes else { return false }
            starts[c + 1] += 1
        }
        for c in 0..<classes { starts[c + 1] += starts[c] }
        // Place rows using starts as cursors, then shift the cursors back.
        for i in 0..<count {
            let c = Int(labels[i])
            order[starts[c]] = i
            starts[c] += 1
        }
        for c in stride(from: classes, to: 0, by: -1) { starts[c] = starts[c - 1] }
        starts[0] = 0
        return true
    }
}
