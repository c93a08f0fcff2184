import Compiler
import Datasets
import Graph
import Runtime

/// Random models for property tests of compiler passes: chains and DAGs of element-wise ops with
/// broadcasting, reductions, reshapes, transposes, matmuls, small convolutions with ReLU and
/// max-pooling (whose element-wise neighbours run as epilogues), scalar constants (including the
/// 0s and 1s that identities remove), repeated subexpressions, log∘exp and −(−x).
public func randomModel(seed: UInt64) throws -> Model {
    try Model("random-\(seed)") {
        let tail = randomTensors(seed: seed)
        Loss(tail.reduce(constant(0)) { $0 + ($1 * $1).sum() } * 0.1)
        Output("last", tail.last!)
    }
}

/// The body of `randomModel`: returns the last three tensors made.
public func randomTensors(seed: UInt64) -> [Tensor] {
    var rng = SplitMix64(seed: seed)
    var pool: [Tensor] = [
        Input("x", [.batch, 4]),
        Parameter("w", [4], initializer: .uniform(low: -1, high: 1)),
        Parameter("m", [4, 4], initializer: .uniform(low: -0.5, high: 0.5)),
    ]
    let steps = Int.random(in: 4...14, using: &rng)
    for _ in 0..<steps {
        let a = pool.randomElement(using: &rng)!
        let b = pool.filter { $0.shape == a.shape }.randomElement(using: &rng)!
        let next: Tensor
        switch Int.random(in: 0..<14, using: &rng) {
        case 0: next = a.tanh()
        case 1: next = a.sigmoid() * b
        case 2: next = a + b
        case 3: next = a - b.square()
        case 4: next = a.combine(.max, b)
        case 5: next = a * 1 + 0  // identities
        case 6: next = a.tanh().exp().log()  // log∘exp
        case 7: next = -(-a) * 0.5
        case 8: next = (a * b) + (a * b)  // a repeated subexpression
        case 9: next = a.rank == 2 && a.shape[1] == 4 ? a.matmul(pool[2]) : a.abs()
        case 10: next = a.rank == 2 ? a + a.mean(axes: [1], keepDims: true) : a.softplus()
        case 11:
            next = a.rank == 2 && a.shape[0] == .batch
                ? a.reshaped([.batch, 2, 2]).transposed([0, 2, 1]).reshaped([.batch, 4]) : a.relu()
        case 12:
            next = a.rank == 2 && a.shape[0] == .batch
                ? a.reshaped([.batch, 1, 2, 2]).conv2d(4, kernel: 3, activation: .relu).maxPool(2).reshaped([.batch, 4])
                    * b
                : a.square()
        default: next = a.rank == 1 ? a + pool[0] : a.combine(.min, a * 0.3)
        }
        pool.append(next)
    }
    return Array(pool.suffix(3))
}

/// The inputs `runOnce` and `referenceRun` feed a graph, by name: int32 inputs (labels) 0, 1,
/// 2, 0, …; the Adam scalars `adam/step_size` and `adam/decay` 0.01; other inputs
/// `pseudoRandom` from the seed and the input node's index.
public func testInputs(_ graph: Graph, batch: Int, seed: UInt64) -> [String: [Double]] {
    var inputs: [String: [Double]] = [:]
    for input in graph.inputs {
        guard let name = input.op.inputName else { continue }
        let n = input.shape.elementCount(batch: batch)
        if input.dtype == .int32 {
            inputs[name] = (0..<n).map { Double($0 % 3) }
        } else if name == "adam/step_size" || name == "adam/decay" {
            inputs[name] = [1e-2]
        } else {
            inputs[name] = pseudoRandom(n, seed: seed &+ UInt64(input.id.index)).map(Double.init)
        }
    }
    return inputs
}

/// `testInputs` and every parameter's and variable's initial value from `seed`
/// (`Parameters.initialValues`), each parameter moved by `jitter` × pseudo-random values in
/// [−1, 1) — away from special points such as the identity transform, where sample points sit
/// exactly on pixels and the sampler's derivative jumps.
public func testLeaves(_ graph: Graph, batch: Int, seed: UInt64, jitter: Float = 0) -> [String: [Double]] {
    var leaves = testInputs(graph, batch: batch, seed: seed)
    let initial = Parameters.initialValues(of: graph, seed: seed)
    for node in graph.nodes {
        guard let values = initial[node.name] else { continue }
        let noise = node.isParameter && jitter != 0 ? pseudoRandom(values.count, seed: seed &+ 7919 &* UInt64(node.id.index)) : []
        leaves[node.name] = values.enumerated().map { i, v in Double(v) + (noise.isEmpty ? 0 : Double(jitter * noise[i])) }
    }
    return leaves
}

