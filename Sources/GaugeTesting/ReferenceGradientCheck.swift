import Graph

/// Checks a model's autodiff (the VJP rules) in Float64, with no kernel involved: the reference
/// interpreter evaluates the gradient graph, and central differences of the summed losses,
/// (L(p + h) − L(p − h)) / 2h, at up to `samples` elements of every parameter. Returns the
/// elements where |ad − fd| > tolerance · max(1, |fd|). Leaves are `testLeaves` from `seed`,
/// the parameters moved by `jitter` (away from the identity transforms that spatial-statistics
/// nets start at, where the sampler's derivative jumps and central differences average two).
public func referenceGradientMismatches(
    _ model: Model, batch: Int = 2, seed: UInt64 = 1, step: Double = 1e-6, tolerance: Double = 1e-6, samples: Int = 8,
    jitter: Float = 0
) throws -> [GradientMismatch] {
    let gradients = try gradientGraph(model)
    let leaves = testLeaves(gradients, batch: batch, seed: seed, jitter: jitter)
    let analytic = try ReferenceInterpreter(gradients, batch: batch, seed: seed).results(leaves)
    var forward = model.graph
    forward.outputs = []
    let interpreter = ReferenceInterpreter(forward, batch: batch, seed: seed)
    func loss(_ leaves: [String: [Double]]) throws -> Double {
        try interpreter.results(leaves).values.reduce(0) { $0 + $1.reduce(0, +) }
    }
    var mismatches: [GradientMismatch] = []
    for parameter in model.graph.parameters {
        let values = leaves[parameter.name]!
        for i in Swift.stride(from: 0, to: values.count, by: max(1, values.count / samples)) {
            var shifted = leaves
            shifted[parameter.name]![i] = values[i] + step
            let up = try loss(shifted)
            shifted[parameter.name]![i] = values[i] - step
            let numeric = (up - (try loss(shifted))) / (2 * step)
            let ad = analytic["output ∂" + parameter.name]?[i] ?? 0
            if !(Swift.abs(ad - numeric) <= tolerance * Swift.max(1, Swift.abs(numeric))) {
                mismatches.append(GradientMismatch(parameter: parameter.name, index: i, analytic: ad, numeric: numeric))
            }
        }
    }
    return mismatches
}
