import Graph

/// The fusion pass: groups element-wise primitives (chains and DAGs, with scalar and bias-row
/// broadcasts) into kernels that make one pass over memory, and records a reason for every
/// decision. A group's values that nothing outside it reads never reach memory.
public enum Fusion {
    public struct Group: Sendable {
        /// Members in topological order.
        public var members: [NodeID]
        /// Members read outside the group (or graph outputs): the kernel's outputs.
        public var outputs: [NodeID]
        /// Values the group reads from outside, in operand order.
        public var inputs: [NodeID]
        public var program: ElementwiseProgram
        /// Why the group holds what it holds.
        public var reason: String
    }

    public struct Result: Sendable {
        public var groups: [Group]
        /// Group of each node, or nil.
        public var groupOf: [Int?]
        /// One line per element-wise node: fused where, or why not.
        public var decisions: [(node: NodeID, reason: String)]
    }

    /// Element count of a node for fusion purposes, with batch counted symbolically.
    static func extent(_ s: Shape) -> (batch: Int, fixed: Int) { (s.batchCount, s.fixedElementCount) }

    /// How a fused kernel reads an operand (see `ElementwiseProgram.Operand`).
    enum Access: Equatable {
        /// Element i of the output reads element i.
        case full
        /// One value for every element.
        case scalar
        /// A trailing-axes operand (a bias row) repeated over the leading axes.
        case suffix
        /// Runs of `inner` elements each reading one value, `size` values repeating (a per-channel bias).
        case blocks(inner: Int, size: Int)
        /// Runs of `inner` elements each reading the next value (a per-image channel value).
        case runs(inner: Int)
    }

    /// How an operand of shape `o` is read by an element-wise op with output shape `out`; nil
    /// when a fused kernel cannot read it.
    static func access(_ o: Shape, _ out: Shape) -> Access? {
        if o == out { return .full }
        if o.fixedElementCount == 1 && !o.hasBatch { return .scalar }
        let trimmed = Array(o.dims.drop { $0 == 1 })
        if !o.hasBatch, trimmed.count <= out.rank, Array(out.dims.suffix(trimmed.count)) == trimmed { return .suffix }
        if let (inner, size) = blocks(o, out) { return .blocks(inner: inner, size: size) }
        if let inner = runs(o, out) { return .runs(inner: inner) }
        return nil
    }

    /// For an operand like a per-image channel value `[N, C, 1, 1]` of an output `[N, C, H, W]`
    /// (the same leading axes, batch included, then only ones): the fixed number of elements
    /// each of its values covers (`H·W`).
    static func runs(_ o: Shape, _ out: Shape) -> Int? {
        guard o.hasBatch, o.rank == out.rank, let last = o.dims.lastIndex(where: { $0 != 1 }), last < out.rank - 1,
            (0...last).allSatisfy({ o[$0] == out[$0] })
        else { return nil }
        let after = out.dims[(last + 1)...]
        guard after.allSatisfy({ $0.fixedSize != nil }) else { return nil }
        return after.reduce(1) { $0 * $1.fixedSize! }
    }

    /// For an operand like a per-channel bias `[C, 1, 1]` of an output `[N, C, H, W]`: the size of
    /// its repeating run and the fixed number of elements after it (`H·W`).
    static func blocks(_ o: Shape, _ out: Shape) -> (inner: Int, size: Int)? {
        guard !o.hasBatch, o.rank <= out.rank else { return nil }
        let aligned = [Dim](repeating: 1, count: out.rank - o.rank) + o.dims
        guard let last = aligned.lastIndex(where: { $0 != 1 }) else { return nil }
        var first = last
        while first > 0, aligned[first - 1] != 1 { first -= 1 }
        guard (first...last).allSatisfy({ aligned[$0] == out[$0] }),
            aligned[..<first].allSatisfy({ $0 == 1 }), last < out.rank - 1
        else { return nil }
        let after = out.dims[(last + 1)...]
        guard after.allSatisfy({ $0.fixedSize != nil }) else { return nil }
        return (after.reduce(1) { $0 * $1.fixedSize! }, o.fixedElementCount)
    }

    static func isElementwise(_ op: Op) -> Bool { op.isElementwise }

    public static func run(_ graph: Graph) -> Result {
        var grouping = Grouping(graph)
        for node in graph.nodes { grouping.place(node) }
        let (groups, groupOf) = finish(grouping, graph, users: graph.users())
        return Result(groups: groups, groupOf: groupOf, decisions: grouping.decisions + apartDecisions(graph, groupOf))
    }

    /// Forward ops are the model's own; autodiff and the optimizer put theirs in the
    /// `gradient` scope and the optimizer's (`adam`, `sgd`).
    static func isForward(_ node: Node) -> Bool {
        guard let first = node.scope.first else { return true }
        return first != "gradient" && !Optimizer.updateScopes.contains(first)
    }

    static func isGraphResult(_ id: NodeID, _ graph: Graph) -> Bool {
        graph.outputs.contains { $0.node == id } || graph.losses.contains { $0.node == id }
            || graph.updates.contains { $0.value == id }
    }

    static func compile(_ list: [NodeID], inputs: [NodeID], outputs: [NodeID], _ graph: Graph) -> ElementwiseProgram {
        var stepOf: [NodeID: Int] = [:]
        var steps: [ElementwiseProgram.Step] = []
        let outShape = graph[list[0]].shape
        func operand(_ id: NodeID) -> ElementwiseProgram.Operand {
            if let s = stepOf[id] { return .step(s) }
            if case .constant(let v) = graph[id].op { return .constant(v) }
            // Invariants: `run` lists every operand from outside the group in `inputs`, and takes
            // an operand into a group only when `access` can read it.
            let k = inputs.firstIndex(of: id)!
            switch access(graph[id].shape, outShape)! {
            case .full: return .full(k)
            case .scalar: return .scalar(k)
            case .blocks(let inner, let size): return .blocks(k, inner: inner, size: size)
            case .runs(let inner): return .runs(k, inner: inner)
            case .suffix: return .suffix(k)
            }
        }
        for id in list {
            let node = graph[id]
            let o = node.inputs.map(operand)
            switch node.op {
            case .unary(let f): steps.append(.unary(f, o[0]))
            case .binary(let f): steps.append(.binary(f, o[0], o[1]))
            case .compare(let c): steps.append(.compare(c, o[0], o[1]))
            case .select: steps.append(.select(o[0], o[1], o[2]))
            // Listed, not `default:`: a new element-wise primitive must be given a step here.
            case .input, .parameter, .variable, .constant, .matmul, .groupedMatmul, .reduce, .reshape, .transpose, .broadcast,
                .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax, .conv2d, .transposedConv2d, .maxPool,
                .affineGrid, .bilinearSample, .random, .dropout, .stopGradient, .groupedMatmulWeightGrad, .conv2dFilterGrad,
                .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
                // Invariant: `run` groups only element-wise ops (`Op.kind`), the four cases above.
                preconditionFailure("\(node.op.name) is not element-wise, yet Fusion.run grouped it")
            }
            stepOf[id] = steps.count - 1
        }
        return ElementwiseProgram(steps: steps, outputs: outputs.map { stepOf[$0]! })  // outputs are members of list
    }
}
