/// Writes a graph as Graphviz DOT: nodes labelled with op, shape and source line; parameters,
/// inputs and constants drawn apart from activations; named scopes as nested clusters; edges
/// labelled with the shape they carry. Output depends only on the graph (nodes in id order,
/// clusters in order of first node), so it can be snapshot-tested.
public struct DOTWriter: Sendable {
    /// A cluster drawn instead of scopes (fusion groups in the optimized stage).
    public struct Cluster: Sendable {
        public var label: String
        public var tooltip: String
        public var nodes: [NodeID]
        public init(label: String, tooltip: String, nodes: [NodeID]) {
            self.label = label
            self.tooltip = tooltip
            self.nodes = nodes
        }
    }

    /// Extra text for chosen nodes, shown under the label (for later compiler stages).
    public var annotations: [NodeID: String]
    /// Show `File.swift:line` in node labels.
    public var showLocations: Bool
    /// When set, these clusters replace the scope clusters.
    public var clusters: [Cluster]?
    /// The graph's heading (default: its name).
    public var title: String?
    /// Clustered graphs of more nodes than this are laid out with straight edges and one
    /// placement pass (see `write`).
    public static let largeGraph = 300
    /// Values written over another value's memory (the planned stage's in-place decisions),
    /// each with the value whose memory it takes. The edge between them is drawn thick and
    /// green, or added dotted (without moving the layout) where the value reads the other only
    /// through its fused kernel; an update written into its parameter says "update, in place".
    public var inPlace: [NodeID: NodeID] = [:]
    /// When set, each named scope cut to at most this many levels is drawn as one box (see
    /// `writeCollapsed`); fusion clusters and annotations are then left out.
    public var collapseDepth: Int?
    /// When set, only these nodes are drawn (one part of a large graph); the values they read
    /// from outside it are drawn as dashed grey boundary nodes, so every edge keeps both ends.
    public var only: Set<NodeID>?

    public init(
        annotations: [NodeID: String] = [:], showLocations: Bool = true, clusters: [Cluster]? = nil,
        only: Set<NodeID>? = nil, title: String? = nil
    ) {
        self.annotations = annotations
        self.showLocations = showLocations
        self.clusters = clusters
        self.only = only
        self.title = title
    }

    public func write(_ graph: Graph) -> String {
        if let collapseDepth { return writeCollapsed(graph, depth: collapseDepth) }
        var out = "digraph \(quote(graph.name)) {\n"
        let shown = shows
        let drawn = graph.nodes.filter { shown($0.id) }
        // Fusion clusters cut across the scopes, and dot's default ranking fails on them for the
        // paper's models ("trouble in init_rank"); its newer ranking lays them out. The long
        // forward-to-gradient edges of a whole ace-cifar step give dot ~36,000 virtual nodes,
        // slow to place and route; one network-simplex pass for x and straight edges are about
        // ten times faster (`dot -Gsplines=spline` routes curves around the nodes again; times
        // in `docs/kernels.md`).
        var layout = clusters == nil ? "" : "newrank=true, "
        if clusters != nil && drawn.count > Self.largeGraph { layout += "nslimit=1, splines=line, " }
        out += defaults(graph, layout: layout)
        if let clusters {
            var clustered = Set<NodeID>()
            for (k, cluster) in clusters.enumerated() {
                let members = cluster.nodes.filter(shown)
                if members.isEmpty { continue }
                out += "  subgraph \"cluster_\(k)\" {\n"
                out += "    label=\(quote(cluster.label)); tooltip=\(quote(cluster.tooltip)); style=\"rounded,filled\"; fillcolor=\"#eef3fb\"; color=\"#6d9eeb\";\n"
                for id in members {
                    out += "    " + node(graph[id], in: graph) + "\n"
                    clustered.insert(id)
                }
                out += "  }\n"
            }
            for n in drawn where !clustered.contains(n.id) { out += "  " + node(n, in: graph) + "\n" }
        } else {
            let tree = ScopeTree(drawn)
            out += tree.render(graph: graph, indent: "  ") { node($0, in: graph) }
        }
        let outside = outsideInputs(of: drawn)
        for id in outside { out += "  " + outsideNode(graph[id]) + "\n" }
        let boundary = Set(outside)
        let updates = Set(graph.updates.map { [$0.value, $0.target] })
        let green = "color=\"#38761d\", fontcolor=\"#38761d\", penwidth=2"
        for node in drawn {
            let over = inPlace[node.id]
            for input in node.inputs {
                let shape = graph[input].type.description
                out += "  n\(input.index) -> n\(node.id.index) "
                out += input == over ? "[label=\(quote("\(shape) in place")), \(green)];\n" : "[label=\(quote(shape))];\n"
            }
            if let over, !node.inputs.contains(over), !updates.contains([node.id, over]), shown(over) || boundary.contains(over) {
                out += "  n\(over.index) -> n\(node.id.index) [label=\"in place\", style=dotted, constraint=false, \(green)];\n"
            }
        }
        out += results(graph, shown: shown) { "n\($0.index)" }
        for update in graph.updates
        where shown(update.value) && (shown(update.target) || boundary.contains(update.target)) {
            let label = inPlace[update.value] == update.target ? "update, in place" : "update"
            out += "  n\(update.value.index) -> n\(update.target.index) [style=dashed, color=\"#cc0000\", constraint=false, label=\"\(label)\"];\n"
        }
        return out + "}\n"
    }

