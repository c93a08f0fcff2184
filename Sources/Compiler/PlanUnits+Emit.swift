import Graph

extension PlanUnits {
    /// The plan's instructions in the layout's schedule order: for each unit its kernel (a
    /// primitive, a fused program, a gradient-and-update, an epilogue) and its buffers.
    func instructions(for layout: MemoryPlanner.ArenaLayout) -> [Plan.Instruction] {
        var instructions: [Plan.Instruction] = []
        for u in layout.schedule {
            let unit = units[u]
            let outputs = unit.outputs.map { layout.bufferOf[$0.index] }
            let last = unit.members.last!
            // The program's inputs after a producer's (the GEMM of an update, an epilogue's
            // producer), without the one the producer fills.
            func after(_ producer: NodeID, filling slot: Int, of group: Fusion.Group) -> [NodeID] {
                var programInputs = group.inputs
                programInputs.remove(at: slot)
                return graph[producer].inputs + programInputs
            }
            let kernel: Plan.Kernel
            let inputNodes: [NodeID]
            if let g = unit.group, let fusion, let (gemm, slot) = gradientOf[u] {
                let group = fusion.groups[g]
                inputNodes = after(gemm, filling: slot, of: group)
                // The weights are among the program's inputs (checked when the product joined).
                let weights = inputGradientOf[u].flatMap { entry in inputNodes.firstIndex { root($0) == entry.weights } }
                kernel = .gradientUpdate(
                    gemm: graph[gemm].op, program: group.program, gradientInput: slot, weights: weights)
            } else if let g = unit.group, let fusion, let (producer, slot) = unit.epilogue {
                let group = fusion.groups[g]
                inputNodes = after(producer, filling: slot, of: group)
                kernel = .epilogue(
                    producer: graph[producer].op, operands: graph[producer].inputs.count, program: group.program,
                    slot: slot)
            } else if let g = unit.group, let fusion {
                inputNodes = fusion.groups[g].inputs
                kernel = .fused(fusion.groups[g].program)
            } else {
                inputNodes = graph[last].inputs
                kernel = .primitive(graph[last].op)
            }
            instructions.append(
                Plan.Instruction(
                    node: last, members: unit.members, kernel: kernel, inputNodes: inputNodes,
                    inputs: inputNodes.map { layout.bufferOf[$0.index] },
                    inputShapes: inputNodes.map { graph[$0].shape.resolved(batch: batch) }, outputs: outputs,
                    outputShape: graph[last].shape.resolved(batch: batch)))
        }
        return instructions
    }
}
