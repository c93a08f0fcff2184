import Compiler
import Graph
import Runtime

/// A small deterministic generator (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random models for property tests of compiler passes: chains and DAGs of element-wise ops with
/// broadcasting, reductions, reshapes, transposes, matmuls, small convolutions with ReLU and
/// max-pooling (whose element-wise neighbours run as epilogues), scalar constants (including the
/// 0s and 1s that identities remove), repeated subexpressions, log∘exp and −(−x).
func randomModel(seed: UInt64) throws -> Model {
    try Model("random-\(seed)") {
        let tail = randomTensors(seed: seed)
        Loss(tail.reduce(constant(0)) { $0 + ($1 * $1).sum() } * 0.1)
        Output("last", tail.last!)
    }
}

/// The body of `randomModel`: returns the last three tensors made.
func randomTensors(seed: UInt64) -> [Tensor] {
    var rng = SplitMix(state: seed)
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

/// Runs a step graph once from the same parameters and inputs; returns every loss, output and
/// updated leaf.
func runOnce(
    _ graph: Graph, batch: Int, seed: UInt64, classGradientKernel: Bool = true,
    planner: (Graph, Int) throws -> Plan = { Plan($0, batch: $1) }
) throws -> [String: [Float]] {
    let executor = Executor(try planner(graph, batch), seed: seed, classGradientKernel: classGradientKernel)
    executor.initializeParameters(seed: seed)
    for input in graph.inputs {
        guard let name = input.op.inputName else { continue }
        let n = input.shape.elementCount(batch: batch)
        if input.dtype == .int32 {
            try executor.setInput(name, (0..<n).map { Int32($0 % 3) })
        } else if name == "adam/step_size" || name == "adam/decay" {
            try executor.setInput(name, [1e-2])
        } else {
            try executor.setInput(name, pseudoRandom(n, seed: seed &+ UInt64(input.id.index)))
        }
    }
    try executor.run()
    var result: [String: [Float]] = [:]
    for o in graph.outputs + graph.losses { result["output " + o.name] = executor.values(of: o.node) }
    for u in graph.updates { result["updated " + graph[u.target].name] = executor.values(of: u.target) }
    return result
}

/// A model's forward and gradient graph, with every parameter's gradient as an output.
///
/// Property tests compare gradients rather than Adam-updated parameters: Adam's first step moves
/// each weight by about lr·sign(g), so a gradient that is 0 analytically but ±1e-9 from rounding
/// would flip a whole step.
func gradientGraph(_ model: Model) throws -> Graph {
    let result = try Autodiff.differentiate(model.graph)
    var graph = result.graph
    for (parameter, gradient) in result.gradients {
        graph.outputs.append(.init(name: "∂" + graph[parameter].name, node: gradient))
    }
    return graph
}

/// A model's whole training step (autodiff and Adam), unoptimised.
func stepGraph(_ model: Model, weightDecay: Float = 0) throws -> Graph {
    try Optimizer.adam(learningRate: 0.01, weightDecay: weightDecay).append(to: Autodiff.differentiate(model.graph)).graph
}

/// The worst relative difference between two runs' results (infinite if their keys differ).
func worstDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
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
