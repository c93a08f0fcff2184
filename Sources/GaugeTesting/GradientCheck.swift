import Compiler
import Graph
import Runtime

/// Σ y · P with a fed random probe P of y's shape: a scalar whose gradient reaches every
/// element of y with a different weight.
public func probe(_ y: Tensor) -> Tensor { (y * Input("probe\(y.id?.index ?? -1)", y.shape)).sum() }

/// Deterministic pseudo-random floats in [low, high).
public func pseudoRandom(_ n: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return (0..<n).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return low + (high - low) * Float(state >> 40) / Float(1 << 24)
    }
}

/// A model, differentiated and planned, with parameters initialised and inputs fed.
public struct Harness {
    public let result: Autodiff.Result
    public let executor: Executor

    public init(
        batch: Int, seed: UInt64 = 1, inputs: [String: [Float]] = [:], labels: [String: [Int32]] = [:],
        @ModelBuilder _ body: () -> [ModelStatement]
    ) throws {
        let model = try Model("check", body)
        result = try Autodiff.differentiate(model.graph)
        _ = try ShapeInference.run(result.graph)
        executor = Executor(Plan(result.graph, batch: batch), seed: seed)
        executor.initializeParameters(seed: seed)
        for input in result.graph.inputs {
            let n = input.shape.elementCount(batch: batch)
            let name = input.op.inputName!
            if input.dtype == .int32 {
                try executor.setInput(name, labels[name] ?? Array(repeating: 0, count: n))
            } else {
                try executor.setInput(name, inputs[name] ?? pseudoRandom(n, seed: UInt64(input.id.index) + seed))
            }
        }
    }

    public func loss() throws -> Float {
        try executor.run()
        return executor.values(of: result.loss)[0]
    }
}

/// A gradient element whose autodiff value and central difference disagree.
public struct GradientMismatch: CustomStringConvertible, Sendable {
    public var parameter: String
    public var index: Int
    public var analytic: Double
    public var numeric: Double
    public var description: String { "\(parameter)[\(index)]: autodiff \(analytic), central difference \(numeric)" }
}

/// Compares every parameter's autodiff gradient with central differences of the loss, at up
/// to `samples` elements per parameter, on the runtime (Float32): the elements where
/// |ad − fd| > tolerance · max(1, |fd|).
public func gradientMismatches(_ harness: Harness, step: Float = 1e-2, tolerance: Float = 1e-2, samples: Int = 12) throws
    -> [GradientMismatch]
{
    _ = try harness.loss()
    let analytic = harness.result.gradients.map { harness.executor.values(of: $0.gradient) }
    var mismatches: [GradientMismatch] = []
    for (k, entry) in harness.result.gradients.enumerated() {
        let parameter = entry.parameter
        var values = harness.executor.values(of: parameter)
        let stride = max(1, values.count / samples)
        for i in Swift.stride(from: 0, to: values.count, by: stride) {
            let original = values[i]
            values[i] = original + step
            try harness.executor.setValues(of: parameter, values)
            let up = try harness.loss()
            values[i] = original - step
            try harness.executor.setValues(of: parameter, values)
            let down = try harness.loss()
            values[i] = original
            try harness.executor.setValues(of: parameter, values)
            let numeric = (up - down) / (2 * step)
            if !(Swift.abs(analytic[k][i] - numeric) <= tolerance * Swift.max(1, Swift.abs(numeric))) {
                mismatches.append(
                    GradientMismatch(
                        parameter: harness.result.graph[parameter].name, index: i, analytic: Double(analytic[k][i]),
                        numeric: Double(numeric)))
            }
        }
    }
    return mismatches
}
