import Graph

/// Reverse-mode automatic differentiation as a graph-to-graph pass.
///
/// The result is an ordinary graph: the forward nodes, then the gradient nodes (in scope
/// `gradient/…`, tagged `∂call` with the source line of the forward node they come from), so it
/// can be printed, drawn and optimised like any other.
public enum Autodiff {
    public struct Result: Sendable {
        /// Forward and gradient nodes together.
        public var graph: Graph
        /// The scalar that was differentiated: the sum of the model's losses.
        public var loss: NodeID
        /// Gradient node of every parameter not frozen, in the order of `graph.parameters`.
        public var gradients: [(parameter: NodeID, gradient: NodeID)]
    }

    /// Differentiates the sum of `graph.losses` with respect to every parameter but the
    /// `frozen` ones, which are constants here: no gradient flows into them, and the nodes that
    /// only they make differentiable get no gradient either (pruned, not computed and dropped).
    public static func differentiate(_ graph: Graph, frozen: Set<NodeID> = []) throws(CompilerError) -> Result {
        guard !graph.losses.isEmpty else { throw CompilerError("\(graph.name) has no Loss to differentiate") }
        var editor = GraphEditor(graph)
        editor.scope = ["loss"]
        editor.call = "total loss"
        var loss = graph.losses[0].node
        for term in graph.losses.dropFirst() { loss = try editor.add(loss, term.node) }

        // Which values depend on a parameter (only those need gradients).
        let g = editor.graph
        var depends = Array(repeating: false, count: g.nodes.count)
        for node in g.nodes {
            if case .parameter = node.op {
                depends[node.id.index] = !frozen.contains(node.id)
            } else {
                depends[node.id.index] =
                    node.op.passesGradient && node.dtype == .float32 && node.inputs.contains { depends[$0.index] }
            }
        }

        var gradient: [NodeID: NodeID] = [:]
        editor.scope = ["gradient"]
        editor.call = "∂loss"
        gradient[loss] = try editor.constant(1)
        for index in stride(from: loss.index, through: 0, by: -1) {
            let node = g.nodes[index]
            guard let gy = gradient[node.id], !node.inputs.isEmpty, depends[index] else { continue }
            editor.scope = ["gradient"] + node.scope
            editor.call = "∂" + node.call
            editor.location = node.location
            let needs = node.inputs.map { depends[$0.index] && g[$0].dtype == .float32 }
            let inputGradients: [NodeID?]
            do { inputGradients = try editor.vjp(node, gy, needs: needs) } catch { throw error.located(at: node) }
            for (input, contribution) in zip(node.inputs, inputGradients) {
                guard let contribution, depends[input.index] else { continue }
                if let existing = gradient[input] {
                    gradient[input] = try editor.add(existing, contribution)
                } else {
                    gradient[input] = contribution
                }
            }
        }
        editor.scope = ["gradient"]
        editor.call = "∂loss"
        editor.location = .generated
        var result: [(NodeID, NodeID)] = []
        for parameter in g.parameters where !frozen.contains(parameter.id) {
            let grad: NodeID
            if let existing = gradient[parameter.id] { grad = existing } else { grad = try editor.zeros(parameter.shape) }
            result.append((parameter.id, grad))
        }
        var out = editor.graph
        out.losses = graph.losses + [Graph.Output(name: "total", node: loss)]
        return Result(graph: out, loss: loss, gradients: result)
    }
}