    /// Whether a node is in the part drawn (every node without `only`).
    func shows(_ id: NodeID) -> Bool { only?.contains(id) ?? true }

    /// The values the part drawn reads from the rest of the graph, once each, in id order.
    func outsideInputs(of drawn: [Node]) -> [NodeID] {
        var outside = Set<NodeID>()
        for n in drawn { for input in n.inputs where !shows(input) { outside.insert(input) } }
        return outside.sorted()
    }

    /// The graph's heading and its node and edge defaults.
    func defaults(_ graph: Graph, layout: String = "") -> String {
        "  graph [rankdir=TB, \(layout)fontname=\"Helvetica\", fontsize=11, labelloc=t, label=\(quote(title ?? graph.name))];\n"
            + "  node [fontname=\"Helvetica\", fontsize=10];\n"
            + "  edge [fontname=\"Helvetica\", fontsize=8, color=\"gray40\"];\n"
    }

    /// The outputs and losses of the part drawn, each a marker with an edge from the item (node
    /// or box) that makes it.
    func results(_ graph: Graph, shown: (NodeID) -> Bool, item: (NodeID) -> String) -> String {
        var out = ""
        for (kind, outputs) in [("output", graph.outputs), ("loss", graph.losses)] {
            for output in outputs where shown(output.node) {
                let id = "\(kind)_\(sanitize(output.name))"
                let shape = kind == "loss" ? "doubleoctagon" : "oval"
                out += "  \(id) [label=\(quote("\(kind) \"\(output.name)\"")), shape=\(shape), style=filled, fillcolor=\"#f4cccc\"];\n"
                out += "  \(item(output.node)) -> \(id);\n"
            }
        }
        return out
    }

    func node(_ node: Node, in graph: Graph) -> String {
        var lines = [node.op.detailedName, node.type.description]
        if node.call != node.op.name, !node.isParameter, !node.isInput { lines.insert(node.call, at: 0) }
        if node.isParameter, case .parameter(_, let initializer) = node.op { lines.append(initializer.description) }
        if showLocations, node.location != .generated { lines.append(node.location.shortDescription) }
        if let note = annotations[node.id] { lines.append(note) }
        let style: String
        if case .parameter = node.op {
            style = "shape=box3d, style=filled, fillcolor=\"#fff2cc\""
        } else if case .variable = node.op {
            style = "shape=box3d, style=filled, fillcolor=\"#d9ead3\""
        } else if node.isInput {
            style = "shape=invhouse, style=filled, fillcolor=\"#cfe2f3\""
        } else if case .constant = node.op {
            style = "shape=plaintext, fontsize=8"
        } else {
            style = "shape=box, style=\"rounded,filled\", fillcolor=\(node.op.isRandom ? "\"#ead1dc\"" : "white")"
        }
        let tooltip = "\(node.name) — \(node.location)"
        return "n\(node.id.index) [label=\(quote(lines.joined(separator: "\n"))), tooltip=\(quote(tooltip)), \(style)];"
    }
}

/// Named scopes as a tree, for nested DOT clusters.
private struct ScopeTree {
    var nodes: [NodeID] = []
    var children: [(String, ScopeTree)] = []

    init() {}

    init(_ nodes: [Node]) {
        for node in nodes { insert(node.id, path: node.scope[...]) }
    }

    mutating func insert(_ id: NodeID, path: ArraySlice<String>) {
        guard let head = path.first else {
            nodes.append(id)
            return
        }
        if let i = children.firstIndex(where: { $0.0 == head }) {
            children[i].1.insert(id, path: path.dropFirst())
        } else {
            var child = ScopeTree()
            child.insert(id, path: path.dropFirst())
            children.append((head, child))
        }
    }

    func render(graph: Graph, indent: String, prefix: String = "", node: (Node) -> String) -> String {
        var out = ""
        for id in nodes { out += indent + node(graph[id]) + "\n" }
        for (name, child) in children {
            let path = prefix.isEmpty ? name : "\(prefix)/\(name)"
            out += "\(indent)subgraph \(quote("cluster_\(path)")) {\n"
            out += "\(indent)  label=\(quote(name)); style=\"rounded,dashed\"; color=\"gray50\";\n"
            out += child.render(graph: graph, indent: indent + "  ", prefix: path, node: node)
            out += "\(indent)}\n"
        }
        return out
    }
}

/// A DOT string literal with quotes, backslashes and newlines escaped.
func quote(_ s: String) -> String {
    var out = "\""
    for c in s {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.append(c)
        }
    }
    return out + "\""
}

/// An identifier-safe version of a name.
func sanitize(_ s: String) -> String {
    String(s.map { $0.isLetter || $0.isNumber ? $0 : "_" })
}

extension Graph {
    /// The graph as Graphviz DOT (see `DOTWriter`).
    public func dot(showLocations: Bool = true) -> String {
        DOTWriter(showLocations: showLocations).write(self)
    }
}
