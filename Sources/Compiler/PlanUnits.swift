import Graph

/// The memory planner's working graph: the kernels to be — "units", each a fused element-wise
/// group or a single primitive — what each waits for, and the decisions that join units into one
/// kernel. `MemoryPlanner.plan` runs its stages in order, each readable and timed alone:
/// `init` (units from the fusion groups), the joins (`PlanUnits+Joins.swift`), scheduling
/// (`PlanUnits+Schedule.swift`), the memory layout (`MemoryPlanner.lay`) and the instructions
/// (`PlanUnits+Emit.swift`).
struct PlanUnits {
    struct Unit {
        var members: [NodeID]
        var group: Int?
        var outputs: [NodeID]
        var dependencies: Set<Int> = []
        /// The producer a group runs as the epilogue of, and the group input it fills.
        var epilogue: (producer: NodeID, slot: Int)? = nil
    }

    let graph: Graph
    let batch: Int
    let fusion: Fusion.Result?
    /// The values the plan must keep (outputs, losses, update values), as view roots.
    let results: Set<NodeID>
    /// The target each update value overwrites.
    let targetOf: [NodeID: NodeID]
    var units: [Unit] = []
    /// Each node's unit, or −1 (leaves, views, constants inlined into groups).
    var unitOf: [Int]
    /// Each materialised value's consumer units.
    var consumers: [NodeID: Set<Int>] = [:]
    /// Units whose kernel makes a weight gradient (`gemm`) and runs the update that reads it,
    /// filling the group's input `slot` a block at a time.
    var gradientOf: [Int: (gemm: NodeID, slot: Int)] = [:]
    /// Units that also make a per-class layer's input gradient, reading the weights being
    /// updated once for both.
    var inputGradientOf: [Int: (product: NodeID, weights: NodeID)] = [:]

    func root(_ id: NodeID) -> NodeID { graph.viewRoot(id) }
    func isLeaf(_ id: NodeID) -> Bool { graph[id].op.isLeaf }
    func bytes(_ id: NodeID) -> Int { graph[id].shape.elementCount(batch: batch) * 4 }

    /// One unit per fused group and per other primitive (not leaves, views, or constants only
    /// groups read), with the units each waits for and every value's consumers.
    init(_ graph: Graph, batch: Int, fusion: Fusion.Result?) {
        self.graph = graph
        self.batch = batch
        self.fusion = fusion
        results = Set(((graph.outputs + graph.losses).map(\.node) + graph.updates.map(\.value)).map { graph.viewRoot($0) })
        targetOf = Dictionary(graph.updates.map { ($0.value, $0.target) }, uniquingKeysWith: { a, _ in a })
        unitOf = [Int](repeating: -1, count: graph.nodes.count)
        let users = graph.users()
        func isView(_ id: NodeID) -> Bool { graph[id].op.isView }
        let results = self.results
        func inlined(_ id: NodeID) -> Bool {
            guard let fusion, case .constant = graph[id].op, !results.contains(id) else { return false }
            return users[id.index].allSatisfy { fusion.groupOf[$0.index] != nil }
        }
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
        consumers = consumerMap()
    }

    /// Values (materialised unit outputs) with their consumer units.
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

    /// Whether unit `from` waits, directly or not, for unit `to`.
    func reaches(_ from: Int, _ to: Int) -> Bool {
        var seen = Set<Int>()
        var stack = [from]
        while let u = stack.popLast() {
            if u == to { return true }
            if seen.insert(u).inserted { stack.append(contentsOf: units[u].dependencies) }
        }
        return false
    }

    /// Unit `u`'s single primitive runs first inside unit `a`, which then waits for what `u`
    /// waited for (`merge` drops `u` afterwards).
    mutating func absorb(_ u: Int, into a: Int) {
        units[a].members.insert(units[u].members[0], at: 0)
        units[a].dependencies.formUnion(units[u].dependencies)
        units[a].dependencies.remove(u)
    }

    /// Units merged into another (`into[u]`): dropped, their dependents now wait for the
    /// unit that holds them.
    mutating func merge(_ into: [Int: Int]) {
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
}
