import Graph

extension CompileReport {
    /// The report as text: pass times and node counts, simplification, fusion groups with their
    /// reasons, and memory (arena vs naive, the schedule kept, the buffers live at the peak).
    public func text(for graph: Graph, plan: Plan, groups: Int = 12) -> String {
        var lines = ["compile report (batch \(plan.batch)): \(fixed(totalSeconds * 1000, 1)) ms", ""]
        lines.append("  pass                              ms      nodes")
        for p in passes {
            let unit = p.name.hasPrefix("fuse") || p.name.hasPrefix("plan") ? " kernels" : ""
            lines.append("  " + pad(p.name, 30) + pad(p.name == "model" ? "" : fixed(p.seconds * 1000, 1), 8, right: true) + pad(String(p.nodes), 10, right: true) + unit)
            // The memory planner's own stages, indented under its pass.
            if p.name.hasPrefix("fuse"), let memory {
                for s in memory.stages { lines.append("    " + pad(s.name, 28) + pad(fixed(s.seconds * 1000, 1), 8, right: true)) }
            }
        }
        if let s = simplify {
            lines.append("")
            lines.append("simplify: \(s.identities) identities, \(s.folded) constants folded, \(s.merged) common subexpressions merged, \(s.removed) dead nodes removed")
        }
        if let memory, let fusion = memory.fusion {
            let fused = fusion.groups.filter { $0.members.count > 1 }
            let elementwise = fusion.groups.reduce(0) { $0 + $1.members.count }
            lines.append("")
            lines.append("fusion: \(elementwise) element-wise ops in \(fusion.groups.count) kernels (\(fused.count) fuse two or more ops)")
            for (k, g) in fusion.groups.enumerated().sorted(by: { $0.element.members.count > $1.element.members.count }).prefix(groups) {
                let first = plan.graph[g.members[0]]
                lines.append("  group \(k): \(g.reason); \(g.outputs.count) output\(g.outputs.count == 1 ? "" : "s"); \(first.location.shortDescription)")
            }
            var notFused: [String: Int] = [:]
            for d in fusion.decisions where d.reason.hasPrefix("not fused") {
                let key = d.reason.split(separator: "(")[0].trimmingCharacters(in: .whitespaces)
                notFused[key, default: 0] += 1
            }
            for (reason, count) in notFused.sorted(by: { $0.value > $1.value }) { lines.append("  \(count) × \(reason)") }
            let updates = plan.instructions.compactMap { i -> Bool? in
                guard case .gradientUpdate(_, _, _, let weights) = i.kernel else { return nil }
                return weights != nil
            }
            if !updates.isEmpty {
                let both = updates.filter { $0 }.count
                lines.append("  \(updates.count) weight gradient\(updates.count == 1 ? "" : "s") made inside the update (\(both) per-class with the input gradient): \(Plan.gradientUpdateReason(inputGradient: both > 0))")
            }
            let epilogues = plan.instructions.compactMap { i -> String? in
                guard case .epilogue(let producer, _, _, _) = i.kernel else { return nil }
                return producer.name
            }
            if !epilogues.isEmpty {
                let counts = Dictionary(epilogues.map { ($0, 1) }, uniquingKeysWith: +).sorted { $0.key < $1.key }
                lines.append("  \(epilogues.count) group\(epilogues.count == 1 ? "" : "s") run as the epilogue of their producer (\(counts.map { "\($0.value) \($0.key)" }.joined(separator: ", "))): \(Plan.epilogueReason)")
            }
            lines.append("")
            let percent = memory.naiveBytes > 0 ? 100 * Double(memory.arenaBytes) / Double(memory.naiveBytes) : 0
            lines.append("memory: arena \(byteText(memory.arenaBytes)) vs \(byteText(memory.naiveBytes)) if every intermediate had its own buffer (\(fixed(percent, 1)) %); exact for this plan")
            lines.append("  schedules tried: " + memory.schedules.map { "\($0.name) \(byteText($0.peakBytes))" }.joined(separator: ", ") + "; kept \(memory.chosenSchedule)")
            let state = plan.graph.nodes.filter(\.op.isStored).reduce(0) { $0 + $1.shape.fixedElementCount * 4 }
            let copied = plan.graph.updates.filter { !plan.inPlaceUpdates.contains($0.value) }.map { plan.graph[$0.target].name }
            lines.append("  parameters and optimizer state (outside the arena): \(byteText(state)); updates in place: \(plan.inPlaceUpdates.count) of \(plan.graph.updates.count)" + (copied.isEmpty ? "" : " (copied at the end: \(copied.prefix(6).joined(separator: ", "))\(copied.count > 6 ? ", …" : ""))"))
            lines.append("  live at the peak (kernel \(memory.peakPosition) of \(plan.instructions.count)):")
            for (node, bytes) in memory.peakBuffers.prefix(8) {
                let n = plan.graph[node]
                lines.append("    " + pad(byteText(bytes), 10, right: true) + "  \(n.type)  \(n.call) (\(n.op.name))  \(n.location.shortDescription)")
            }
            if memory.peakBuffers.count > 8 { lines.append("    … and \(memory.peakBuffers.count - 8) smaller") }
        }
        return lines.joined(separator: "\n")
    }
}
