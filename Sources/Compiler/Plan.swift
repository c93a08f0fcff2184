import Graph

/// A graph specialised for one batch size: kernel calls over numbered buffers, in order.
///
/// `Plan(graph, batch:)` is the reference planner: one primitive per instruction and one buffer
/// per value. `MemoryPlanner.plan` fuses element-wise groups, schedules for low peak memory and
/// places intermediates at offsets in one arena.
public struct Plan: Sendable {
    /// Where a buffer's memory comes from.
    public enum Placement: Hashable, Sendable {
        /// Allocated on its own (leaves, inputs, constants; every buffer in the reference plan).
        case own
        /// At a byte offset in the arena.
        case arena(offset: Int)
    }

    public struct Buffer: Hashable, Sendable {
        public var elements: Int
        public var dtype: DType
        public var placement: Placement
        public var bytes: Int { elements * 4 }
    }

    public enum Kernel: Hashable, Sendable {
        case primitive(Op)
        case fused(ElementwiseProgram)
        /// A weight gradient (per-class, or a dense layer's `xᵀ·g`) whose only reader is its
        /// parameter's update: each block of rows of each class's slice is computed into scratch
        /// and the update program runs on it at once, so the whole gradient never exists. Inputs:
        /// the GEMM's (`weightGradientOperands`), then the program's (the gradient's slot,
        /// `gradientInput`, is filled from scratch).
        ///
        /// `weights`: where the kernel also makes the layer's input gradient, `g · w[label]ᵀ`
        /// (its last output), the position among the inputs of the weights `w` it reads. Each
        /// block of weight rows gives its columns of the input gradient before the update
        /// overwrites it, so the weights are read from memory once for both.
        case gradientUpdate(gemm: Op, program: ElementwiseProgram, gradientInput: Int, weights: Int?)
        /// A convolution, max-pool gradient or product whose output only an element-wise group
        /// reads (a bias and ReLU, a ReLU's gradient mask), with that group's program as its
        /// epilogue: each worker runs the program on each block of output it has just made,
        /// still in cache.
        /// Inputs: the producer's `operands`, then the program's except `slot`. The producer
        /// writes the kernel's first output, which the program reads at `slot` (element by
        /// element, so every output can be written in place over it).
        case epilogue(producer: Op, operands: Int, program: ElementwiseProgram, slot: Int)
    }

    /// A kernel whose element-wise program follows a product or producer of its own
    /// (`gradientUpdate`, `epilogue`) reads that producer's `producer` operands first, then the
    /// program's in order except `slot`, which the producer fills. Nil for other kernels.
    public static func programLayout(_ kernel: Kernel) -> (program: ElementwiseProgram, producer: Int, slot: Int)? {
        switch kernel {
        case .gradientUpdate(let gemm, let program, let slot, _): return (program, weightGradientOperands(gemm)!, slot)
        case .epilogue(_, let operands, let program, let slot): return (program, operands, slot)
        case .primitive, .fused: return nil
        }
    }

    /// The instruction input that program operand `j` reads under `programLayout` (nil at the slot).
    public static func programInput(_ j: Int, producer: Int, slot: Int) -> Int? {
        j == slot ? nil : producer + (j < slot ? j : j - 1)
    }

    /// One kernel call.
    public struct Instruction: Sendable {
        /// The node a primitive computes; for a fused kernel, its last member.
        public var node: NodeID
        /// Every node the call computes (one for a primitive).
        public var members: [NodeID]
        public var kernel: Kernel
        /// The values read, in operand order (their buffers are `inputs`).
        public var inputNodes: [NodeID]
        public var inputs: [Int]
        public var inputShapes: [[Int]]
        public var outputs: [Int]
        public var outputShape: [Int]
        public var output: Int { outputs[0] }
    }

    /// A buffer's live range in instruction positions (inclusive), for reports and checks.
    public struct LiveRange: Hashable, Sendable {
        public var buffer: Int
        public var first: Int
        public var last: Int
    }

    public var graph: Graph
    public var batch: Int
    public var buffers: [Buffer]
    public var instructions: [Instruction]
    /// Buffer of each node; -1 for values that live only inside a fused kernel.
    public var bufferOf: [Int]
    public var arenaBytes: Int = 0
    /// Live ranges of the arena buffers.
    public var liveRanges: [LiveRange] = []
    /// Updates whose value is computed straight into the target's memory.
    public var inPlaceUpdates: Set<NodeID> = []
    /// Scratch floats the largest kernel needs (im2col columns, packed rows).
    public var scratchElements: Int = 0

