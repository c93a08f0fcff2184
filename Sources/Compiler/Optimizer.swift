import Foundation
import Graph

/// An optimizer and its settings. Its update is appended to the training graph as ordinary ops
/// (one fused kernel per parameter); the learning rate and weight decay are scalars the host
/// feeds each step, so a `Schedule` never recompiles the step.
///
/// ```swift
/// .adamW(learningRate: 1e-3, weightDecay: 1e-4, schedule: .cosine(warmupSteps: 500, totalSteps: 20_000),
///        clipGradientNorm: 5, groups: [.init("encoder", frozen: true)])
/// ```
public struct Optimizer: Sendable {
    /// The update rule.
    public enum Rule: Sendable, Equatable {
        /// p ← p − r·b' with b' = μ·b + g (plain SGD when μ = 0); Nesterov: p ← p − r·(g + μ·b').
        case sgd(momentum: Float, nesterov: Bool)
        /// Adam (Kingma & Ba) with bias correction folded into the fed step size
        /// r·√(1 − β2ᵗ)/(1 − β1ᵗ), and ε added to √v.
        case adam(beta1: Float, beta2: Float, epsilon: Float)
    }

    public var rule: Rule
    /// The base learning rate; `schedule` makes each update's rate from it.
    public var learningRate: Float
    public var schedule: Schedule
    /// Decoupled weight decay (as AdamW): every step shrinks each parameter by p·rate·weightDecay,
    /// or by p·weightDecay when `decayFollowsLearningRate` is false (the 2015 code's constant
    /// shrink). Groups can set their own.
    public var weightDecay: Float
    public var decayFollowsLearningRate: Bool
    /// When set, every gradient is scaled by min(1, clip / ‖g‖) with ‖g‖ the global norm over all
    /// trained parameters, before the update.
    public var clipGradientNorm: Float?
    /// Per-parameter settings by name pattern; the first match wins.
    public var groups: [ParameterGroup]

    public init(
        rule: Rule, learningRate: Float, schedule: Schedule = .constant, weightDecay: Float = 0,
        decayFollowsLearningRate: Bool = true, clipGradientNorm: Float? = nil, groups: [ParameterGroup] = []
    ) {
        self.rule = rule
        self.learningRate = learningRate
        self.schedule = schedule
        self.weightDecay = weightDecay
        self.decayFollowsLearningRate = decayFollowsLearningRate
        self.clipGradientNorm = clipGradientNorm
        self.groups = groups
    }

    /// Adam with the paper's defaults (β1 0.9, β2 0.999, ε 1e-8, no weight decay, constant rate).
    /// `halfLifeEpochs` is the paper's schedule (`Schedule.halfLife`); `rateFactors` gives the
    /// parameters below a top-level scope a rate factor (`["ssn": 0.1]`), as groups.
    public static func adam(
        learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0, decayFollowsLearningRate: Bool = true, halfLifeEpochs: Double? = nil,
        rateFactors: [String: Float] = [:], schedule: Schedule = .constant, clipGradientNorm: Float? = nil,
        groups: [ParameterGroup] = []
    ) -> Optimizer {
        Optimizer(
            rule: .adam(beta1: beta1, beta2: beta2, epsilon: epsilon), learningRate: learningRate,
            schedule: halfLifeEpochs.map { .halfLife(epochs: $0) } ?? schedule, weightDecay: weightDecay,
            decayFollowsLearningRate: decayFollowsLearningRate, clipGradientNorm: clipGradientNorm,
            groups: groups + rateFactors.sorted { $0.key < $1.key }.map { ParameterGroup($0.key, rateFactor: $0.value) })
    }

    /// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay following the rate
    /// (PyTorch's default decay 0.01).
    public static func adamW(
        learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 0.01, schedule: Schedule = .constant, clipGradientNorm: Float? = nil,
        groups: [ParameterGroup] = []
    ) -> Optimizer {
        Optimizer(
            rule: .adam(beta1: beta1, beta2: beta2, epsilon: epsilon), learningRate: learningRate, schedule: schedule,
            weightDecay: weightDecay, clipGradientNorm: clipGradientNorm, groups: groups)
    }

    /// Stochastic gradient descent, with heavy-ball or Nesterov momentum when `momentum` > 0
    /// (PyTorch's form: b ← μ·b + g, no dampening), and decoupled weight decay.
    public static func sgd(
        learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0,
        schedule: Schedule = .constant, clipGradientNorm: Float? = nil, groups: [ParameterGroup] = []
    ) -> Optimizer {
        Optimizer(
            rule: .sgd(momentum: momentum, nesterov: nesterov), learningRate: learningRate, schedule: schedule,
            weightDecay: weightDecay, clipGradientNorm: clipGradientNorm, groups: groups)
    }

    /// Every rule's `scopeName`.
    public static let updateScopes: Set<String> = ["adam", "sgd"]

    /// The scope of the update's nodes and the prefix of its fed scalars' names.
    public var scopeName: String {
        switch rule {
        case .sgd: return "sgd"
        case .adam: return "adam"
        }
    }

    /// The learning rate of update `step` (0-based) in `epoch`.
    public func rate(step: Int, epoch: Int) -> Float { schedule.rate(base: learningRate, step: step, epoch: epoch) }

    /// A scalar the host feeds before each step.
    public struct FedScalar: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// Adam's bias-corrected step size, or SGD's rate.
            case stepSize
            /// The shrink p·d of a weight decay.
            case decay(Float)
        }
        public var name: String
        public var kind: Kind
    }

    /// The value fed for a scalar before update `step` (0-based) in `epoch`.
    public func value(of kind: FedScalar.Kind, step: Int, epoch: Int) -> Float {
        let rate = rate(step: step, epoch: epoch)
        switch kind {
        case .stepSize:
            switch rule {
            case .sgd: return rate
            case .adam(let beta1, let beta2, _):
                let t = Double(step + 1)
                return Float(Double(rate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
            }
        case .decay(let weightDecay):
            return decayFollowsLearningRate ? rate * weightDecay : weightDecay
        }
    }

    /// The group a parameter takes (nil: the optimizer's own settings).
    public func group(of name: String) -> ParameterGroup? { groups.first { $0.matches(name) } }

    /// A parameter's weight decay: its group's, else the optimizer's.
    public func weightDecay(of name: String) -> Float { group(of: name)?.weightDecay ?? weightDecay }

    /// The parameters of `graph` that a frozen group holds. Throws when a group's pattern matches
    /// no parameter, naming the parameters there are (a typo would otherwise train everything).
    public func frozenParameters(in graph: Graph) throws(CompilerError) -> Set<NodeID> {
        let names = graph.parameters.map(\.name)
        for g in groups where !names.contains(where: g.matches) {
            let shown = names.prefix(12).joined(separator: ", ") + (names.count > 12 ? ", …" : "")
            throw CompilerError("parameter group \"\(g.pattern)\" matches no parameter of \(graph.name); its parameters are \(shown)")
        }
        return Set(graph.parameters.filter { group(of: $0.name)?.frozen == true }.map(\.id))
    }
}
