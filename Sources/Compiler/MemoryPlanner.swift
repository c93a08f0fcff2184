import Graph

/// Turns a graph into a `Plan`: fused element-wise kernels, a schedule chosen for low peak
/// memory, updates computed in place into parameters and optimizer moments, and every other
/// intermediate at an offset in one arena (best fit by decreasing size over live ranges).
public enum MemoryPlanner {
    public struct Options: Sendable {
        public var fuse = true
        /// Try a memory-greedy order besides program order and keep the lower peak.
        public var schedule = true
        /// Let element-wise kernels overwrite a dying operand, and updates write into their target.
        public var inPlace = true
        /// Let a per-class layer's input gradient join its weights' gradient-and-update kernel
        /// (with `fuse` and `inPlace`, which that kernel needs).
        public var fuseInputGradients = true
        /// Let an element-wise group run as the epilogue of the convolution or max-pool gradient
        /// whose output only it reads (with `fuse` and `inPlace`).
        public var fuseEpilogues = true
        public init(
            fuse: Bool = true, schedule: Bool = true, inPlace: Bool = true, fuseInputGradients: Bool = true,
            fuseEpilogues: Bool = true
        ) {
            self.fuse = fuse
            self.schedule = schedule
            self.inPlace = inPlace
            self.fuseInputGradients = fuseInputGradients
            self.fuseEpilogues = fuseEpilogues
        }
    }

    public struct Report: Sendable {
        public var fusion: Fusion.Result?
        /// Peak arena bytes of each schedule tried, and the one kept.
        public var schedules: [(name: String, peakBytes: Int)]
        public var chosenSchedule: String
        /// Bytes of every intermediate value if each had its own buffer (the reference plan).
        public var naiveBytes: Int
        public var arenaBytes: Int
        /// Instruction position where the arena is fullest, and the buffers live there.
        public var peakPosition: Int
        public var peakBuffers: [(node: NodeID, bytes: Int)]
    }

    struct Unit {
        var members: [NodeID]
        var group: Int?
        var outputs: [NodeID]
        var dependencies: Set<Int> = []
        /// The producer a group runs as the epilogue of, and the group input it fills.
        var epilogue: (producer: NodeID, slot: Int)? = nil
    }

