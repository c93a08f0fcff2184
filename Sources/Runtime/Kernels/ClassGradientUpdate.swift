import CKernels
import Compiler

/// Every class's weight gradient fused with its parameter's update (`Plan.Kernel.gradientUpdate`
/// of a `groupedMatmulWeightGrad`, or of a dense layer's `xᵀ·g` as one class of all the rows):
/// each class's `[k, cols]` slice of the gradient is made `rowBlock` rows at a time,
/// and the update runs on each block while it is still in cache, so neither the whole gradient
/// nor a large block of it is ever written to memory (scratch: `Scratch`). Part p
/// is run `p mod runsPerClass` of class `p / runsPerClass`'s blocks, all classes in one job,
/// which the workers take as they go, each computing and updating its blocks: no result depends
/// on the thread count (every gradient element is one chain over the class's rows; the update is
/// element-wise).
struct ClassGradientUpdate: ParallelJob {
    /// The rows of the layer input, `[rows, k]` in class order (class c's from row
    /// `starts[c]` to `starts[c + 1]`), and the output gradient's rows in the same order, as
    /// they are and (with AVX2 and FMA) packed per class for `gauge_class_gradient` (class c's
    /// from `starts[c] · packedColumns`, where it has at most `mostPackedRows` rows).
    let inputs: UnsafePointer<Float>
    let gradients: UnsafePointer<Float>
    let packedGradients: UnsafePointer<Float>?
    let starts: UnsafePointer<Int>
    let classes: Int, k: Int, cols: Int
    let rowBlock: Int
    let workers: Int

    /// The layer's input gradient, `product[rows, k] = g · w[class]ᵀ` in class order, made a
    /// block of weight rows at a time (its columns `k0 ..< k0 + rows`) just before that block is
    /// updated: the weights are read from memory once for both.
    struct InputGradient {
        /// The output-gradient rows as they are, `[rows, cols]` in class order.
        let outputGradients: UnsafePointer<Float>
        /// The weights, `[classes, k, cols]`, as they were before this update.
        let weights: UnsafePointer<Float>
        let product: UnsafeMutablePointer<Float>
    }
    let inputGradient: InputGradient?

    /// The update: its program (or its Adam loop), and the operand lists. Worker w uses
    /// `operands + w · operandCount`, `biases + w · operandCount`, `blocks + w · rowBlock · cols`
    /// and `temps + w · tempsPerWorker`; entry `slot` of its operands is its block.
    let program: ElementwiseProgram
    let adam: AdamProgram?
    let inputCounts: [Int]
    let slot: Int
    let operandCount: Int
    let operands: UnsafeMutablePointer<UnsafePointer<Float>>
    let biases: UnsafeMutablePointer<Int>
    let outputs: UnsafeBufferPointer<UnsafeMutablePointer<Float>>
    let blocks: UnsafeMutablePointer<Float>
    let temps: UnsafeMutablePointer<Float>, tempsPerWorker: Int

    /// Blocks of `rowBlock` rows in a class's slice, the runs of them the workers take, and the
    /// job's parts.
    var blockCount: Int { (k + rowBlock - 1) / rowBlock }
    var runsPerClass: Int { WorkerPool.balancedParts(blockCount, workers: workers) }
    var parts: Int { classes * runsPerClass }

    func run(part p: Int, worker w: Int) {
        let (c, r) = (p / runsPerClass, p % runsPerClass)
        let (first, count) = (starts[c], starts[c + 1] - starts[c])
        let classInputs = inputs + first * k
        // The C kernel where the class's rows were packed, else one OpenBLAS call per block.
        let packed = count <= Self.mostPackedRows ? packedGradients.map { $0 + first * Self.packedColumns(cols) } : nil
        let classStart = c * k * cols
        let block = blocks + w * rowBlock * cols
        let ops = operands + w * operandCount
        let bias = biases + w * operandCount
        ops[slot] = UnsafePointer(block)
        let share = WorkerPool.share(r, of: runsPerClass, count: k, unit: rowBlock)
        var k0 = share.lowerBound
        while k0 < share.upperBound {
            let rows = min(rowBlock, k - k0)
            if let d = inputGradient, count > 0 {
                // As the unfused product: Gauge's kernel with AVX2 and FMA (each output one sum
                // in a fixed order, so the same bits), OpenBLAS without.
                let (g, weights, product) = (d.outputGradients + first * cols, d.weights + classStart, d.product + first * k)
                if GEMM.fewRowsProduct {
                    gauge_few_rows_product(count, rows, cols, g, cols, weights + k0 * cols, cols, product + k0, k)
                } else {
                    GEMM.call(
                        transposeA: false, transposeB: true, m: count, n: rows, k: cols, g, lda: cols,
                        weights + k0 * cols, ldb: cols, product + k0, ldc: k)
                }
            }
            if count == 0 {
                block.update(repeating: 0, count: rows * cols)
            } else if let packed {
                gauge_class_gradient(rows, cols, count, classInputs + k0, k, packed, block, cols)
            } else {
                GEMM.call(
                    transposeA: true, transposeB: false, m: rows, n: cols, k: count, classInputs + k0, lda: k,
                    gradients + first * cols, ldb: cols, block, ldc: cols)
            }
            let start = classStart + k0 * cols
            bias[slot] = start
            FusedKernel.run(
                program, inputs: UnsafeBufferPointer(start: ops, count: operandCount), inputCounts: inputCounts,
                outputs: outputs, count: classes * k * cols, temps: temps + w * tempsPerWorker, workers: 1,
                range: start..<(start + rows * cols), bias: UnsafeBufferPointer(start: bias, count: operandCount),
                adam: adam)
            k0 += rowBlock
        }
    }
}

/// The per-class weight gradient's operands, class by class among the workers (part c is class
/// c): its rows of the layer input and of the output gradient gathered in class order (class
/// c's from row `starts[c]`), and its output-gradient rows packed for `gauge_class_gradient`;
/// or, after the update, its rows of the input gradient put back in batch order.
struct ClassOperands: ParallelJob {
    enum Work {
        /// Gather (with `groups`; a dense layer's rows are used as they are) and pack.
        case gather(x: UnsafePointer<Float>, g: UnsafePointer<Float>, pack: Bool)
        /// `out[row] = product[starts[c] + r]` for the r-th row of class c.
        case scatter(product: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>)
    }
    let work: Work
    let groups: RowGroups?
    let starts: UnsafePointer<Int>
    let k: Int, cols: Int
    let gathered: UnsafeMutablePointer<Float>, gatheredG: UnsafeMutablePointer<Float>
    let packedG: UnsafeMutablePointer<Float>

    func run(part c: Int, worker: Int) {
        let (first, count) = (starts[c], starts[c + 1] - starts[c])
        switch work {
        case .gather(let x, let g, let pack):
            var classG = g + first * cols
            if let groups {
                groups.gather(c, from: x, width: k, into: gathered + first * k)
                groups.gather(c, from: g, width: cols, into: gatheredG + first * cols)
                classG = UnsafePointer(gatheredG + first * cols)
            }
            if pack && count > 0 && count <= ClassGradientUpdate.mostPackedRows {
                gauge_class_gradient_pack(count, cols, classG, cols, packedG + first * ClassGradientUpdate.packedColumns(cols))
            }
        case .scatter(let product, let out):
            guard let groups else { return }
            for (r, row) in groups.members(c).enumerated() {
                (out + row * k).update(from: product + (first + r) * k, count: k)
            }
        }
    }
}
