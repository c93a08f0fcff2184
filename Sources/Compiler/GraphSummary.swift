import Graph

/// What `gauge summary` prints: node counts by op, parameters by scope, inputs, outputs and
/// forward FLOPs per example for a concrete batch size.
public struct GraphSummary: Sendable {
    public struct ScopeLine: Sendable {
        public var scope: String
        public var parameters: Int
        public var flopsPerExample: Double
    }

    public var name: String
    public var batch: Int
    public var nodeCount: Int
    public var countsByOp: [(op: String, count: Int)]
    public var parameterTensors: Int
    public var parameterCount: Int
    public var parameterBytes: Int
    public var flopsPerExample: Double
    public var scopes: [ScopeLine]
    public var inputs: [String]
    public var outputs: [String]

    public init(_ graph: Graph, batch: Int) {
        name = graph.name
        self.batch = batch
        nodeCount = graph.nodes.count
        var counts: [String: Int] = [:]
        for node in graph.nodes { counts[node.op.name, default: 0] += 1 }
        countsByOp = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { (op: $0.key, count: $0.value) }
        let parameters = graph.parameters
        parameterTensors = parameters.count
        parameterCount = graph.parameterCount
        parameterBytes = parameters.reduce(0) { $0 + $1.shape.fixedElementCount * $1.dtype.byteSize }
        flopsPerExample = Double(CostModel.flops(of: graph, batch: batch)) / Double(batch)
        var scopeOrder: [String] = []
        var byScope: [String: (Int, Int)] = [:]
        for node in graph.nodes {
            let scope = node.scope.first ?? "(top level)"
            if byScope[scope] == nil { scopeOrder.append(scope) }
            var entry = byScope[scope, default: (0, 0)]
            if node.isParameter { entry.0 += node.shape.fixedElementCount }
            entry.1 += CostModel.flops(node, in: graph, batch: batch)
            byScope[scope] = entry
        }
        // scopeOrder lists the keys of byScope.
        scopes = scopeOrder.map {
            ScopeLine(scope: $0, parameters: byScope[$0]!.0, flopsPerExample: Double(byScope[$0]!.1) / Double(batch))
        }
        inputs = graph.inputs.map { "\($0.name) \($0.type)" }
        outputs = graph.outputs.map { "\($0.name) \(graph[$0.node].type)" }
            + graph.losses.map { "loss \"\($0.name)\"" }
    }

    /// The summary as aligned text.
    public var text: String {
        var lines: [String] = []
        lines.append("model \(name), batch \(batch)")
        lines.append("inputs:     " + inputs.joined(separator: ", "))
        lines.append("outputs:    " + outputs.joined(separator: ", "))
        lines.append(
            "parameters: \(grouped(parameterCount)) in \(parameterTensors) tensors, \(byteText(parameterBytes)) float32")
        lines.append("forward:    \(flopText(flopsPerExample)) per example (multiply-add = 2 FLOPs)")
        lines.append("")
        lines.append("by scope                      parameters      forward FLOPs/example")
        for s in scopes {
            lines.append(
                pad(s.scope, 28) + pad(grouped(s.parameters), 14, right: true) + "      " + flopText(s.flopsPerExample))
        }
        lines.append("")
        lines.append("nodes: \(nodeCount)")
        for (op, count) in countsByOp { lines.append("  " + pad(op, 22) + pad(String(count), 6, right: true)) }
        return lines.joined(separator: "\n")
    }
}

func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}

/// A byte count for people: "494.0 MB" from 1 MB, "0.1 kB" below (decimal units). The one
/// formatter of summaries, compile reports and DOT labels.
public func byteText(_ n: Int) -> String {
    let mb = Double(n) / 1_000_000
    return mb >= 1 ? "\(fixed(mb, 1)) MB" : "\(fixed(Double(n) / 1000, 1)) kB"
}

func flopText(_ f: Double) -> String {
    if f >= 1e9 { return "\(fixed(f / 1e9, 3)) GFLOP" }
    if f >= 1e6 { return "\(fixed(f / 1e6, 3)) MFLOP" }
    return "\(fixed(f / 1e3, 3)) kFLOP"
}

func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (x * scale).rounded() / scale
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let n = max(0, width - s.count)
    return right ? String(repeating: " ", count: n) + s : s + String(repeating: " ", count: n)
}
