import CKernels
import Compiler

/// One class's weight gradient fused with its parameter's update (`Plan.Kernel.gradientUpdate`
/// of a `groupedMatmulWeightGrad`, or of a dense layer's `xᵀ·g` as one class of all the rows):
/// the class's `[k, cols]` slice of the gradient is made
/// `Plan.gradientRowBlock` rows at a time, and the update runs on each block while it is still in
/// cache, so neither the whole gradient nor a large block of it is ever written to memory
/// (scratch: `Plan.scratchElements`). Part r is the r-th of `runs` contiguous runs of blocks,
/// which the workers take as they go, each computing and updating its blocks: no result depends
/// on the thread count (every gradient element is one chain over the class's rows; the update is
/// element-wise).
struct ClassGradientUpdate: ParallelJob {
    /// The class's rows of the layer input, `[count, k]`, and the packed output gradient
    /// (`gauge_class_gradient_pack` of its `[count, cols]` rows), or for OpenBLAS the rows as
    /// they are.
    let inputs: UnsafePointer<Float>
    let gradients: UnsafePointer<Float>
    let count: Int, k: Int, cols: Int
    /// Where the class's slice starts in the full `[classes, k, cols]` gradient.
    let classStart: Int
    let rowBlock: Int
    let workers: Int
    /// True: the C kernel with AVX2 and FMA; false: one OpenBLAS call per block.
    let packed: Bool

    /// The layer's input gradient for the class's rows, `product[count, k] = g · wᵀ`, made a
    /// block of weight rows at a time (its columns `k0 ..< k0 + rows`) just before that block
    /// is updated: the weights are read from memory once for both.
    struct InputGradient {
        /// The class's output-gradient rows as they are, `[count, cols]`.
        let outputGradients: UnsafePointer<Float>
        /// The class's weights, `[k, cols]`, as they were before this update.
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
    let total: Int
    let blocks: UnsafeMutablePointer<Float>
    let temps: UnsafeMutablePointer<Float>, tempsPerWorker: Int

    /// Blocks of `rowBlock` rows in the class's slice, and the runs of them the workers take.
    var blockCount: Int { (k + rowBlock - 1) / rowBlock }
    var runs: Int { min(blockCount, workers * WorkerPool.partsPerWorker) }

    func run(part r: Int, worker w: Int) {
        let block = blocks + w * rowBlock * cols
        let ops = operands + w * operandCount
        let bias = biases + w * operandCount
        ops[slot] = UnsafePointer(block)
        var k0 = blockCount * r / runs * rowBlock
        let end = min(k, blockCount * (r + 1) / runs * rowBlock)
        while k0 < end {
            let rows = min(rowBlock, k - k0)
            if let d = inputGradient, count > 0 {
                // As the unfused product: Gauge's kernel with AVX2 and FMA (each output one sum
                // in a fixed order, so the same bits), OpenBLAS without.
                if GEMM.fewRowsProduct {
                    gauge_few_rows_product(
                        count, rows, cols, d.outputGradients, cols, d.weights + k0 * cols, cols, d.product + k0, k)
                } else {
                    GEMM.call(
                        transposeA: false, transposeB: true, m: count, n: rows, k: cols, d.outputGradients, lda: cols,
                        d.weights + k0 * cols, ldb: cols, d.product + k0, ldc: k)
                }
            }
            if count == 0 {
                block.update(repeating: 0, count: rows * cols)
            } else if packed {
                gauge_class_gradient(rows, cols, count, inputs + k0, k, gradients, block, cols)
            } else {
                GEMM.call(
                    transposeA: true, transposeB: false, m: rows, n: cols, k: count, inputs + k0, lda: k, gradients,
                    ldb: cols, block, ldc: cols)
            }
            let start = classStart + k0 * cols
            bias[slot] = start
            FusedKernel.run(
                program, inputs: UnsafeBufferPointer(start: ops, count: operandCount), inputCounts: inputCounts,
                outputs: outputs, count: total, temps: temps + w * tempsPerWorker, workers: 1,
                range: start..<(start + rows * cols), bias: UnsafeBufferPointer(start: bias, count: operandCount),
                adam: adam)
            k0 += rowBlock
        }
    }
}
