import Compiler
import Graph

/// Evaluates a model's outputs without training: dropout is the identity; random sampling
/// (the latent code) still draws, keyed by `seed` and `step`.
public final class Inference {
    public let graph: Graph
    public let batch: Int
    let executor: Executor

    public init(_ model: Model, batch: Int) throws {
        var graph = model.graph
        for i in graph.nodes.indices {
            if case .dropout = graph.nodes[i].op { graph.nodes[i].op = .stopGradient }
        }
        let simplified = Simplify.run(graph).graph
        self.graph = simplified
        self.batch = batch
        executor = Executor(MemoryPlanner.plan(simplified, batch: batch).0)
    }

    /// Runs the model with a training state's parameters; returns every output and loss by name.
    public func evaluate(_ state: TrainingState, feeding inputs: [String: TensorData], step: Int = 0) throws
        -> [String: [Float]]
    {
        for node in graph.parameters {
            guard case .parameter(let name, _) = node.op, let t = state.tensors.first(where: { $0.name == name }) else {
                throw RuntimeError("the state has no parameter \(node.name)")
            }
            executor.bind(node.id, to: t.memory)
        }
        for (name, data) in inputs {
            switch data {
            case .float32(let values): try executor.setInput(name, values)
            case .int32(let values): try executor.setInput(name, values)
            }
        }
        executor.seed = state.seed
        executor.step = UInt64(step)
        try executor.run()
        var result: [String: [Float]] = [:]
        for output in graph.outputs + graph.losses { result[output.name] = executor.values(of: output.node) }
        return result
    }
}
