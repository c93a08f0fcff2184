/// What passes need to know of a primitive, decided once per primitive: a new `Op` case does
/// not compile until `Op.kind` places it, and every pass that asks (fusion, memory planning,
/// autodiff's leaves) follows.
public enum OpKind: Sendable, Equatable {
    /// Values from outside the graph's computation: inputs, parameters, optimizer variables.
    case leaf
    /// Moves no data: its value is its operand's memory.
    case view
    /// Element by element with broadcasting: fusable into one pass over memory.
    case elementwise
    /// Anything else: a kernel of its own (products, convolutions, reductions, layout, random).
    case kernel
}

extension Op {
    /// The primitive's kind: the one exhaustive list behind `isLeaf`, `isView` and
    /// `isElementwise`.
    public var kind: OpKind {
        switch self {
        case .input, .parameter, .variable: return .leaf
        case .reshape, .stopGradient: return .view
        case .unary, .binary, .compare, .select: return .elementwise
        case .constant, .matmul, .groupedMatmul, .reduce, .transpose, .broadcast, .slice, .concat, .gatherRows,
            .scatterAddRows, .oneHot, .logSoftmax, .conv2d, .transposedConv2d, .maxPool, .affineGrid, .bilinearSample,
            .random, .dropout, .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad,
            .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return .kernel
        }
    }

    /// Leaves hold values from outside the graph's computation: inputs, parameters, optimizer variables.
    public var isLeaf: Bool { kind == .leaf }

    /// Views move no data: their value is their operand's memory (`reshape`, `stopGradient`).
    public var isView: Bool { kind == .view }

    /// Element-wise ops (`unary`, `binary`, `compare`, `select`) fuse into one pass over memory.
    public var isElementwise: Bool { kind == .elementwise }

    /// Whether a gradient flows through the primitive to its operands. False for values that
    /// are constant to autodiff (inputs, constants, optimizer variables, random numbers), masks
    /// (comparisons, one-hot) and `stopGradient`; a parameter's own gradient is asked of autodiff
    /// separately (it may be frozen).
    public var passesGradient: Bool {
        switch self {
        case .input, .variable, .constant, .random, .compare, .oneHot, .stopGradient: return false
        case .parameter, .matmul, .groupedMatmul, .unary, .binary, .select, .reduce, .reshape, .transpose, .broadcast,
            .slice, .concat, .gatherRows, .scatterAddRows, .logSoftmax, .conv2d, .transposedConv2d, .maxPool,
            .affineGrid, .bilinearSample, .dropout, .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad,
            .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return true
        }
    }

    /// Whether the primitive draws random numbers (`random`, `dropout`): two nodes of it are
    /// never the same value.
    public var isRandom: Bool {
        switch self {
        case .random, .dropout: return true
        case .input, .parameter, .variable, .constant, .matmul, .groupedMatmul, .unary, .binary, .compare, .select,
            .reduce, .reshape, .transpose, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot,
            .logSoftmax, .conv2d, .transposedConv2d, .maxPool, .affineGrid, .bilinearSample, .stopGradient,
            .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad,
            .bilinearSampleGridGrad:
            return false
        }
    }

    /// State a training step keeps between runs: parameters and optimizer variables.
    public var isStored: Bool { isLeaf && inputName == nil }

    /// The name of an input, or nil for other ops.
    public var inputName: String? {
        if case .input(let name) = self { return name }
        return nil
    }
}

extension Graph {
    /// The node whose memory holds `id`'s value: `id` itself, or the operand under its views.
    public func viewRoot(_ id: NodeID) -> NodeID {
        var r = id
        while self[r].op.isView { r = self[r].inputs[0] }
        return r
    }
}