    /// The reference plan: one buffer per value; reshapes and stop-gradients share their operand's.
    public init(_ graph: Graph, batch: Int) {
        self.graph = graph
        self.batch = batch
        buffers = []
        instructions = []
        bufferOf = []
        for node in graph.nodes {
            let shape = node.shape.resolved(batch: batch)
            if node.op.isView {
                bufferOf.append(bufferOf[node.inputs[0].index])
                continue
            }
            bufferOf.append(buffers.count)
            buffers.append(Buffer(elements: shape.reduce(1, *), dtype: node.dtype, placement: .own))
            if node.op.isLeaf { continue }
            instructions.append(
                Instruction(
                    node: node.id, members: [node.id], kernel: .primitive(node.op), inputNodes: node.inputs,
                    inputs: node.inputs.map { bufferOf[$0.index] },
                    inputShapes: node.inputs.map { graph[$0].shape.resolved(batch: batch) },
                    output: bufferOf[node.id.index], outputShape: shape))
        }
        scratchElements = instructions.map { Self.scratchElements(for: $0) }.max() ?? 0
    }

    init(graph: Graph, batch: Int, buffers: [Buffer], instructions: [Instruction], bufferOf: [Int]) {
        self.graph = graph
        self.batch = batch
        self.buffers = buffers
        self.instructions = instructions
        self.bufferOf = bufferOf
        scratchElements = instructions.map { Self.scratchElements(for: $0) }.max() ?? 0
    }

    /// The buffer of a named input.
    public func inputBuffer(_ name: String) -> Int? {
        graph.nodes.first { $0.op == .input(name: name) }.map { bufferOf[$0.id.index] }
    }

    /// Most workers a convolution uses; its scratch holds one im2col matrix per worker, and the
    /// filter gradient `convFilterBlocks` partial sums.
    public static let convWorkers = 8
    public static let convFilterBlocks = 8

    /// Whether a convolution (or its adjoint) of `channels` input planes of `height × width` into
    /// `outputs` planes runs by Winograd's F(2×2, 3×3) (with AVX2): a 3×3 kernel, stride 1, same
    /// padding, one filter for all images, the blocks 8 at a time (width a multiple of 8, height
    /// even, height·width/4 a multiple of 8), and at least 16 channels on both sides (the GEMMs'
    /// inner and outer dimensions; the first layer's adjoint, 32 → 3 channels, took 22 ms this
    /// way against 12.5 by im2col). Stride 1 and same padding keep the adjoint the same size.
    public static func winograd(
        channels: Int, outputs: Int, height: Int, width: Int, kernel: (Int, Int), stride: Int, padding: Padding,
        perClass: Bool
    ) -> Bool {
        kernel == (3, 3) && stride == 1 && padding == .same && !perClass && channels >= 16 && outputs >= 16
            && width % 8 == 0 && height % 2 == 0 && (height * width / 4) % 8 == 0
    }

    /// Images a Winograd GEMM takes at once: at least 64 blocks (an 8×8 image has 16; the
    /// GEMMs' outer dimension for a convolution, inner for a filter gradient).
    public static func winogradImages(height: Int, width: Int) -> Int { max(1, 64 / (height * width / 4)) }

    /// Floats of scratch per worker for a Winograd convolution or filter gradient: the
    /// transformed input [16, C, ·] and products or output gradient [16, O, ·] of
    /// `winogradImages` images, and a zero-padded plane.
    public static func winogradWorkerFloats(channels: Int, outputs: Int, height: Int, width: Int) -> Int {
        4 * height * width * (channels + outputs) * winogradImages(height: height, width: width)
            + (height + 2) * (width + 2)
    }

    /// Whether a convolution whose image side (the convolution's input, the adjoint's output) has
    /// `imageChannels` planes runs directly (`CKernels/FewChannelConv.c`, with AVX2 and FMA): a
    /// 3×3 kernel, stride 1, same padding, one filter for all images, at most 4 image channels
    /// (im2col's GEMMs then have an inner dimension of at most 36: the first layers, 3 → 32
    /// channels at 32×32, ran at 27–40 GFLOP/s on two cores that way) and rows of whole vectors
    /// (width a multiple of 8).
    public static func fewChannels(
        imageChannels: Int, width: Int, kernel: (Int, Int), stride: Int, padding: Padding, perClass: Bool
    ) -> Bool {
        kernel == (3, 3) && stride == 1 && padding == .same && !perClass && imageChannels <= 4 && width % 8 == 0
    }

