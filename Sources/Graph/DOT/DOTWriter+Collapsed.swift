/// A graph with its scopes collapsed: the nodes of each named scope, cut to at most `depth`
/// levels (a node's scope path is its scopes joined by "/"), are one box naming the scope, its
/// op count and most frequent ops, its parameters and optimizer state; nodes outside every
/// scope stay as they are.
/// Edges between boxes are merged, labelled with the shape when one value crosses and with
/// the count when several do. With `only`, the part's outside inputs are collapsed the same way
/// and drawn dashed.
extension DOTWriter {
    func writeCollapsed(_ graph: Graph, depth: Int) -> String {
        let shown = shows
        func scopeOf(_ node: Node) -> String? {
            node.scopePath.isEmpty ? nil : node.scopePath.prefix(depth).joined(separator: "/")
        }
        // A box's DOT id; the part's outside inputs get boxes of their own.
        func item(_ id: NodeID) -> String {
            scopeOf(graph[id]).map { quote((shown(id) ? "scope " : "outside ") + $0) } ?? "n\(id.index)"
        }

        var out = "digraph \(quote(graph.name)) {\n" + defaults(graph)
        let drawn = graph.nodes.filter { shown($0.id) }
        let boundary = outsideInputs(of: drawn)
        let outside = Set(boundary)
        // Boxes in order of their first node; the part's own nodes first, then its boundary.
        var boxes: [(id: String, scope: String, members: [Node], outside: Bool)] = []
        var boxIndex: [String: Int] = [:]
        for (nodes, outside) in [(drawn, false), (boundary.map { graph[$0] }, true)] {
            for n in nodes {
                guard let scope = scopeOf(n) else {
                    out += "  " + (outside ? outsideNode(n) : node(n, in: graph)) + "\n"
                    continue
                }
                let id = item(n.id)
                if let b = boxIndex[id] {
                    boxes[b].members.append(n)
                } else {
                    boxIndex[id] = boxes.count
                    boxes.append((id, scope, [n], outside))
                }
            }
        }
        for box in boxes { out += "  " + scopeBox(box.id, box.scope, box.members, outside: box.outside) + "\n" }
        // Merged edges, in order of first appearance.
        var edges: [(from: String, to: String, values: [NodeID])] = []
        var edgeIndex: [[String]: Int] = [:]
        for n in drawn {
            for input in n.inputs {
                let (from, to) = (item(input), item(n.id))
                guard from != to else { continue }
                if let e = edgeIndex[[from, to]] {
                    if !edges[e].values.contains(input) { edges[e].values.append(input) }
                } else {
                    edgeIndex[[from, to]] = edges.count
                    edges.append((from, to, [input]))
                }
            }
        }
        for edge in edges {
            let label = edge.values.count == 1 ? graph[edge.values[0]].type.description : "\(edge.values.count) values"
            out += "  \(edge.from) -> \(edge.to) [label=\(quote(label))];\n"
        }
        out += results(graph, shown: shown, item: item)
        var updates: [[String]: Int] = [:]
        var updateOrder: [[String]] = []
        for update in graph.updates where shown(update.value) && (shown(update.target) || outside.contains(update.target)) {
            let pair = [item(update.value), item(update.target)]
            guard pair[0] != pair[1] else { continue }
            if updates[pair] == nil { updateOrder.append(pair) }
            updates[pair, default: 0] += 1
        }
        for pair in updateOrder {
            let count = updates[pair]!  // updateOrder lists the keys of updates
            let label = count == 1 ? "update" : "\(count) updates"
            out += "  \(pair[0]) -> \(pair[1]) [style=dashed, color=\"#cc0000\", constraint=false, label=\"\(label)\"];\n"
        }
        return out + "}\n"
    }

    /// One collapsed scope: its name, its ops (count and the most frequent), and the elements of
    /// its parameters, of its variables (optimizer state) and its inputs.
    private func scopeBox(_ id: String, _ scope: String, _ members: [Node], outside: Bool) -> String {
        var counts: [String: Int] = [:]
        var (parameters, variables, inputs) = (0, 0, 0)
        for n in members {
            if case .parameter = n.op {
                parameters += n.type.shape.elementCount(batch: 1)
            } else if case .variable = n.op {
                variables += n.type.shape.elementCount(batch: 1)
            } else if n.isInput {
                inputs += 1
            } else {
                counts[n.op.name, default: 0] += 1
            }
        }
        let ops = counts.values.reduce(0, +)
        let frequent = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let top = frequent.prefix(3).map { "\($0.value) \($0.key)" }.joined(separator: ", ") + (frequent.count > 3 ? ", …" : "")
        var lines = [scope]
        if ops > 0 { lines.append("\(ops) op\(ops == 1 ? "" : "s"): \(top)") }
        if parameters > 0 { lines.append("\(Self.count(parameters)) parameters") }
        if variables > 0 { lines.append("\(Self.count(variables)) in variables") }
        if inputs > 0 { lines.append("\(inputs) input\(inputs == 1 ? "" : "s")") }
        let tooltip = frequent.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let style = outside
            ? "style=\"rounded,dashed\", color=gray60, fontcolor=gray40"
            : "style=\"rounded,filled\", fillcolor=\"#eef3fb\", color=\"#6d9eeb\""
        return "\(id) [label=\(quote(lines.joined(separator: "\n"))), tooltip=\(quote(tooltip)), shape=box, \(style)];"
    }

    /// A node outside the part drawn: its name and type, dashed.
    func outsideNode(_ outside: Node) -> String {
        let label = quote("\(outside.name)\n\(outside.type.description)")
        return "n\(outside.id.index) [label=\(label), tooltip=\(quote("outside the part drawn: \(outside.name) — \(outside.location)")), shape=box, style=\"rounded,dashed\", color=gray60, fontcolor=gray40];"
    }

    /// 123,494,860 as "123.5 M", 81,920 as "81.9 k", small counts as they are.
    static func count(_ n: Int) -> String {
        func tenths(_ unit: Int, _ suffix: String) -> String {
            let t = (n + unit / 20) / (unit / 10)
            return "\(t / 10).\(t % 10) \(suffix)"
        }
        if n >= 1_000_000 { return tenths(1_000_000, "M") }
        if n >= 10_000 { return tenths(1_000, "k") }
        return "\(n)"
    }
}