/// Runs a step graph once from the same parameters and inputs (by default `testInputs` and
/// the initial parameters from `seed`; else `leaves`, by name); returns every loss, output and
/// updated leaf.
public func runOnce(
    _ graph: Graph, batch: Int, seed: UInt64, classGradientKernel: Bool = true, leaves: [String: [Double]]? = nil,
    planner: (Graph, Int) throws -> Plan = { Plan($0, batch: $1) }
) throws -> [String: [Float]] {
    let executor = Executor(try planner(graph, batch), seed: seed, classGradientKernel: classGradientKernel)
    executor.initializeParameters(seed: seed)
    let leaves = leaves ?? testInputs(graph, batch: batch, seed: seed)
    for node in graph.nodes {
        let name = node.op.inputName ?? node.name
        guard let values = leaves[name] else { continue }
        if node.isInput && node.dtype == .int32 {
            try executor.setInput(name, values.map { Int32($0) })
        } else if node.isInput {
            try executor.setInput(name, values.map { Float($0) })
        } else {
            try executor.setValues(of: node.id, values.map { Float($0) })
        }
    }
    try executor.run()
    var result: [String: [Float]] = [:]
    for o in graph.outputs + graph.losses { result["output " + o.name] = executor.values(of: o.node) }
    for u in graph.updates { result["updated " + graph[u.target].name] = executor.values(of: u.target) }
    return result
}

/// What `runOnce` computes, by the reference interpreter in Float64 (or rounding every value
/// to Float32) from the same leaves (by default `testLeaves`) and random numbers.
public func referenceRun(
    _ graph: Graph, batch: Int, seed: UInt64, leaves: [String: [Double]]? = nil, roundsToFloat32: Bool = false
) throws -> [String: [Double]] {
    try ReferenceInterpreter(graph, batch: batch, seed: seed, roundsToFloat32: roundsToFloat32)
        .results(leaves ?? testLeaves(graph, batch: batch, seed: seed))
}

/// The result whose values differ most from the reference's, and by how much: the largest
/// |runtime − reference| over its elements, relative to the result's scale, max(1, largest
/// |reference|) — rounding errors grow with the terms summed, not with each sum (infinite when
/// the keys or sizes differ; NaN on both sides agrees).
public func worstReferenceDifference(_ runtime: [String: [Float]], _ reference: [String: [Double]]) -> (key: String, difference: Double) {
    guard Set(runtime.keys) == Set(reference.keys) else { return ("keys \(runtime.keys.sorted()) vs \(reference.keys.sorted())", .infinity) }
    var worst = (key: "", difference: 0.0)
    for (key, r) in reference {
        let x = runtime[key]!
        guard x.count == r.count else { return (key, .infinity) }
        let scale = Swift.max(1, r.reduce(0) { Swift.max($0, $1.isFinite ? Swift.abs($1) : 0) })
        for (p, q) in zip(x, r) where !(p.isNaN && q.isNaN) {
            let d = Swift.abs(Double(p) - q) / scale
            if !(d <= worst.difference) { worst = (key, d.isNaN ? .infinity : d) }
        }
    }
    return worst
}
/// A model's forward and gradient graph, with every parameter's gradient as an output.
///
/// Property tests compare gradients rather than Adam-updated parameters: Adam's first step moves
/// each weight by about lr·sign(g), so a gradient that is 0 analytically but ±1e-9 from rounding
/// would flip a whole step.
public func gradientGraph(_ model: Model) throws -> Graph {
    let result = try Autodiff.differentiate(model.graph)
    var graph = result.graph
    for (parameter, gradient) in result.gradients {
        graph.outputs.append(.init(name: "∂" + graph[parameter].name, node: gradient))
    }
    return graph
}

/// A model's whole training step (autodiff and Adam), unoptimised.
public func stepGraph(_ model: Model, weightDecay: Float = 0) throws -> Graph {
    try Optimizer.adam(learningRate: 0.01, weightDecay: weightDecay).append(to: Autodiff.differentiate(model.graph)).graph
}

/// The worst relative difference between two runs' results (infinite if their keys differ).
public func worstDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
    guard Set(a.keys) == Set(b.keys) else { return .infinity }
    var worst: Float = 0
    for (key, x) in a {
        let y = b[key]!
        guard x.count == y.count else { return .infinity }
        for (p, q) in zip(x, y) {
            if p.isNaN && q.isNaN { continue }
            worst = max(worst, Swift.abs(p - q) / max(1, Swift.abs(p)))
        }
    }
    return worst
}
