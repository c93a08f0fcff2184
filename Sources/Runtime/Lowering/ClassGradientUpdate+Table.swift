import CKernels

/// The gradient-with-update family's table (`Plan.Kernel.gradientUpdate`): its constants, the
/// ones it shares with `CKernels/ClassWeightGradient.c` read from the header, and where its
/// operands live in the executor's scratch.
extension ClassGradientUpdate {
    /// Most workers the kernel uses (its scratch holds one block of gradient rows per worker).
    static let maxWorkers = 8

    /// Most rows of a class (the gradient's inner dimension) `gauge_class_gradient` sums with
    /// vectors; a class with more is made by OpenBLAS, a block at a time.
    static let mostPackedRows = Int(GAUGE_CLASS_GRADIENT_MOST_K)

    /// Floats of one packed output-gradient row: `n` rounded up to whole strips, as the C
    /// kernel packs it.
    static func packedColumns(_ n: Int) -> Int { gauge_class_gradient_packed_size(1, n) }

    /// Rows of a class's weight gradient made at a time before its update runs on them: 12 rows
    /// of a 3,072-wide layer are 144 KiB, which stay in a core's L2 until the update reads them.
    static func rowBlock(_ rows: Int) -> Int { min(rows, 12) }

    /// Offsets (in floats) of the kernel's operands in scratch, for `rows` rows of a layer of
    /// `k` inputs and `cols` outputs: every class's rows of the layer input and of the output
    /// gradient gathered in class order, the output gradient packed, each worker's block of
    /// gradient rows, and (where the kernel makes it) the input gradient in class order.
    struct Scratch {
        let gathered: Int, gatheredGradients: Int, packedGradients: Int, blocks: Int, inputGradient: Int
        /// Floats of scratch it needs.
        let floats: Int

        init(rows: Int, k: Int, cols: Int, makesInputGradient: Bool) {
            gathered = 0
            gatheredGradients = rows * k
            packedGradients = gatheredGradients + rows * cols
            blocks = packedGradients + rows * ClassGradientUpdate.packedColumns(cols)
            inputGradient = blocks + ClassGradientUpdate.maxWorkers * ClassGradientUpdate.rowBlock(k) * cols
            floats = inputGradient + (makesInputGradient ? rows * k : 0)
        }
    }
}
