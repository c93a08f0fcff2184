import Graph

/// The layout pass of `MemoryPlanner.plan`, for one schedule: which values get buffers of their
/// own, which updates are written straight into their target, which element-wise outputs take
/// over a dying operand's memory, and every other value's offset in the arena (best fit by
/// decreasing size over live ranges), with the peak for the report.
extension MemoryPlanner {
    struct ArenaLayout {
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
    static func lay(_ schedule: [Int], _ planUnits: PlanUnits, inPlace: Bool) -> ArenaLayout {
        let (units, graph, batch, consumers) = (planUnits.units, planUnits.graph, planUnits.batch, planUnits.consumers)
        let results = planUnits.results
        func root(_ id: NodeID) -> NodeID { planUnits.root(id) }
        func isLeaf(_ id: NodeID) -> Bool { planUnits.isLeaf(id) }
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
        for (value, target) in inPlace ? updatesInPlace(planUnits, position: position) : [] {
            bufferOf[value.index] = bufferOf[target.index]
            inPlaceUpdates.insert(value)
        }

        // Arena values: unit outputs not written in place.
        var blocks: [ArenaBlock] = []
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
                blocks.append(ArenaBlock(first: position[u], last: max(lastUse, position[u]), bytes: bytes, values: [o]))
            }
        }
        let offsets = bestFitOffsets(blocks)
        let arenaBytes = blocks.indices.map { offsets[$0] + blocks[$0].bytes }.max() ?? 0
        var liveRanges: [Plan.LiveRange] = []
        for (b, block) in blocks.enumerated() {
            let buffer = buffers.count
            buffers.append(
                Plan.Buffer(elements: block.bytes / 4, dtype: .float32, placement: .arena(offset: offsets[b])))
            for v in block.values { bufferOf[v.index] = buffer }
            liveRanges.append(Plan.LiveRange(buffer: buffer, first: block.first, last: block.last))
        }
        ownOrShared(planUnits, &buffers, &bufferOf)
        let (peakPosition, peakBuffers) = peak(blocks, positions: end)
        return ArenaLayout(
            schedule: schedule, buffers: buffers, bufferOf: bufferOf, arenaBytes: arenaBytes, liveRanges: liveRanges,
            inPlaceUpdates: inPlaceUpdates, peakPosition: peakPosition, peakBuffers: peakBuffers)
    }

    /// Values sharing one arena range: the first and last schedule positions it is live, its
    /// bytes (rounded up to 64), and the values written into it one after another (in place).
    struct ArenaBlock {
        var first: Int
        var last: Int
        var bytes: Int
        var values: [NodeID]
    }

    /// The updates that can be written straight into their target (value, target): every other
    /// reader of the target runs earlier, or inside the update's own fused kernel.
    static func updatesInPlace(_ planUnits: PlanUnits, position: [Int]) -> [(value: NodeID, target: NodeID)] {
        let (units, consumers) = (planUnits.units, planUnits.consumers)
        return planUnits.graph.updates.compactMap { update in
            let u = planUnits.unitOf[update.value.index]
            guard u >= 0, units[u].outputs.contains(update.value) else { return nil }
            let readers = consumers[update.target] ?? []
            let readsTarget = readers.contains(u)
            guard readers.allSatisfy({ $0 == u || position[$0] < position[u] }), !readsTarget || units[u].group != nil
            else { return nil }
            return (update.value, update.target)
        }
    }

    /// After the arena: unit outputs still without a buffer (constants kept as units) get their
    /// own, and views share their root's.
    static func ownOrShared(_ planUnits: PlanUnits, _ buffers: inout [Plan.Buffer], _ bufferOf: inout [Int]) {
        let (units, graph, unitOf) = (planUnits.units, planUnits.graph, planUnits.unitOf)
        for node in graph.nodes where bufferOf[node.id.index] < 0 && unitOf[node.id.index] >= 0
            && units[unitOf[node.id.index]].outputs.contains(node.id)
        {
            bufferOf[node.id.index] = buffers.count
            buffers.append(
                Plan.Buffer(elements: node.shape.elementCount(batch: planUnits.batch), dtype: node.dtype, placement: .own))
        }
        for node in graph.nodes where bufferOf[node.id.index] < 0 {
            let r = planUnits.root(node.id)
            if r != node.id { bufferOf[node.id.index] = bufferOf[r.index] }
        }
    }

    /// Offsets: best fit by decreasing size among blocks whose live ranges overlap.
    static func bestFitOffsets(_ blocks: [ArenaBlock]) -> [Int] {
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
        return offsets
    }

    /// The peak: the position where live arena bytes are largest, and who is live there.
    static func peak(_ blocks: [ArenaBlock], positions: Int) -> (position: Int, buffers: [(node: NodeID, bytes: Int)]) {
        var peakPosition = 0
        var peakBytes = -1
        for p in 0..<max(positions, 1) {
            let live = blocks.filter { $0.first <= p && p <= $0.last }.reduce(0) { $0 + $1.bytes }
            if live > peakBytes {
                peakBytes = live
                peakPosition = p
            }
        }
        let buffers = blocks.filter { $0.first <= peakPosition && peakPosition <= $0.last }
            .map { (node: $0.values[0], bytes: $0.bytes) }.sorted { $0.bytes > $1.bytes }
        return (peakPosition, buffers)
    }
}