    public static func plan(_ graph: Graph, batch: Int, options: Options = Options()) throws -> (Plan, Report) {
        let users = graph.users()
        let fusion = options.fuse ? Fusion.run(graph) : nil
        func root(_ id: NodeID) -> NodeID { graph.viewRoot(id) }
        func isLeaf(_ id: NodeID) -> Bool { graph[id].op.isLeaf }
        func isView(_ id: NodeID) -> Bool { graph[id].op.isView }
        let results = Set(((graph.outputs + graph.losses).map(\.node) + graph.updates.map(\.value)).map(root))
        func inlined(_ id: NodeID) -> Bool {
            guard let fusion, case .constant = graph[id].op, !results.contains(id) else { return false }
            return users[id.index].allSatisfy { fusion.groupOf[$0.index] != nil }
        }

        // Units: fused groups and single primitives.
        var units: [Unit] = []
        var unitOf = [Int](repeating: -1, count: graph.nodes.count)
        var unitOfGroup: [Int: Int] = [:]
        for node in graph.nodes {
            let id = node.id
            if isLeaf(id) || isView(id) || inlined(id) { continue }
            if let g = fusion?.groupOf[id.index] {
                if let u = unitOfGroup[g] {
                    unitOf[id.index] = u
                    continue
                }
                unitOfGroup[g] = units.count
                unitOf[id.index] = units.count
                units.append(Unit(members: fusion!.groups[g].members, group: g, outputs: fusion!.groups[g].outputs))
                for m in fusion!.groups[g].members { unitOf[m.index] = units.count - 1 }
            } else {
                unitOf[id.index] = units.count
                units.append(Unit(members: [id], group: nil, outputs: [id]))
            }
        }
        for u in units.indices {
            let memberSet = Set(units[u].members)
            for m in units[u].members {
                for input in graph[m].inputs where !memberSet.contains(input) {
                    let r = root(input)
                    if unitOf[r.index] >= 0, unitOf[r.index] != u { units[u].dependencies.insert(unitOf[r.index]) }
                }
            }
        }
        // Values (materialized unit outputs) with their consumer units.
        func consumerMap() -> [NodeID: Set<Int>] {
            var map: [NodeID: Set<Int>] = [:]
            for u in units.indices {
                let memberSet = Set(units[u].members)
                for m in units[u].members {
                    for input in graph[m].inputs where !memberSet.contains(input) { map[root(input), default: []].insert(u) }
                }
            }
            return map
        }
        var consumers = consumerMap()
        func reaches(_ from: Int, _ to: Int) -> Bool {
            var seen = Set<Int>()
            var stack = [from]
            while let u = stack.popLast() {
                if u == to { return true }
                if seen.insert(u).inserted { stack.append(contentsOf: units[u].dependencies) }
            }
            return false
        }
        let targetOf = Dictionary(graph.updates.map { ($0.value, $0.target) }, uniquingKeysWith: { a, _ in a })

        // A weight gradient (per-class, or a dense layer's xᵀ·g) read only by its parameter's
        // update joins that kernel, so the gradient is made and consumed a block at a time.
        var gradientOf: [Int: (gemm: NodeID, slot: Int)] = [:]
        // And the layer's input gradient, g · w[label]ᵀ, joins it too where it reads the weights
        // being updated with the same g and labels: each block of weight rows is then read from
        // memory once, for its columns of the input gradient and for its update.
        var inputGradientOf: [Int: (product: NodeID, weights: NodeID)] = [:]
        /// Unit `u`'s single primitive runs first inside unit `a`, which then waits for what `u`
        /// waited for (`merge` drops `u` afterwards).
        func absorb(_ u: Int, into a: Int) {
            units[a].members.insert(units[u].members[0], at: 0)
            units[a].dependencies.formUnion(units[u].dependencies)
            units[a].dependencies.remove(u)
        }
        /// Units merged into another (`into[u]`): dropped, their dependents now wait for the
        /// unit that holds them.
        func merge(_ into: [Int: Int]) {
            guard !into.isEmpty else { return }
            var newIndex = [Int](repeating: -1, count: units.count)
            var kept: [Unit] = []
            for u in units.indices where into[u] == nil {
                newIndex[u] = kept.count
                kept.append(units[u])
            }
            for (u, a) in into { newIndex[u] = newIndex[a] }
            for u in kept.indices {
                kept[u].dependencies = Set(kept[u].dependencies.map { newIndex[$0] })
                kept[u].dependencies.remove(u)
            }
            gradientOf = Dictionary(uniqueKeysWithValues: gradientOf.map { (newIndex[$0.key], $0.value) })
            inputGradientOf = Dictionary(uniqueKeysWithValues: inputGradientOf.map { (newIndex[$0.key], $0.value) })
            units = kept
            for u in units.indices { for m in units[u].members { unitOf[m.index] = u } }
            consumers = consumerMap()
        }
        if let fusion, options.fuse, options.inPlace {
            var into: [Int: Int] = [:]
            for u in units.indices where units[u].group == nil {
                let id = units[u].members[0]
                // A dense layer's gradient is one block of all the batch's rows: at most as many
                // as the gradient kernel sums in its fast path.
                guard let operands = Plan.weightGradientOperands(graph[id].op), !results.contains(id),
                    operands == 3 || graph[id].inputs.allSatisfy({ input in
                        let shape = graph[input].shape.resolved(batch: batch)
                        return shape.count == 2 && shape[0] <= Plan.gradientKernelRows
                    }),
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
        if options.fuse, options.inPlace, options.fuseInputGradients {
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

        // A convolution or max-pool gradient whose output only an element-wise group reads takes
        // that group as its epilogue: the output is finished a block at a time while in cache.
        if let fusion, options.fuse, options.inPlace, options.fuseEpilogues {
            var into: [Int: Int] = [:]
            for u in units.indices where units[u].group == nil {
                let id = units[u].members[0]
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

        // An update's kernel waits for every other reader of its target, so it can write in place.
        if options.inPlace {
            for update in graph.updates {
                let u = unitOf[update.value.index]
                guard u >= 0 else { continue }
                for reader in consumers[update.target] ?? [] where reader != u && !reaches(reader, u) {
                    units[u].dependencies.insert(reader)
                }
            }
        }
        func bytes(_ id: NodeID) -> Int { graph[id].shape.elementCount(batch: batch) * 4 }

        // Scheduling: program order, and a greedy order that prefers units freeing memory.
        func order(greedy: Bool) throws -> [Int] {
            var remaining = units.map { $0.dependencies.count }
            var dependents = [[Int]](repeating: [], count: units.count)
            for u in units.indices { for d in units[u].dependencies { dependents[d].append(u) } }
            var pendingConsumers = consumers.mapValues { $0.count }
            var ready = Set(units.indices.filter { remaining[$0] == 0 })
            var done = Set<Int>()
            var result: [Int] = []
            func score(_ u: Int) -> Int {
                var freed = 0
                var allocated = 0
                var seen = Set<NodeID>()
                for m in units[u].members {
                    for input in graph[m].inputs {
                        let r = root(input)
                        guard !isLeaf(r), unitOf[r.index] != u, !seen.contains(r), !results.contains(r) else { continue }
                        seen.insert(r)
                        if pendingConsumers[r] == 1 { freed += bytes(r) }
                    }
                }
                for o in units[u].outputs {
                    if let t = targetOf[o], (consumers[t] ?? []).allSatisfy({ $0 == u || done.contains($0) }) { continue }
                    allocated += bytes(o)
                }
                return freed - allocated
            }
            while !ready.isEmpty {
                let next: Int
                if greedy {
                    next = ready.max { a, b in
                        let (sa, sb) = (score(a), score(b))
                        return sa != sb ? sa < sb : a > b
                    }!
                } else {
                    next = ready.min()!
                }
                ready.remove(next)
                done.insert(next)
                result.append(next)
                var seen = Set<NodeID>()
                for m in units[next].members {
                    for input in graph[m].inputs {
                        let r = root(input)
                        if unitOf[r.index] != next, !seen.contains(r) {
                            seen.insert(r)
                            pendingConsumers[r, default: 1] -= 1
                        }
                    }
                }
                for d in dependents[next] {
                    remaining[d] -= 1
                    if remaining[d] == 0 { ready.insert(d) }
                }
            }
            // Units wait on each other only if a fusion decision above joined nodes into a cycle:
            // a planner bug, not the model's. Say so, and how to compile around it.
            guard result.count == units.count else {
                let stuck = units.indices.filter { remaining[$0] > 0 }.prefix(5).map { u in units[u].members.map { graph[$0].name } }
                throw CompilerError(
                    "cannot schedule \(graph.name): \(units.count - result.count) of \(units.count) kernels wait on each other (\(stuck)); "
                        + "this is a bug in Gauge's planner: please report it, and compile with "
                        + "CompileOptions(planner: .init(fuse: false)) meanwhile")
            }
            return result
        }

        var candidates = [("program order", try order(greedy: false))]
        if options.schedule { candidates.append(("memory-greedy", try order(greedy: true))) }
        var best: (String, Layout)?
        var tried: [(String, Int)] = []
        for (name, schedule) in candidates {
            let layout = lay(
                schedule, units: units, graph: graph, batch: batch, consumers: consumers, unitOf: unitOf, root: root,
                isLeaf: isLeaf, results: results, inPlace: options.inPlace)
            tried.append((name, layout.arenaBytes))
            if best == nil || layout.arenaBytes < best!.1.arenaBytes { best = (name, layout) }
        }
        let (chosen, layout) = best!

        // Instructions in schedule order.
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
        var plan = Plan(
            graph: graph, batch: batch, buffers: layout.buffers, instructions: instructions, bufferOf: layout.bufferOf)
        plan.arenaBytes = layout.arenaBytes
        plan.liveRanges = layout.liveRanges
        plan.inPlaceUpdates = layout.inPlaceUpdates
        let naive = graph.nodes.reduce(0) { sum, node in
            node.op.isLeaf || node.op.isView ? sum : sum + bytes(node.id)
        }
        let report = Report(
            fusion: fusion, schedules: tried, chosenSchedule: chosen, naiveBytes: naive, arenaBytes: layout.arenaBytes,
            peakPosition: layout.peakPosition, peakBuffers: layout.peakBuffers)
        return (plan, report)
    }

    struct Layout {
        var schedule: [Int]
        var buffers: [Plan.Buffer]
        var bufferOf: [Int]
        var arenaBytes: Int
        var liveRanges: [Plan.LiveRange]
        var inPlaceUpdates: Set<NodeID>
        var peakPosition: Int
        var peakBuffers: [(node: NodeID, bytes: Int)]
    }

    /// Buffers, in-place decisions and arena offsets for one schedule.
    static func lay(
        _ schedule: [Int], units: [Unit], graph: Graph, batch: Int, consumers: [NodeID: Set<Int>], unitOf: [Int],
        root: (NodeID) -> NodeID, isLeaf: (NodeID) -> Bool, results: Set<NodeID>, inPlace: Bool
    ) -> Layout {
        var position = [Int](repeating: 0, count: units.count)
        for (p, u) in schedule.enumerated() { position[u] = p }
        let end = schedule.count
        var buffers: [Plan.Buffer] = []
        var bufferOf = [Int](repeating: -1, count: graph.nodes.count)
        func elements(_ id: NodeID) -> Int { graph[id].shape.elementCount(batch: batch) }

        // Leaves and constants that are units' own: separate memory.
        for node in graph.nodes where isLeaf(node.id) {
            bufferOf[node.id.index] = buffers.count
            buffers.append(Plan.Buffer(elements: elements(node.id), dtype: node.dtype, placement: .own))
        }
        // Updates written straight into their target: every other reader of the target runs earlier.
        var inPlaceUpdates = Set<NodeID>()
        if inPlace {
            for update in graph.updates {
                let u = unitOf[update.value.index]
                guard u >= 0, units[u].outputs.contains(update.value) else { continue }
                let readers = consumers[update.target] ?? []
                let readsTarget = readers.contains(u)
                guard readers.allSatisfy({ $0 == u || position[$0] < position[u] }), !readsTarget || units[u].group != nil
                else { continue }
                bufferOf[update.value.index] = bufferOf[update.target.index]
                inPlaceUpdates.insert(update.value)
            }
        }

        // Arena values: unit outputs not written in place.
        struct Block {
            var first: Int
            var last: Int
            var bytes: Int
            var values: [NodeID]
        }
        var blocks: [Block] = []
        var blockOf: [NodeID: Int] = [:]
        for u in schedule {
            for o in units[u].outputs where bufferOf[o.index] < 0 {
                let lastUse =
                    results.contains(o) ? end : (consumers[o] ?? []).map { position[$0] }.max() ?? position[u]
                let bytes = (elements(o) * 4 + 63) / 64 * 64
                // In-place within the arena: a full-size operand of this fused kernel that dies here,
                // for an element-wise output only (a product that joined the kernel, such as an
                // input gradient made beside a weight update, reads its operands while it writes),
                // and not where a producer writes the output first (an epilogue's).
                if inPlace, units[u].group != nil, units[u].epilogue == nil, Fusion.isElementwise(graph[o].op) {
                    let memberSet = Set(units[u].members)
                    let candidate = units[u].members.flatMap { graph[$0].inputs }.map(root).first { x in
                        guard let b = blockOf[x], !memberSet.contains(x), !results.contains(x),
                            blocks[b].bytes == bytes, blocks[b].last == position[u],
                            blocks[b].values.last == x, graph[x].shape == graph[o].shape
                        else { return false }
                        return (consumers[x] ?? []).map { position[$0] }.max() == position[u]
                    }
                    if let x = candidate, let b = blockOf[x] {
                        blocks[b].last = max(blocks[b].last, lastUse)
                        blocks[b].values.append(o)
                        blockOf[o] = b
                        continue
                    }
                }
                blockOf[o] = blocks.count
                blocks.append(Block(first: position[u], last: max(lastUse, position[u]), bytes: bytes, values: [o]))
            }
        }
        // Offsets: best fit by decreasing size among blocks whose live ranges overlap.
        var offsets = [Int](repeating: 0, count: blocks.count)
        var placed: [Int] = []
        for b in blocks.indices.sorted(by: { blocks[$0].bytes != blocks[$1].bytes ? blocks[$0].bytes > blocks[$1].bytes : $0 < $1 }) {
            let overlapping = placed.filter { blocks[$0].first <= blocks[b].last && blocks[b].first <= blocks[$0].last }
                .sorted { offsets[$0] < offsets[$1] }
            var bestOffset: Int?
            var bestGap = Int.max
            var cursor = 0
            for p in overlapping {
                let gap = offsets[p] - cursor
                if gap >= blocks[b].bytes && gap < bestGap {
                    bestGap = gap
                    bestOffset = cursor
                }
                cursor = max(cursor, offsets[p] + blocks[p].bytes)
            }
            offsets[b] = bestOffset ?? cursor
            placed.append(b)
        }
        let arenaBytes = blocks.indices.map { offsets[$0] + blocks[$0].bytes }.max() ?? 0
        var liveRanges: [Plan.LiveRange] = []
        for (b, block) in blocks.enumerated() {
            let buffer = buffers.count
            buffers.append(
                Plan.Buffer(elements: block.bytes / 4, dtype: .float32, placement: .arena(offset: offsets[b])))
            for v in block.values { bufferOf[v.index] = buffer }
            liveRanges.append(Plan.LiveRange(buffer: buffer, first: block.first, last: block.last))
        }
        // Constants kept as units and any value still without a buffer get their own.
        for node in graph.nodes where bufferOf[node.id.index] < 0 && unitOf[node.id.index] >= 0
            && units[unitOf[node.id.index]].outputs.contains(node.id)
        {
            bufferOf[node.id.index] = buffers.count
            buffers.append(Plan.Buffer(elements: elements(node.id), dtype: node.dtype, placement: .own))
        }
        // Views share their root's buffer.
        for node in graph.nodes where bufferOf[node.id.index] < 0 {
            let r = root(node.id)
            if r != node.id { bufferOf[node.id.index] = bufferOf[r.index] }
        }
        // The peak: the position where live arena bytes are largest, and who is live there.
        var peakPosition = 0
        var peakBytes = -1
        for p in 0..<max(end, 1) {
            let live = blocks.filter { $0.first <= p && p <= $0.last }.reduce(0) { $0 + $1.bytes }
            if live > peakBytes {
                peakBytes = live
                peakPosition = p
            }
        }
        let peakBuffers = blocks.filter { $0.first <= peakPosition && peakPosition <= $0.last }
            .map { (node: $0.values[0], bytes: $0.bytes) }.sorted { $0.bytes > $1.bytes }
        return Layout(
            schedule: schedule, buffers: buffers, bufferOf: bufferOf, arenaBytes: arenaBytes, liveRanges: liveRanges,
            inPlaceUpdates: inPlaceUpdates, peakPosition: peakPosition, peakBuffers: peakBuffers)
    }
}
