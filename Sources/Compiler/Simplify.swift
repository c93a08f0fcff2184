import Foundation
import Graph

/// The simplification pass: algebraic identities, constant folding, common-subexpression
/// elimination and dead-code elimination, in one walk over the graph plus a liveness sweep.
///
/// Leaves (inputs, parameters, optimizer variables) are always kept, so a training state's
/// layout does not depend on the pass. Random and dropout nodes carry their stream in the op, so
/// two of them never merge.
public enum Simplify {
    public struct Report: Sendable, Equatable {
        public var identities = 0
        public var folded = 0
        public var merged = 0
        public var removed = 0
    }

    public static func run(_ graph: Graph) -> (graph: Graph, report: Report) {
        var report = Report()
        var out = Graph(name: graph.name)
        var map = [NodeID](repeating: NodeID(0), count: graph.nodes.count)
        var seen: [CSEKey: NodeID] = [:]

        for node in graph.nodes {
            let inputs = node.inputs.map { map[$0.index] }
            if let same = identity(node, inputs, in: out) {
                map[node.id.index] = same
                report.identities += 1
                continue
            }
            var op = node.op
            var operands = inputs
            if let value = fold(op, inputs.map { out[$0].op }) {
                op = .constant(value)
                operands = []
                report.folded += 1
            } else if let simpler = combine(op, inputs, in: out) {
                (op, operands) = simpler
                report.identities += 1
            } else if case .unary = op, let scalar = broadcastScalar(inputs[0], in: out) {
                // f(broadcast s) = broadcast f(s): the function runs once (on a scalar met before,
                // not again), and the broadcast can then go into the binary ops that read it.
                let key = CSEKey(op: op, inputs: [scalar])
                let value =
                    seen[key]
                    ?? out.append(
                        op, inputs: [scalar], type: TensorType(out[scalar].shape, out[scalar].dtype), name: node.name,
                        scope: node.scope, call: node.call, location: node.location)
                seen[key] = value
                (op, operands) = (out[inputs[0]].op, [value])
                report.identities += 1
            }
            let isLeaf = op.isLeaf
            let key = CSEKey(op: op, inputs: operands)
            if !isLeaf, let existing = seen[key], out[existing].type == node.type {
                map[node.id.index] = existing
                report.merged += 1
                continue
            }
            let id = out.append(
                op, inputs: operands, type: node.type, name: node.name, scope: node.scope, call: node.call,
                location: node.location)
            if !isLeaf { seen[key] = id }
            map[node.id.index] = id
        }
        out.outputs = graph.outputs.map { .init(name: $0.name, node: map[$0.node.index]) }
        out.losses = graph.losses.map { .init(name: $0.name, node: map[$0.node.index]) }
        out.updates = graph.updates.map { .init(target: map[$0.target.index], value: map[$0.value.index]) }
        let (live, removed) = eliminateDeadCode(out)
        report.removed = removed
        return (live, report)
    }

    struct CSEKey: Hashable {
        var op: Op
        var inputs: [NodeID]
    }

    static func constant(_ id: NodeID, in g: Graph) -> Float? {
        if case .constant(let v) = g[id].op { return v }
        return nil
    }

    /// An existing node equal to `node` (x·1, x+0, x−0, x/1, −(−x), log(exp x), no-op reshape,
    /// transpose or broadcast), or nil. `stopGradient` is never removed: it changes what
    /// autodiff does with the graph.
    static func identity(_ node: Node, _ inputs: [NodeID], in g: Graph) -> NodeID? {
        func sameType(_ id: NodeID) -> NodeID? { g[id].type == node.type ? id : nil }
        switch node.op {
        case .binary(.mul):
            if constant(inputs[1], in: g) == 1 { return sameType(inputs[0]) }
            if constant(inputs[0], in: g) == 1 { return sameType(inputs[1]) }
        case .binary(.add):
            if constant(inputs[1], in: g) == 0 { return sameType(inputs[0]) }
            if constant(inputs[0], in: g) == 0 { return sameType(inputs[1]) }
        case .binary(.sub):
            if constant(inputs[1], in: g) == 0 { return sameType(inputs[0]) }
        case .binary(.div):
            if constant(inputs[1], in: g) == 1 { return sameType(inputs[0]) }
        case .unary(.neg):
            if case .unary(.neg) = g[inputs[0]].op { return sameType(g[inputs[0]].inputs[0]) }
        case .unary(.log):
            if case .unary(.exp) = g[inputs[0]].op { return sameType(g[inputs[0]].inputs[0]) }
        case .reshape, .broadcast:
            return sameType(inputs[0])
        case .transpose(let p):
            if p == Array(p.indices) { return sameType(inputs[0]) }
        case .unary, .binary, .input, .parameter, .variable, .constant, .matmul, .groupedMatmul, .compare, .select,
            .reduce, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax, .conv2d, .transposedConv2d,
            .maxPool, .affineGrid, .bilinearSample, .random, .dropout, .stopGradient, .groupedMatmulWeightGrad,
            .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            break
        }
        return nil
    }

