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
    }

    init(graph: Graph, batch: Int, buffers: [Buffer], instructions: [Instruction], bufferOf: [Int]) {
        self.graph = graph
        self.batch = batch
        self.buffers = buffers
        self.instructions = instructions
        self.bufferOf = bufferOf
    }

    /// The buffer of a named input.
    public func inputBuffer(_ name: String) -> Int? {
        graph.nodes.first { $0.op == .input(name: name) }.map { bufferOf[$0.id.index] }
    }

    /// The operands of a weight-gradient product that a `gradientUpdate` kernel can hold: a
    /// per-class layer's `groupedMatmulWeightGrad` (x, g, labels) or a dense layer's `xᵀ·g`
    /// (`matmul` with a transposed, x, g); nil for any other op.
    public static func weightGradientOperands(_ op: Op) -> Int? {
        switch op {
        case .groupedMatmulWeightGrad: return 3
        case .matmul(let transposeA, let transposeB): return transposeA && !transposeB ? 2 : nil
        case .input, .parameter, .variable, .constant, .groupedMatmul, .unary, .binary, .compare, .select, .reduce,
            .reshape, .transpose, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax,
            .conv2d, .transposedConv2d, .maxPool, .affineGrid, .bilinearSample, .random, .dropout, .stopGradient,
            .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return nil
        }
    }

    /// Whether a kernel of `op` can run an element-wise epilogue: its workers make whole images
    /// (or planes, or blocks of a product's rows or columns) of output at a time, so each can
    /// apply the program to what it has just written (`Plan.Kernel.epilogue`). A dense layer's
    /// product takes its bias and activation; an input gradient, the activation derivative of
    /// the layer below. (A weight gradient, `aᵀ·b`, is left to the gradient-with-update kernel.)
    public static func takesEpilogue(_ op: Op) -> Bool {
        switch op {
        case .conv2d, .transposedConv2d, .maxPoolGrad: return true
        case .matmul(let transposeA, _): return !transposeA
        case .input, .parameter, .variable, .constant, .groupedMatmul, .unary, .binary, .compare, .select, .reduce,
            .reshape, .transpose, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax,
            .maxPool, .affineGrid, .bilinearSample, .random, .dropout, .stopGradient, .groupedMatmulWeightGrad,
            .conv2dFilterGrad, .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return false
        }
    }

    /// Why an element-wise group runs inside its producer, for reports and DOT.
    public static let epilogueReason =
        "the producer's output has no other reader: each worker applies the group to every block of output it makes while the block is in cache, so the output never makes a round trip through memory"

    /// Why a layer's gradients run inside its weights' update, for reports and DOT.
    public static func gradientUpdateReason(inputGradient: Bool) -> String {
        "the weight gradient's only reader is the update: made and consumed one block of rows at a time, never whole"
            + (inputGradient
                ? "; the input gradient reads the same weights with the same output gradient: made from each block before the block is updated, so the weights are read once"
                : "")
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
