import Graph

/// Checks a plan's memory: every value an instruction reads is still intact when read (no
/// other write to overlapping memory between its definition and its use), in-place writes
/// happen only at a value's last use and only in element-wise kernels, and results survive to
/// the end of the run. Returns the problems found (none for a correct plan).
public enum PlanChecker {
    struct Region: Equatable {
        var arena: Bool
        var start: Int
        var end: Int
        func overlaps(_ o: Region) -> Bool { arena == o.arena && start < o.end && o.start < end }
    }

    public static func check(_ plan: Plan) -> [String] {
        let graph = plan.graph
        func root(_ id: NodeID) -> NodeID { graph.viewRoot(id) }
        func region(_ buffer: Int) -> Region {
            switch plan.buffers[buffer].placement {
            case .arena(let offset): return Region(arena: true, start: offset, end: offset + plan.buffers[buffer].bytes)
            case .own: return Region(arena: false, start: buffer, end: buffer + 1)
            }
        }
        var producedAt: [NodeID: Int] = [:]
        for (p, i) in plan.instructions.enumerated() { for m in i.members { producedAt[m] = p } }
        // Writes, and whether each is element-wise (the same index read and written, so an
        // in-place write at a last use is safe).
        let writes: [(position: Int, region: Region, elementwise: Bool)] = plan.instructions.enumerated().flatMap {
            p, i in
            i.outputs.enumerated().map { k, buffer in
                switch i.kernel {
                case .fused: return (p, region(buffer), true)
                case .gradientUpdate(_, _, _, let weights):  // the last output may be an input gradient
                    return (p, region(buffer), weights == nil || k < i.outputs.count - 1)
                case .primitive, .epilogue: return (p, region(buffer), false)  // an epilogue's producer writes first
                }
            }
        }
        var problems: [String] = []
        func intact(_ value: NodeID, from d: Int, to p: Int, readBy reader: Plan.Instruction?, what: String) {
            let r = root(value)
            let buffer = plan.bufferOf[r.index]
            guard buffer >= 0 else {
                problems.append("\(graph[r].name) has no buffer but is read \(what)")
                return
            }
            let mine = region(buffer)
            for w in writes where w.position > d && w.position <= p && w.region.overlaps(mine) {
                if w.position == p, reader != nil, w.elementwise, w.region == mine { continue }
                if w.position == p, reader == nil { continue }
                problems.append(
                    "\(graph[r].name) (\(what)) is overwritten at instruction \(w.position) (\(graph[plan.instructions[w.position].node].name)) before its use at \(p)")
                return
            }
        }
        for (p, instruction) in plan.instructions.enumerated() {
            for value in instruction.inputNodes {
                let d = producedAt[root(value)] ?? -1
                if d >= p { problems.append("\(graph[value].name) is read at \(p) before it is made at \(d)") }
                intact(value, from: d, to: p, readBy: instruction, what: "read by \(graph[instruction.node].name)")
            }
        }
        let end = plan.instructions.count
        for output in graph.outputs + graph.losses {
            intact(output.node, from: producedAt[root(output.node)] ?? -1, to: end, readBy: nil, what: "a graph result")
        }
        for update in graph.updates where !plan.inPlaceUpdates.contains(update.value) {
            intact(update.value, from: producedAt[root(update.value)] ?? -1, to: end, readBy: nil, what: "an update value")
        }
        // No two arena buffers live at the same time share bytes.
        let ranges = plan.liveRanges
        for a in ranges.indices {
            for b in ranges.indices where b > a {
                let (x, y) = (ranges[a], ranges[b])
                guard x.first <= y.last, y.first <= x.last else { continue }
                if region(x.buffer).overlaps(region(y.buffer)) {
                    problems.append("arena buffers \(x.buffer) and \(y.buffer) overlap while both are live")
                }
            }
        }
        return problems
    }
}

extension Plan.Instruction: Equatable {
    public static func == (a: Plan.Instruction, b: Plan.Instruction) -> Bool { a.node == b.node && a.members == b.members }
}