    /// Floats of scratch per worker for a direct convolution (`fewChannels`) whose input, or for
    /// the filter gradient whose image, has `channels` planes: three shifted copies of the image
    /// with a zero row above and below (enough for the forward's zero-bordered copy as well).
    public static func fewChannelWorkerFloats(channels: Int, height: Int, width: Int) -> Int {
        3 * channels * (height + 2) * width
    }

    /// A convolution's: per worker `winogradWorkerFloats`, then the transformed filters [16, O, C].
    static func winogradScratch(channels: Int, outputs: Int, height: Int, width: Int) -> Int {
        convWorkers * winogradWorkerFloats(channels: channels, outputs: outputs, height: height, width: width)
            + 16 * outputs * channels
    }

    /// Scratch floats a primitive needs, given its operands' shapes and its output's.
    static func scratch(for op: Op, _ s: [[Int]], output: [Int]) -> Int {
        switch op {
        case .conv2d(let stride, let padding, let classes):
            let f = Array(s[1].suffix(4))  // one image's filter [O, C, kh, kw]
            let oh = Op.windowOutputSize(s[0][2], kernel: f[2], stride: stride, padding: padding)
            let ow = Op.windowOutputSize(s[0][3], kernel: f[3], stride: stride, padding: padding)
            let im2col = convWorkers * f[1] * f[2] * f[3] * oh * ow
            if fewChannels(
                imageChannels: f[1], width: s[0][3], kernel: (f[2], f[3]), stride: stride, padding: padding,
                perClass: classes != nil)
            {
                return max(im2col, convWorkers * fewChannelWorkerFloats(channels: f[1], height: oh, width: ow))
            }
            guard
                winograd(
                    channels: f[1], outputs: f[0], height: oh, width: ow, kernel: (f[2], f[3]), stride: stride,
                    padding: padding, perClass: classes != nil)
            else { return im2col }
            return max(im2col, winogradScratch(channels: f[1], outputs: f[0], height: oh, width: ow))
        case .transposedConv2d(let stride, let padding, _, _, let classes):
            let f = Array(s[1].suffix(4))  // [C, O, kh, kw]
            let im2col = convWorkers * f[1] * f[2] * f[3] * s[0][2] * s[0][3]
            if fewChannels(
                imageChannels: f[1], width: s[0][3], kernel: (f[2], f[3]), stride: stride, padding: padding,
                perClass: classes != nil)
            {
                // The workers' copies of the [N, C] side, then the flipped filter [O, C, 3, 3].
                let direct = convWorkers * fewChannelWorkerFloats(channels: f[0], height: s[0][2], width: s[0][3])
                return max(im2col, direct + f[0] * f[1] * 9)
            }
            guard
                winograd(
                    channels: f[0], outputs: f[1], height: s[0][2], width: s[0][3], kernel: (f[2], f[3]),
                    stride: stride, padding: padding, perClass: classes != nil)
            else { return im2col }
            return max(im2col, winogradScratch(channels: f[0], outputs: f[1], height: s[0][2], width: s[0][3]))
        case .conv2dFilterGrad(let stride, let padding, let kh, let kw, let classes):
            let columns = s[0][1] * kh * kw * s[1][2] * s[1][3]
            // Per class, each class's images sum straight into its slice: no block partials.
            let im2col = convWorkers * columns + (classes == nil ? convFilterBlocks * output.reduce(1, *) : 0)
            let (c, o, h, w) = (s[0][1], s[1][1], s[0][2], s[0][3])
            if fewChannels(
                imageChannels: c, width: w, kernel: (kh, kw), stride: stride, padding: padding,
                perClass: classes != nil)
            {
                let partials = convFilterBlocks * output.reduce(1, *)
                return max(im2col, convWorkers * fewChannelWorkerFloats(channels: c, height: h, width: w) + partials)
            }
            guard
                winograd(
                    channels: c, outputs: o, height: h, width: w, kernel: (kh, kw), stride: stride, padding: padding,
                    perClass: classes != nil)
            else { return im2col }
            let partials = convFilterBlocks * 16 * o * c
            return max(
                im2col,
                convWorkers * winogradWorkerFloats(channels: c, outputs: o, height: h, width: w) + partials)
        case .groupedMatmul:
            // Every class's rows, each class padded by up to 3 zero rows (`paddedGroupRows`).
            return (s[0][0] + 3 * s[1][0]) * (s[0][1] + output[1])
        case .groupedMatmulWeightGrad:
            return s[0][0] * (s[0][1] + s[1][1])
        default:
            return 0
        }
    }

