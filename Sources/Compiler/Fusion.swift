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
        let users = graph.users()
        var groupOf = [Int?](repeating: nil, count: graph.nodes.count)
        var members: [[NodeID]] = []
        var decisions: [(NodeID, String)] = []
        // Does `start` depend on a member of group `g`, through node inputs and through the
        // other members of any group on the way (a group runs as one unit)?
        var mark = [Int](repeating: -1, count: graph.nodes.count)
        var groupMark: [Int] = []
        var generation = 0
        func dependsOnGroup(_ start: NodeID, _ g: Int) -> Bool {
            generation += 1
            var stack = [start]
            while let id = stack.popLast() {
                if mark[id.index] == generation { continue }
                mark[id.index] = generation
                if let h = groupOf[id.index] {
                    if h == g { return true }
                    if groupMark[h] != generation {
                        groupMark[h] = generation
                        stack.append(contentsOf: members[h])
                    }
                }
                stack.append(contentsOf: graph[id].inputs)
            }
            return false
        }

        for node in graph.nodes {
            let i = node.id.index
            guard isElementwise(node.op), node.dtype == .float32 else { continue }
            if let bad = node.inputs.first(where: { access(graph[$0].shape, node.shape) == nil }) {
                decisions.append((node.id, "not fused: shape mismatch after broadcast (\(graph[bad].shape) → \(node.shape))"))
                continue
            }
            if node.inputs.contains(where: { graph[$0].dtype != .float32 }) {
                decisions.append((node.id, "not fused: an operand is not float32"))
                continue
            }
            // Join the group of a full-size element-wise producer, unless an outside operand depends
            // on that group; merge the groups of other such producers when neither depends on the other.
            var chosen: Int?
            var refusal: String?
            // Forward kernels take no backward ops: those run much later, and fusing them would
            // keep their values (a ReLU mask) alive from the forward pass to the backward one.
            let forward = isForward(node)
            for input in node.inputs {
                guard let g = groupOf[input.index], graph[input].shape == node.shape, g != chosen else { continue }
                guard isForward(graph[members[g][0]]) == forward else {
                    refusal = "not fused with group \(g): a backward op stays out of a forward kernel"
                    continue
                }
                let cycle = node.inputs.contains { other in
                    let group = groupOf[other.index]
                    let inside = group != nil && (group == g || group == chosen)
                    return !inside && graph[other].inputs.count > 0 && dependsOnGroup(other, g)
                }
                if cycle {
                    refusal = "not fused with group \(g): another operand depends on it"
                    continue
                }
                guard let primary = chosen else {
                    chosen = g
                    continue
                }
                let independent =
                    !members[g].contains { m in
                        graph[m].inputs.contains { groupOf[$0.index] != g && dependsOnGroup($0, primary) }
                    }
                    && !members[primary].contains { m in
                        graph[m].inputs.contains { groupOf[$0.index] != primary && dependsOnGroup($0, g) }
                    }
                guard independent else { continue }
                for m in members[g] { groupOf[m.index] = primary }
                members[primary] = (members[primary] + members[g]).sorted()
                members[g] = []
                decisions.append((node.id, "merged group \(g) into group \(primary): both feed \(node.op.name)"))
            }
            if let g = chosen {
                groupOf[i] = g
                members[g].append(node.id)
                let producer = node.inputs.first { groupOf[$0.index] == g }.map { graph[$0].op.name } ?? "?"
                decisions.append((node.id, "fused into group \(g): producer \(producer) is element-wise with the same shape"))
            } else {
                groupOf[i] = members.count
                members.append([node.id])
                groupMark.append(-1)
                decisions.append((node.id, refusal ?? "starts group \(members.count - 1): no element-wise producer of the same shape"))
            }
        }

        // Renumber the groups that survived merging.
        var renumber = [Int](repeating: -1, count: members.count)
        var kept: [[NodeID]] = []
        for (g, list) in members.enumerated() where !list.isEmpty {
            renumber[g] = kept.count
            kept.append(list)
        }
        for i in groupOf.indices { if let g = groupOf[i] { groupOf[i] = renumber[g] } }
        var groups: [Group] = []
        for list in kept {
            let memberSet = Set(list)
            let outputs = list.filter { id in
                users[id.index].contains { !memberSet.contains($0) } || isGraphResult(id, graph)
            }
            var inputs: [NodeID] = []
            for id in list {
                for input in graph[id].inputs where !memberSet.contains(input) && !inputs.contains(input) {
                    if case .constant = graph[input].op { continue }
                    inputs.append(input)
                }
            }
            let program = compile(list, inputs: inputs, outputs: outputs, graph)
            let ops = list.map { graph[$0].op.name }
            let reason =
                list.count == 1
                ? "single \(ops[0]): no element-wise neighbour to fuse with"
                : "\(list.count) element-wise ops (\(ops.prefix(6).joined(separator: ", "))\(ops.count > 6 ? ", …" : "")) in one pass over \(graph[list[0]].shape)"
            groups.append(Group(members: list, outputs: outputs, inputs: inputs, program: program, reason: reason))
        }
        // Non-element-wise consumers of fused values: say why they stay apart.
        for node in graph.nodes where !isElementwise(node.op) {
            if node.inputs.contains(where: { groupOf[$0.index] != nil }) {
                let why: String
                switch node.op {
                case .matmul, .groupedMatmul, .groupedMatmulWeightGrad: why = "consumer is a GEMM"
                case .conv2d, .transposedConv2d, .conv2dFilterGrad: why = "consumer is a convolution"
                case .reduce: why = "consumer is a reduction"
                default: why = "consumer \(node.op.name) is not element-wise"
                }
                decisions.append((node.id, "not fused: \(why)"))
            }
        }
        return Result(groups: groups, groupOf: groupOf, decisions: decisions)
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
            default:
                // Invariant: `run` groups only element-wise ops (`Op.kind`), the four cases above.
                preconditionFailure("\(node.op.name) is not element-wise, yet Fusion.run grouped it")
            }
            stepOf[id] = steps.count - 1
        }
        return ElementwiseProgram(steps: steps, outputs: outputs.map { stepOf[$0]! })  // outputs are members of list
    }
}
