import Graph

/// The grouping behind `Fusion.run`: element-wise nodes join or merge the groups of their
/// full-size element-wise producers, in graph order, with a reason recorded for each decision.
extension Fusion {
    struct Grouping {
        let graph: Graph
        var groupOf: [Int?]
        var members: [[NodeID]] = []
        var decisions: [(node: NodeID, reason: String)] = []
        // Marks for `dependsOnGroup`'s walks: a node or group visited in walk `generation`.
        var mark: [Int]
        var groupMark: [Int] = []
        var generation = 0

        init(_ graph: Graph) {
            self.graph = graph
            groupOf = [Int?](repeating: nil, count: graph.nodes.count)
            mark = [Int](repeating: -1, count: graph.nodes.count)
        }

        /// Does `start` depend on a member of group `g`, through node inputs and through the
        /// other members of any group on the way (a group runs as one unit)?
        mutating func dependsOnGroup(_ start: NodeID, _ g: Int) -> Bool {
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

        /// Places `node`: nothing for a node that is not float element-wise; else it joins the
        /// group of a full-size element-wise producer (merging others' when neither depends on
        /// the other) or starts a group of its own.
        mutating func place(_ node: Node) {
            let i = node.id.index
            guard Fusion.isElementwise(node.op), node.dtype == .float32 else { return }
            if let bad = node.inputs.first(where: { Fusion.access(graph[$0].shape, node.shape) == nil }) {
                decisions.append((node.id, "not fused: shape mismatch after broadcast (\(graph[bad].shape) → \(node.shape))"))
                return
            }
            if node.inputs.contains(where: { graph[$0].dtype != .float32 }) {
                decisions.append((node.id, "not fused: an operand is not float32"))
                return
            }
            // Join the group of a full-size element-wise producer, unless an outside operand depends
            // on that group; merge the groups of other such producers when neither depends on the other.
            var chosen: Int?
            var refusal: String?
            // Forward kernels take no backward ops: those run much later, and fusing them would
            // keep their values (a ReLU mask) alive from the forward pass to the backward one.
            let forward = Fusion.isForward(node)
            for input in node.inputs {
                guard let g = groupOf[input.index], graph[input].shape == node.shape, g != chosen else { continue }
                guard Fusion.isForward(graph[members[g][0]]) == forward else {
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
    }

    /// The groups that survived merging, renumbered, with their inputs, outputs and programs.
    static func finish(_ grouping: Grouping, _ graph: Graph, users: [[NodeID]]) -> ([Group], [Int?]) {
        let members = grouping.members
        var groupOf = grouping.groupOf
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
        return (groups, groupOf)
    }

    /// For each non-element-wise consumer of a fused value, why it stays apart.
    static func apartDecisions(_ graph: Graph, _ groupOf: [Int?]) -> [(node: NodeID, reason: String)] {
        var decisions: [(node: NodeID, reason: String)] = []
        for node in graph.nodes where !isElementwise(node.op) {
            if node.inputs.contains(where: { groupOf[$0.index] != nil }) {
                let why: String
                switch node.op {
                case .matmul, .groupedMatmul, .groupedMatmulWeightGrad: why = "consumer is a GEMM"
                case .conv2d, .transposedConv2d, .conv2dFilterGrad: why = "consumer is a convolution"
                case .reduce: why = "consumer is a reduction"
                case .input, .parameter, .variable, .constant, .reshape, .transpose, .broadcast, .slice,
                    .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax, .maxPool, .affineGrid,
                    .bilinearSample, .random, .dropout, .stopGradient, .maxPoolGrad, .affineGridGrad,
                    .bilinearSampleImageGrad, .bilinearSampleGridGrad:
                    why = "consumer \(node.op.name) is not element-wise"
                case .unary, .binary, .compare, .select: continue  // element-wise: in a group, not apart
                }
                decisions.append((node.id, "not fused: \(why)"))
            }
        }
        return decisions
    }
}
