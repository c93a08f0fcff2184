import Compiler
import Graph

/// Evaluates a model's outputs without training: dropout is the identity; random sampling
/// (the latent code) still draws, keyed by `seed` and `step`. Needs only the parameters the
/// model declares (`Parameters.load(_:for:)`), not a training step or optimizer slots.
public final class Inference {
    public let graph: Graph
    public let batch: Int
    let executor: Executor
    /// The parameters this model needs (sorted by name) and their nodes.
    public let layout: StateLayout
    let parameterNodes: [NodeID]
    /// The fed inputs: name, elements per batch row (nil: no batch dimension) and elements in a
    /// whole batch.
    let inputs: [(name: String, perRow: Int?, count: Int)]
    /// The inputs the simplified graph still reads (an input no output depends on is dropped).
    let used: Set<String>

    public init(_ model: Model, batch: Int) throws {
        guard batch > 0 else { throw RuntimeError("batch must be positive, got \(batch)") }
        var graph = model.graph
        for i in graph.nodes.indices {
            if case .dropout = graph.nodes[i].op { graph.nodes[i].op = .stopGradient }
        }
        let simplified = Simplify.run(graph).graph
        self.graph = simplified
        self.batch = batch
        executor = Executor(try MemoryPlanner.plan(simplified, batch: batch).0)
        let stored = StateLayout.stored(simplified, parametersOnly: true)
        layout = StateLayout(entries: stored.map(\.entry))
        parameterNodes = stored.map(\.node)
        used = Set(simplified.inputs.compactMap(\.op.inputName))
        inputs = model.graph.inputs.compactMap { node in
            guard let name = node.op.inputName else { return nil }
            let hasBatch = node.shape.first == .batch
            return (name, hasBatch ? node.shape.elementCount(batch: 1) : nil, node.shape.elementCount(batch: batch))
        }
    }

    /// Runs the model with a training state's parameters; returns every output and loss by name.
    public func evaluate(_ state: TrainingState, feeding inputs: [String: TensorData], step: Int = 0) throws
        -> [String: [Float]]
    {
        try run(state.parameters, feeding: inputs, seed: state.seed, step: step)
    }

    /// Runs the model with `parameters` (each checked by name and shape; extra ones are
    /// ignored) and returns every output and loss by name. Every input must be fed. A last
    /// partial batch (inputs with fewer rows than `batch`, all the same number) is padded with
    /// zeros, and only the real rows of each output come back; its losses, which would count the
    /// padding, are left out.
    public func run(_ parameters: Parameters, feeding fed: [String: TensorData], seed: UInt64 = 0, step: Int = 0) throws
        -> [String: [Float]]
    {
        let differences = layout.differences(from: parameters.layout, allowExtra: true)
        guard differences.isEmpty else {
            throw LayoutMismatch(what: "the parameters do not fit model \"\(graph.name)\"", differences: differences)
        }
        var byName: [String: StoredTensor] = [:]
        for t in parameters.tensors { byName[t.name] = t }
        // Present: the layout check above found no tensor missing.
        for (node, entry) in zip(parameterNodes, layout.entries) { executor.bind(node, to: byName[entry.name]!.memory) }
        let unknown = fed.keys.filter { name in !inputs.contains { $0.name == name } }.sorted()
        guard unknown.isEmpty else {
            throw RuntimeError(
                "no input named \(unknown.joined(separator: ", ")); \(graph.name)'s inputs are \(inputs.map(\.name).joined(separator: ", "))")
        }
        let missing = inputs.filter { fed[$0.name] == nil }.map(\.name)
        guard missing.isEmpty else { throw RuntimeError("no values fed for input \(missing.joined(separator: ", "))") }
        var rows: Int?
        for input in inputs {
            let data = fed[input.name]!  // fed: `missing` is empty
            let count: Int
            switch data {
            case .float32(let v): count = v.count
            case .int32(let v): count = v.count
            }
            guard count != input.count else { continue }
            guard let perRow = input.perRow, count > 0, count % perRow == 0, count / perRow < batch else {
                throw RuntimeError(
                    "\(input.name) takes \(input.count) values (\(batch) rows)\(input.perRow.map { ", or a multiple of \($0) for fewer rows" } ?? ""); got \(count)")
            }
            if let rows, rows != count / perRow {
                throw RuntimeError("a partial batch needs the same rows in every input: \(input.name) has \(count / perRow), another \(rows)")
            }
            rows = count / perRow
        }
        for input in inputs where used.contains(input.name) {
            switch fed[input.name]! {  // fed: `missing` is empty
            case .float32(let v):
                try executor.setInput(input.name, v.count == input.count ? v : v + [Float](repeating: 0, count: input.count - v.count))
            case .int32(let v):
                try executor.setInput(input.name, v.count == input.count ? v : v + [Int32](repeating: 0, count: input.count - v.count))
            }
        }
        executor.seed = seed
        executor.step = UInt64(step)
        try executor.run()
        var result: [String: [Float]] = [:]
        for output in graph.outputs + (rows == nil ? graph.losses : []) {
            let values = executor.values(of: output.node)
            let node = graph[output.node]
            if let rows, node.shape.first == .batch {
                result[output.name] = Array(values.prefix(rows * node.shape.elementCount(batch: 1)))
            } else {
                result[output.name] = values
            }
        }
        return result
    }
}
