import Graph

/// The decisions that join units into one kernel, each a stage of `MemoryPlanner.plan`. Every
/// join keeps the schedule possible: a unit joins another only if nothing else it waits for
/// waits for the other.
extension PlanUnits {
    /// A weight gradient (per-class, or a dense layer's xᵀ·g) read only by its parameter's
    /// update joins that kernel, so the gradient is made and consumed a block at a time.
    mutating func joinWeightGradients() {
        guard let fusion else { return }
        var into: [Int: Int] = [:]
        for u in units.indices where units[u].group == nil {
            let id = units[u].members[0]
            // (A dense layer's gradient is one class of all the batch's rows; how the runtime
            // makes each block, by its own kernel or OpenBLAS, is the runtime's choice.)
            guard Plan.weightGradientOperands(graph[id].op) != nil, !results.contains(id),
                let readers = consumers[id], readers.count == 1, let a = readers.first, let g = units[a].group,
                let slot = fusion.groups[g].inputs.firstIndex(of: id),
                units[a].outputs.allSatisfy({ targetOf[$0] != nil }),
                !units[a].dependencies.contains(where: { $0 != u && reaches($0, u) })
            else { continue }
            absorb(u, into: a)
            into[u] = a
            gradientOf[a] = (id, slot)
        }
        merge(into)
    }

    /// A per-class layer's input gradient, g · w[label]ᵀ, joins its weights' gradient-and-update
    /// kernel where it reads the weights being updated with the same g and labels: each block of
    /// weight rows is then read from memory once, for its columns of the input gradient and for
    /// its update.
    mutating func joinInputGradients() {
        // One merge at a time, each checked against the graph the previous ones left.
        var tried = Set<NodeID>()
        while let (a, gemm) = gradientOf.first(where: { graph[$0.value.gemm].inputs.count == 3 && !tried.contains($0.value.gemm) })
            .map({ ($0.key, $0.value.gemm) })
        {
            tried.insert(gemm)
            let (x, g, labels) = (graph[gemm].inputs[0], graph[gemm].inputs[1], graph[gemm].inputs[2])
            guard let u = (consumers[root(g)] ?? []).first(where: { u in
                guard units[u].group == nil, case .groupedMatmul(transposeWeights: true) = graph[units[u].members[0]].op
                else { return false }
                let product = graph[units[u].members[0]]
                return product.inputs[0] == g && product.inputs[2] == labels
                    && units[a].outputs.contains { targetOf[$0].map(root) == root(product.inputs[1]) }
            }) else { continue }
            let product = units[u].members[0]
            let weights = root(graph[product].inputs[1])
            guard !results.contains(product), graph[product].shape == graph[x].shape, let group = units[a].group,
                fusion?.groups[group].inputs.contains(where: { root($0) == weights }) == true,
                !units[a].dependencies.contains(where: { $0 != u && reaches($0, u) }),
                !units[u].dependencies.contains(where: { $0 != a && reaches($0, a) })
            else { continue }
            absorb(u, into: a)
            units[a].outputs.append(product)
            inputGradientOf[a] = (product, weights)
            merge([u: a])
        }
    }

    /// A convolution, max-pool gradient or product (`Plan.takesEpilogue`) whose output only an
    /// element-wise group reads takes that group as its epilogue: the output is finished a block
    /// at a time while in cache.
    mutating func joinEpilogues(products: Bool) {
        guard let fusion else { return }
        var into: [Int: Int] = [:]
        for u in units.indices where units[u].group == nil {
            let id = units[u].members[0]
            if case .matmul = graph[id].op, !products { continue }
            guard Plan.takesEpilogue(graph[id].op), !results.contains(id), let readers = consumers[id],
                readers.count == 1, let a = readers.first, let g = units[a].group, gradientOf[a] == nil,
                units[a].epilogue == nil, fusion.groups[g].inputs.filter({ root($0) == id }) == [id],
                let slot = fusion.groups[g].inputs.firstIndex(of: id),
                graph[id].shape == graph[fusion.groups[g].members[0]].shape,
                !units[a].outputs.contains(where: { targetOf[$0] != nil }),
                !units[a].dependencies.contains(where: { $0 != u && reaches($0, u) })
            else { continue }
            absorb(u, into: a)
            units[a].epilogue = (id, slot)
            into[u] = a
        }
        merge(into)
    }

    /// An update's kernel waits for every other reader of its target, so it can write in place.
    mutating func orderUpdatesAfterReaders() {
        for update in graph.updates {
            let u = unitOf[update.value.index]
            guard u >= 0 else { continue }
            for reader in consumers[update.target] ?? [] where reader != u && !reaches(reader, u) {
                units[u].dependencies.insert(reader)
            }
        }
    }
}
