import Graph

/// The shape-inference pass: runs every node's shape rule over a whole graph, in order, and
/// checks that operands come before their users and that recorded types agree with the rules.
///
/// The DSL already runs the same rules as a model is built (so the user's line is known at
/// once); this pass checks graphs made any other way: by autodiff, by other passes, by hand.
public enum ShapeInference {
    /// The graph with every node's type re-derived, or every error found. Also checks what
    /// the rules cannot see: ids in range and defined before use, leaves' declared types,
    /// outputs, scalar losses and updates of a leaf by a value of its type. The compiler runs it
    /// first on any graph it is given, so a graph made by hand fails here, not in a later pass.
    public static func run(_ graph: Graph) throws(ShapeInferenceError) -> Graph {
        var result = graph
        var errors: [ShapeError] = []
        func exists(_ id: NodeID) -> Bool { (0..<graph.nodes.count).contains(id.index) }
        for (index, node) in graph.nodes.enumerated() {
            func report(_ problem: ShapeProblem) {
                errors.append(ShapeError(call: node.call, problem: problem, location: node.location))
            }
            guard node.id.index == index else {
                report(ShapeProblem("node \(node.name) has id \(node.id) at position \(index)"))
                continue
            }
            if let late = node.inputs.first(where: { !(0..<index).contains($0.index) }) {
                report(ShapeProblem("operand \(late) of \(node.name) is not defined before it"))
                continue
            }
            if node.op.isLeaf {
                if let problem = leafProblem(node) { report(problem) }
            } else {
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
        func reportGraph(_ name: String, _ problem: String) {
            errors.append(ShapeError(call: name, problem: ShapeProblem(problem), location: .generated))
        }
        for output in graph.outputs + graph.losses where !exists(output.node) {
            reportGraph(output.name, "output refers to missing node \(output.node)")
        }
        for loss in graph.losses where exists(loss.node) && result[loss.node].type != TensorType(.scalar) {
            reportGraph(loss.name, "loss \(result[loss.node].name) has type \(result[loss.node].type); a loss is a float32 scalar")
        }
        for update in graph.updates {
            guard exists(update.target), exists(update.value) else {
                reportGraph("update", "update of \(update.target) by \(update.value) refers to a missing node")
                continue
            }
            let (target, value) = (result[update.target], result[update.value])
            guard target.op.isLeaf, !target.isInput else {
                reportGraph("update", "update target \(target.name) (\(target.op.name)) is not a parameter or variable")
                continue
            }
            if target.type != value.type {
                reportGraph("update", "update of \(target.name) (\(target.type)) by \(value.name) of type \(value.type)")
            }
        }
        if !errors.isEmpty { throw ShapeInferenceError(errors: errors) }
        return result
    }

    /// What is wrong with a leaf's declared type: the DSL's checks for `Input` and `Parameter`.
    static func leafProblem(_ node: Node) -> ShapeProblem? {
        let shape = node.shape
        if let problem = shape.declarationProblem {
            return problem == Shape.rankProblem(shape) ? problem : ShapeProblem("\(node.name): \(problem.message)")
        }
        if !node.isInput, shape.hasBatch || node.dtype != .float32 {
            return ShapeProblem("\(node.name): a \(node.op.name) is float32 without the batch dimension; declared \(node.type)")
        }
        if case .parameter(_, let initializer) = node.op, let problem = initializer.problem(for: shape) {
            return ShapeProblem("\(node.name): \(initializer): \(problem)")
        }
        return nil
    }
}

/// Every shape error the pass found.
public struct ShapeInferenceError: Error, CustomStringConvertible {
    public var errors: [ShapeError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
