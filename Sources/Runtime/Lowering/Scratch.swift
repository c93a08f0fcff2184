import Compiler
import Graph

/// The scratch memory of a plan's kernels (im2col columns, Winograd transforms, gathered and
/// packed rows), sized by the family that runs each kernel: the executor allocates the largest
/// once. The compiler plans buffers; which kernel runs a primitive, and what it needs besides
/// its operands, is decided here.
enum Scratch {
    /// Floats for the plan's hungriest kernel.
    static func floats(for plan: Plan) -> Int { plan.instructions.map(floats(for:)).max() ?? 0 }

    static func floats(for i: Plan.Instruction) -> Int {
        switch i.kernel {
        case .primitive(let op): return floats(for: op, i.inputShapes, output: i.outputShape)
        case .epilogue(let op, let operands, _, _):
            return floats(for: op, Array(i.inputShapes.prefix(operands)), output: i.outputShape)
        case .fused: return 0
        case .gradientUpdate(_, _, _, let weights):
            // A dense layer's gradient is one class of all the rows.
            let s = i.inputShapes
            return ClassGradientUpdate.Scratch(rows: s[0][0], k: s[0][1], cols: s[1][1], makesInputGradient: weights != nil)
                .floats
        }
    }

    /// Floats for one primitive, given its operands' shapes and its output's.
    static func floats(for op: Op, _ s: [[Int]], output: [Int]) -> Int {
        switch op {
        case .conv2d(let stride, let padding, let classes):
            return Convolution.scratchFloats(stride: stride, padding: padding, classes: classes, s)
        case .transposedConv2d(let stride, let padding, _, _, let classes):
            return Convolution.transposedScratchFloats(stride: stride, padding: padding, classes: classes, s)
        case .conv2dFilterGrad(let stride, let padding, let kh, let kw, let classes):
            return Convolution.filterGradScratchFloats(
                stride: stride, padding: padding, kernel: (kh, kw), classes: classes, s, filter: output.reduce(1, *))
        case .groupedMatmul:
            return GEMM.groupedScratchFloats(rows: s[0][0], classes: s[1][0], k: s[0][1], n: output[1])
        case .groupedMatmulWeightGrad:
            return GEMM.groupedWeightGradScratchFloats(rows: s[0][0], k: s[0][1], n: s[1][1])
        case .input, .parameter, .variable, .constant, .matmul, .unary, .binary, .compare, .select, .reduce, .reshape,
            .transpose, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax, .maxPool,
            .affineGrid, .bilinearSample, .random, .dropout, .stopGradient, .maxPoolGrad, .affineGridGrad,
            .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return 0
        }
    }
}
