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
    public let inputNames: [String]
    /// What a state of this step holds, and each entry's node in `graph`.
    public let layout: StateLayout
    let stateNodes: [NodeID]
    /// The optimizer's scalars fed before each run.
    let fedScalars: [Optimizer.FedScalar]
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
        let stored = StateLayout.stored(graph)
        layout = StateLayout(entries: stored.map(\.entry))
        stateNodes = stored.map(\.node)
        fedScalars = compiled.fedScalars
    }

    /// Fresh parameters from their initializers (parameter k from random stream k of `seed`),
    /// zero optimizer slots, step 0.
    public func initialState(seed: UInt64) -> TrainingState {
        let state = TrainingState(layout: layout, seed: seed)
        var memory: [NodeID: UnsafeMutablePointer<Float>] = [:]
        for (node, t) in zip(stateNodes, state.tensors) { memory[node] = t.memory }
        // Every parameter is a state node: the layout is made from the graph's leaves.
        ParameterInitializer.initialize(graph, seed: seed) { memory[$0]! }
        return state
    }

    /// A state starting from `parameters` (copied; loaded with `Parameters.load` or taken from
    /// another state), with zero optimizer slots and step 0: fine-tuning, perhaps with another
    /// optimizer or frozen groups. Every parameter of the step must be there with its shape.
    public func initialState(seed: UInt64, parameters: Parameters) throws -> TrainingState {
        let needed = StateLayout(entries: layout.entries.filter(\.isParameter))
        let differences = needed.differences(from: parameters.layout, allowExtra: true)
        guard differences.isEmpty else {
            throw LayoutMismatch(what: "the parameters do not fit this training step", differences: differences)
        }
        let state = TrainingState(layout: layout, seed: seed)
        for t in state.tensors {
            guard let source = parameters.tensors.first(where: { $0.name == t.name }) else { continue }
            t.memory.update(from: source.memory, count: t.count)
        }
        return state
    }

    /// A state read from a safetensors checkpoint written by `TrainingState.save(to:)`; the file
    /// must hold exactly this step's layout (else `CheckpointError.doesNotFit` lists the
    /// differences).
    public func loadState(from path: String) throws -> TrainingState {
        let state = TrainingState(layout: layout, seed: 0)
        try state.load(from: path)
        return state
    }

    /// Runs one step on a batch, updating `state` in place; returns each loss term (and "total").
    /// A state of another layout (made by a step of another model, optimizer or frozen groups)
    /// is refused with `LayoutMismatch`, before anything runs.
    @discardableResult
    public func run(_ state: TrainingState, feeding inputs: [String: TensorData]) throws -> [String: Float] {
        try checkLayout(state)
        try feed(inputs)
        try requireInputs { inputs[$0] != nil }
        try runInPlace(state)
        var result = [String: Float](minimumCapacity: losses.count)
        for loss in losses { result[loss.name] = executor.scalar(of: loss.node) }
        return result
    }

    /// The names of the loss terms `run(_:losses:)` writes, in its order: the model's terms,
    /// then "total" (their sum, what the gradients are of).
    public var lossNames: [String] { losses.map(\.name) }

    /// Copies each of `inputs` into the step's memory by name, checked (a known input, its type
    /// and element count), for `run(_:losses:)`; allocates nothing.
    public func feed(_ inputs: [String: TensorData]) throws {
        for (name, data) in inputs {
            switch data {
            case .float32(let values): try executor.setInput(name, values)
            case .int32(let values): try executor.setInput(name, values)
            }
        }
    }

    /// Where float input `name` lives in the step's memory: write each batch here, then
    /// `run(_:losses:)` reads it in place, with no copy and no dictionary. The memory is the
    /// step's for its whole life, but a run reuses it for other values once the input is read,
    /// so every input must be written again before every run.
    public func floatInput(_ name: String) throws -> UnsafeMutableBufferPointer<Float> {
        try inputBuffer(name, .float32)
    }

    /// Where int32 input `name` (labels) lives in the step's memory; see `floatInput(_:)`.
    public func intInput(_ name: String) throws -> UnsafeMutableBufferPointer<Int32> {
        try inputBuffer(name, .int32)
    }

    /// A model input's memory as elements of `dtype`'s Swift type `T`.
    func inputBuffer<T>(_ name: String, _ dtype: DType) throws -> UnsafeMutableBufferPointer<T> {
        try requireModelInput(name)
        let (memory, count) = try executor.inputMemory(name, dtype)
        return UnsafeMutableBufferPointer(start: memory.assumingMemoryBound(to: T.self), count: count)
    }

    /// Runs one step on the batch written into `floatInput` and `intInput` memory, updating
    /// `state` in place, and puts each loss term into `losses` in `lossNames` order. Once
    /// `losses` has room for them, nothing is allocated (`gauge bench --allocations` counts).
    public func run(_ state: TrainingState, losses values: inout [Float]) throws {
        try checkLayout(state)
        try runInPlace(state)
        if values.count != losses.count { values = [Float](repeating: 0, count: losses.count) }
        for (k, loss) in losses.enumerated() { values[k] = executor.scalar(of: loss.node) }
    }

    /// The model's inputs only: the optimizer's fed scalars are the step's own.
    func requireModelInput(_ name: String) throws {
        guard inputNames.contains(name) else {
            throw RuntimeError("no input named \"\(name)\"; inputs are \(inputNames.joined(separator: ", "))")
        }
    }

    /// Throws "no values fed for input …" naming each of the model's inputs that `isFed` says
    /// has no values (checked without making arrays unless one is missing).
    public func requireInputs(_ isFed: (String) -> Bool) throws {
        if inputNames.contains(where: { !isFed($0) }) {
            throw RuntimeError("no values fed for input \(inputNames.filter { !isFed($0) }.joined(separator: ", "))")
        }
    }

    /// Refuses a state of another layout (made by a step of another model, optimizer or frozen
    /// groups) before anything runs, then binds its memory.
    func checkLayout(_ state: TrainingState) throws {
        // Equal arrays sharing storage compare in constant time: a state made here costs nothing.
        guard state.layout == layout else {
            throw LayoutMismatch(
                what: "this state was made for another training step", differences: layout.differences(from: state.layout))
        }
        for (node, t) in zip(stateNodes, state.tensors) { executor.bind(node, to: t.memory) }
    }

    /// The optimizer's scalars fed, the plan run on the inputs where they are, the step counted.
    func runInPlace(_ state: TrainingState) throws {
        for scalar in fedScalars {
            try executor.setInput(scalar.name, scalar: optimizer.value(of: scalar.kind, step: state.step, epoch: state.epoch))
        }
        executor.seed = state.seed
        executor.step = UInt64(state.step)
        try executor.run()
        state.step += 1
    }

    /// The learning rate the next step of `state` uses (its schedule at the state's step and epoch).
    public func learningRate(_ state: TrainingState) -> Float { optimizer.rate(step: state.step, epoch: state.epoch) }

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