    /// A cheaper equivalent op over other operands: reshape of reshape, transpose of transpose,
    /// and a binary op reading a broadcast scalar when its other operand has the full shape
    /// (the gradient of a summed loss is its seed broadcast to every element: the kernels read
    /// the scalar itself, so the broadcast never fills memory).
    static func combine(_ op: Op, _ inputs: [NodeID], in g: Graph) -> (Op, [NodeID])? {
        if case .binary = op, inputs.count == 2 {
            for (k, other) in [(0, inputs[1]), (1, inputs[0])] {
                guard let scalar = broadcastScalar(inputs[k], in: g), g[other].shape == g[inputs[k]].shape else { continue }
                var operands = inputs
                operands[k] = scalar
                return (op, operands)
            }
        }
        switch op {
        case .reshape(let target):
            if case .reshape = g[inputs[0]].op { return (.reshape(target), [g[inputs[0]].inputs[0]]) }
        case .transpose(let outer):
            if case .transpose(let inner) = g[inputs[0]].op {
                return (.transpose(permutation: outer.map { inner[$0] }), [g[inputs[0]].inputs[0]])
            }
        case .input, .parameter, .variable, .constant, .matmul, .groupedMatmul, .unary, .binary, .compare, .select,
            .reduce, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax, .conv2d,
            .transposedConv2d, .maxPool, .affineGrid, .bilinearSample, .random, .dropout, .stopGradient,
            .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad,
            .bilinearSampleGridGrad:
            break
        }
        return nil
    }

    /// The scalar (one element, no batch axis) that node `id` broadcasts, or nil.
    static func broadcastScalar(_ id: NodeID, in g: Graph) -> NodeID? {
        guard case .broadcast = g[id].op else { return nil }
        let source = g[id].inputs[0]
        return g[source].shape.fixedElementCount == 1 && !g[source].shape.hasBatch ? source : nil
    }

    /// The value of an element-wise op on scalar constants, computed as the runtime does.
    static func fold(_ op: Op, _ operands: [Op]) -> Float? {
        let values = operands.compactMap { o -> Float? in
            if case .constant(let v) = o { return v }
            return nil
        }
        guard !operands.isEmpty, values.count == operands.count else { return nil }
        switch op {
        case .unary(let f): return f.value(values[0])
        case .binary(let f): return f.value(values[0], values[1])
        case .compare, .select, .input, .parameter, .variable, .constant, .matmul, .groupedMatmul, .reduce, .reshape,
            .transpose, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot, .logSoftmax, .conv2d,
            .transposedConv2d, .maxPool, .affineGrid, .bilinearSample, .random, .dropout, .stopGradient,
            .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad,
            .bilinearSampleGridGrad:
            return nil
        }
    }

    /// Drops nodes no output, loss or update needs (leaves stay); renumbers the rest.
    static func eliminateDeadCode(_ g: Graph) -> (Graph, Int) {
        var live = [Bool](repeating: false, count: g.nodes.count)
        var stack = (g.outputs + g.losses).map(\.node) + g.updates.flatMap { [$0.target, $0.value] }
        for node in g.nodes where node.op.isLeaf { stack.append(node.id) }
        while let id = stack.popLast() {
            if live[id.index] { continue }
            live[id.index] = true
            stack.append(contentsOf: g[id].inputs)
        }
        var out = Graph(name: g.name)
        var map = [NodeID](repeating: NodeID(0), count: g.nodes.count)
        for node in g.nodes where live[node.id.index] {
            map[node.id.index] = out.append(
                node.op, inputs: node.inputs.map { map[$0.index] }, type: node.type, name: node.name, scope: node.scope,
                call: node.call, location: node.location)
        }
        out.outputs = g.outputs.map { .init(name: $0.name, node: map[$0.node.index]) }
        out.losses = g.losses.map { .init(name: $0.name, node: map[$0.node.index]) }
        out.updates = g.updates.map { .init(target: map[$0.target.index], value: map[$0.value.index]) }
        return (out, live.filter { !$0 }.count)
    }
}
