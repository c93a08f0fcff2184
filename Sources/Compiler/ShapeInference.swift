import Graph

/// The shape-inference pass: runs every node's shape rule over a whole graph, in order, and
/// checks that operands come before their users and that recorded types agree with the rules.
///
/// The DSL already runs the same rules as a model is built (so the user's line is known at
/// once); this pass checks graphs made any other way: by autodiff, by other passes, by hand.
public enum ShapeInference {
    /// The graph with every node's type re-derived, or every error found.
    public static func run(_ graph: Graph) throws(ShapeInferenceError) -> Graph {
        var result = graph
        var errors: [ShapeError] = []
        for (index, node) in graph.nodes.enumerated() {
            func report(_ problem: ShapeProblem) {
                errors.append(ShapeError(call: node.call, problem: problem, location: node.location))
            }
            guard node.id.index == index else {
                report(ShapeProblem("node \(node.name) has id \(node.id) at position \(index)"))
                continue
            }
            if let late = node.inputs.first(where: { $0.index >= index }) {
                report(ShapeProblem("operand \(late) of \(node.name) is not defined before it"))
                continue
            }
            switch node.op {
            case .input, .parameter, .variable:
                continue
            default:
                do {
                    let type = try node.op.inferType(node.inputs.map { result[$0].type })
                    if type != node.type {
                        report(ShapeProblem("\(node.name) records type \(node.type) but its rule gives \(type)"))
                    }
                    result.nodes[index].type = type
                } catch {
                    report(error)
                }
            }
        }
        for output in graph.outputs + graph.losses where output.node.index >= graph.nodes.count {
            errors.append(
                ShapeError(
                    call: output.name, problem: ShapeProblem("output refers to missing node \(output.node)"),
                    location: .generated))
        }
        if !errors.isEmpty { throw ShapeInferenceError(errors: errors) }
        return result
    }
}

/// Every shape error the pass found.
public struct ShapeInferenceError: Error, CustomStringConvertible {
    public var errors: [ShapeError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
