import Graph

extension PlanUnits {
    /// An order of the units that respects what each waits for: program order, or (`greedy`)
    /// at each point the ready unit that frees the most memory net of what it allocates. A unit
    /// left waiting means a join made a cycle: a planner bug, reported as one.
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
}
