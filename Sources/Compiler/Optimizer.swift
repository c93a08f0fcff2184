import Foundation
import Graph

/// An optimizer and its settings. Its update is appended to the training graph as ordinary ops.
public enum Optimizer: Sendable {
    case adam(Adam)

    /// Adam with the paper's defaults (β1 0.9, β2 0.999, ε 1e-8, no weight decay, constant rate).
    public static func adam(
        learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0, decayFollowsLearningRate: Bool = true, halfLifeEpochs: Double? = nil,
        rateFactors: [String: Float] = [:]
    ) -> Optimizer {
        var adam = Adam(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
            halfLifeEpochs: halfLifeEpochs)
        adam.decayFollowsLearningRate = decayFollowsLearningRate
        adam.rateFactors = rateFactors
        return .adam(adam)
    }
}

/// Adam (Kingma & Ba) with bias correction, optional decoupled weight decay, and the paper's
/// learning-rate half-life in epochs (lr·0.5^(epoch / halfLife), PAPER.md §3.1).
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Per-step shrink of every parameter: p ← p − lr·weightDecay·p (decoupled, as AdamW), or
    /// p ← p − weightDecay·p when `decayFollowsLearningRate` is false (the 2015 code's
    /// `p·1e-4·batch/P`, which ignores the learning rate and its half-life).
    public var weightDecay: Float
    public var decayFollowsLearningRate = true
    public var halfLifeEpochs: Double?
    /// Learning-rate factors by outermost scope: `["ssn": 0.1]` gives the symmetry-statistics
    /// net a 10× lower rate (as the spatial-transformer paper did on SVHN). Others use 1.
    public var rateFactors: [String: Float] = [:]

    public init(
        learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0,
        halfLifeEpochs: Double? = nil
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.halfLifeEpochs = halfLifeEpochs
    }

    /// Names of the scalar inputs the host feeds each step.
    public static let stepSizeInput = "adam/step_size"
    public static let decayInput = "adam/decay"

    /// The learning rate in an epoch (0-based).
    public func learningRate(epoch: Int) -> Float {
        guard let halfLifeEpochs else { return learningRate }
        return learningRate * Float(pow(0.5, Double(epoch) / halfLifeEpochs))
    }

    /// The decay fed for an epoch: the shrink p·decay of every parameter in one step.
    public func decay(epoch: Int) -> Float {
        decayFollowsLearningRate ? learningRate(epoch: epoch) * weightDecay : weightDecay
    }

    /// The bias-corrected step size lr·√(1 − β2ᵗ)/(1 − β1ᵗ) for update number `t` (1-based).
    public func stepSize(update t: Int, epoch: Int) -> Float {
        let b1 = 1 - pow(Double(beta1), Double(t))
        let b2 = 1 - pow(Double(beta2), Double(t))
        return Float(Double(learningRate(epoch: epoch)) * b2.squareRoot() / b1)
    }

    /// Appends m, v and parameter updates for every (parameter, gradient) pair:
    /// m' = β1m + (1−β1)g, v' = β2v + (1−β2)g², p' = p − f·s·m'/(√v' + ε) − d·p, with f the
    /// rate factor of the parameter's scope.
    public func append(to result: Autodiff.Result) throws(CompilerError) -> Graph {
        var editor = GraphEditor(result.graph)
        editor.scope = ["adam"]
        editor.call = "adam"
        let stepSize = editor.addLeaf(.input(name: Self.stepSizeInput), type: TensorType(.scalar), name: "step_size")
        let decay = editor.addLeaf(.input(name: Self.decayInput), type: TensorType(.scalar), name: "decay")
        var updates: [Graph.Update] = []
        for (parameter, gradient) in result.gradients {
            let node = result.graph[parameter]
            editor.scope = ["adam", node.name]
            editor.location = node.location
            let m = editor.addLeaf(.variable(name: "\(node.name)/adam_m"), type: node.type, name: "m")
            let v = editor.addLeaf(.variable(name: "\(node.name)/adam_v"), type: node.type, name: "v")
            let m2 = try editor.add(editor.mul(m, beta1), editor.mul(gradient, 1 - beta1))
            let v2 = try editor.add(editor.mul(v, beta2), editor.mul(editor.unary(.square, gradient), 1 - beta2))
            let denominator = try editor.add(editor.unary(.sqrt, v2), editor.constant(epsilon))
            var change = try editor.mul(editor.div(m2, denominator), stepSize)
            if let factor = rateFactors[node.scope.first ?? ""], factor != 1 { change = try editor.mul(change, factor) }
            var p2 = try editor.sub(parameter, change)
            if weightDecay != 0 { p2 = try editor.sub(p2, editor.mul(parameter, decay)) }
            updates += [
                Graph.Update(target: m, value: m2), Graph.Update(target: v, value: v2),
                Graph.Update(target: parameter, value: p2),
            ]
        }
        var graph = editor.graph
        graph.updates = updates
        return graph
    }
}
