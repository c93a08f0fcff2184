import Compiler
import Foundation
import Graph

/// A whole training step — forward, backward and the optimizer update — as one compiled graph,
/// planned for one batch size.
///
/// ```swift
/// let step = try TrainingStep(model, batch: 250, optimizer: .adam(learningRate: 0.0005))
/// let state = step.initialState(seed: 42)
/// let losses = try step.run(state, feeding: ["image": .float32(images), "label": .int32(labels)])
/// try state.save(to: "ckpt.safetensors")
/// ```
public final class TrainingStep {
    public let model: Model
    public let batch: Int
    public let optimizer: Optimizer
    /// The forward graph with gradients (what `gauge dot --stage gradient` shows).
    public let gradientGraph: Graph
    /// The full step as built: gradients plus the optimizer update, before optimisation.
    public let stepGraph: Graph
    /// The step after simplification: what the plan runs.
    public let graph: Graph
    public let plan: Plan
    /// What the compiler did: pass timings, node counts, fusion, memory.
    public let report: CompileReport
    /// Runs the plan; `run(_:feeding:)` binds the state and feeds it first.
    public let executor: Executor
    let losses: [Graph.Output]
    /// The model's input names, for the check that every one is fed.
    let inputNames: [String]
    /// Seconds spent building the step graph: autodiff, optimizer update, shape check, plan.
    public let compileSeconds: Double

    /// `adamLoops: false` runs the Adam updates through the general fused-kernel interpreter
    /// instead of the dedicated loop (the same bits, slower; for checks).
    public init(
        _ model: Model, batch: Int, optimizer: Optimizer, options: CompileOptions = CompileOptions(),
        adamLoops: Bool = true
    ) throws {
        guard batch > 0 else { throw RuntimeError("batch must be positive, got \(batch)") }
        self.model = model
        self.batch = batch
        self.optimizer = optimizer
        let compiled = try Compile.trainingStep(model.graph, batch: batch, optimizer: optimizer, options: options)
        gradientGraph = compiled.gradientGraph
        stepGraph = compiled.stepGraph
        graph = compiled.graph
        plan = compiled.plan
        report = compiled.report
        compileSeconds = compiled.report.totalSeconds
        executor = Executor(plan, adamLoops: adamLoops)
        losses = graph.losses
        inputNames = model.graph.inputs.compactMap(\.op.inputName)
    }

    /// Fresh parameters from their initializers (parameter k from random stream k of `seed`),
    /// zero optimizer moments, step 0.
    public func initialState(seed: UInt64) -> TrainingState {
        let state = TrainingState(graph: graph, seed: seed)
        let memory = Dictionary(uniqueKeysWithValues: state.tensors.map { ($0.node, $0.memory) })
        ParameterInitializer.initialize(graph, seed: seed) { memory[$0]! }
        return state
    }

    /// A state read from a safetensors checkpoint written by `TrainingState.save(to:)`.
    public func loadState(from path: String) throws -> TrainingState {
        let state = TrainingState(graph: graph, seed: 0)
        try state.load(from: path)
        return state
    }

    /// Runs one step on a batch, updating `state` in place; returns each loss term (and "total").
    @discardableResult
    public func run(_ state: TrainingState, feeding inputs: [String: TensorData]) throws -> [String: Float] {
        for t in state.tensors { executor.bind(t.node, to: t.memory) }
        for (name, data) in inputs {
            switch data {
            case .float32(let values): try executor.setInput(name, values)
            case .int32(let values): try executor.setInput(name, values)
            }
        }
        // Checked without making arrays: a step allocates only its result dictionary.
        if inputNames.contains(where: { inputs[$0] == nil }) {
            let missing = inputNames.filter { inputs[$0] == nil }
            throw RuntimeError("no values fed for input \(missing.joined(separator: ", "))")
        }
        switch optimizer {
        case .adam(let adam):
            try executor.setInput(Adam.stepSizeInput, scalar: adam.stepSize(update: state.step + 1, epoch: state.epoch))
            try executor.setInput(Adam.decayInput, scalar: adam.decay(epoch: state.epoch))
        }
        executor.seed = state.seed
        executor.step = UInt64(state.step)
        try executor.run()
        state.step += 1
        var result = [String: Float](minimumCapacity: losses.count)
        for loss in losses { result[loss.name] = executor.scalar(of: loss.node) }
        return result
    }

    /// Seconds per primitive accumulated over runs, when `profiling` is on.
    public var profile: [String: Double] { executor.profile ?? [:] }
    /// Idle core seconds inside each primitive's parallel jobs while profiling (`Executor.idleProfile`).
    public var idleProfile: [String: Double] { executor.idleProfile }

    /// Times every kernel call by primitive (a little overhead per call).
    public var profiling: Bool {
        get { executor.profile != nil }
        set { executor.profile = newValue ? (executor.profile ?? [:]) : nil }
    }

    /// Turns on the NaN/infinity check after every kernel.
    public var checkNumerics: Bool {
        get { executor.checkNumerics }
        set { executor.checkNumerics = newValue }
    }
}