    /// Rows of one class in a `groupedMatmul` GEMM: its rows and zero rows up to a multiple of 4.
    /// OpenBLAS's kernels take a product's short side 4 at a time; with 25 rows (a class's share
    /// of a batch of 250) the 25th row costs an extra pass over the weights. Measured for one
    /// thread, ten classes of [25, 2048]·[2048, 3072]: 79 ms with 25 rows, 58 ms with 28.
    public static func paddedGroupRows(_ rows: Int) -> Int { (rows + 3) / 4 * 4 }

    /// The operands of a weight-gradient product that a `gradientUpdate` kernel can hold: a
    /// per-class layer's `groupedMatmulWeightGrad` (x, g, labels) or a dense layer's `xᵀ·g`
    /// (`matmul` with a transposed, x, g); nil for any other op.
    public static func weightGradientOperands(_ op: Op) -> Int? {
        switch op {
        case .groupedMatmulWeightGrad: return 3
        case .matmul(transposeA: true, transposeB: false): return 2
        default: return nil
        }
    }

    /// Whether a kernel of `op` can run an element-wise epilogue: its workers make whole images
    /// (or planes, or blocks of a product's rows or columns) of output at a time, so each can
    /// apply the program to what it has just written (`Plan.Kernel.epilogue`). A dense layer's
    /// product takes its bias and activation; an input gradient, the activation derivative of
    /// the layer below. (A weight gradient, `aᵀ·b`, is left to the gradient-with-update kernel.)
    public static func takesEpilogue(_ op: Op) -> Bool {
        switch op {
        case .conv2d, .transposedConv2d, .maxPoolGrad, .matmul(transposeA: false, _): return true
        default: return false
        }
    }

    /// Why an element-wise group runs inside its producer, for reports and DOT.
    public static let epilogueReason =
        "the producer's output has no other reader: each worker applies the group to every block of output it makes while the block is in cache, so the output never makes a round trip through memory"

    /// Most batch rows (the inner dimension) the weight-gradient kernel sums in its fast path
    /// (`MOST_K` in `ClassWeightGradient.c`).
    public static let gradientKernelRows = 1024

    /// Why a layer's gradients run inside its weights' update, for reports and DOT.
    public static func gradientUpdateReason(inputGradient: Bool) -> String {
        "the weight gradient's only reader is the update: made and consumed one block of rows at a time, never whole"
            + (inputGradient
                ? "; the input gradient reads the same weights with the same output gradient: made from each block before the block is updated, so the weights are read once"
                : "")
    }

    /// Rows of a per-class weight gradient made at a time before its update runs on them: 12 rows
    /// of a 3,072-wide layer are 144 KiB, which stay in a core's L2 until the update reads them.
    public static func gradientRowBlock(_ rows: Int) -> Int { min(rows, 12) }

    /// Floats of one packed output-gradient row for the per-class weight-gradient kernel: `n`
    /// rounded up to whole 16-column strips (as `gauge_class_gradient_packed_size`).
    public static func packedGradientColumns(_ n: Int) -> Int { (n + 15) / 16 * 16 }

    /// Scratch for a kernel of any kind.
    static func scratchElements(for i: Instruction) -> Int {
        switch i.kernel {
        case .primitive(let op): return scratch(for: op, i.inputShapes, output: i.outputShape)
        case .epilogue(let op, let operands, _, _):
            return scratch(for: op, Array(i.inputShapes.prefix(operands)), output: i.outputShape)
        case .fused: return 0
        case .gradientUpdate(_, _, _, let weights):
            // A class's gathered rows of both operands, its packed gradient rows (whole
            // 16-column strips), the blocks of its [k, n] gradient, and its rows of the input
            // gradient (a dense layer's gradient is one class of all rows).
            let s = i.inputShapes
            let (rows, k, n) = (s[0][0], s[0][1], s[1][1])
            return rows * (k + n) + rows * packedGradientColumns(n) + convWorkers * gradientRowBlock(k) * n
                + (weights == nil ? 0 : rows * k)
        }
    }
}

extension Plan.Instruction {
    init(
        node: NodeID, members: [NodeID], kernel: Plan.Kernel, inputNodes: [NodeID], inputs: [Int], inputShapes: [[Int]],
        output: Int, outputShape: [Int]
    ) {
        self.init(
            node: node, members: members, kernel: kernel, inputNodes: inputNodes, inputs: inputs,
            inputShapes: inputShapes, outputs: [output], outputShape: outputShape)
    }
}
