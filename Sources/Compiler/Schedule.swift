import Foundation

/// A learning rate per update: the host computes it before each step and feeds it as a scalar,
/// so changing the rate never recompiles the step.
///
/// ```swift
/// .adamW(learningRate: 1e-3, schedule: .cosine(warmupSteps: 500, totalSteps: 20_000))
/// ```
public struct Schedule: Sendable, CustomStringConvertible {
    let rate: @Sendable (_ base: Float, _ step: Int, _ epoch: Int) -> Float
    public let description: String

    /// A schedule from a function of the base rate, the update count (0 for the first update)
    /// and the epoch.
    public init(_ description: String, rate: @escaping @Sendable (_ base: Float, _ step: Int, _ epoch: Int) -> Float) {
        self.description = description
        self.rate = rate
    }

    /// The rate of update `step` (0-based) in `epoch` (0-based).
    public func rate(base: Float, step: Int, epoch: Int) -> Float { rate(base, step, epoch) }

    /// The base rate throughout.
    public static let constant = Schedule("constant") { base, _, _ in base }

    /// The paper's schedule: base·0.5^(epoch / epochs), halving every `epochs` epochs (PAPER.md §3.1).
    public static func halfLife(epochs: Double) -> Schedule {
        Schedule("half-life \(epochs) epochs") { base, _, epoch in base * Float(pow(0.5, Double(epoch) / epochs)) }
    }

    /// base·0.5^(step / steps): halving every `steps` updates, smoothly.
    public static func exponential(halfLifeSteps steps: Double) -> Schedule {
        Schedule("exponential, half-life \(steps) steps") { base, step, _ in base * Float(pow(0.5, Double(step) / steps)) }
    }

    /// base·factor^⌊step / every⌋: the rate multiplied by `factor` after every `every` updates.
    public static func steps(every: Int, factor: Float) -> Schedule {
        Schedule("×\(factor) every \(every) steps") { base, step, _ in base * pow(factor, Float(step / max(every, 1))) }
    }

    /// Linear warm-up from base/warmupSteps to base over the first `warmupSteps` updates, then a
    /// half cosine from base down to base·floor at update `totalSteps` (and base·floor after).
    public static func cosine(warmupSteps: Int = 0, totalSteps: Int, floor: Float = 0) -> Schedule {
        Schedule("cosine over \(totalSteps) steps, \(warmupSteps) warm-up") { base, step, _ in
            if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
            let span = max(totalSteps - warmupSteps, 1)
            let t = min(Double(step - warmupSteps) / Double(span), 1)
            return base * (floor + (1 - floor) * Float((1 + cos(Double.pi * t)) / 2))
        }
    }

    /// Any rate as a function of the update count (0 for the first update); the base rate is
    /// ignored.
    public static func custom(_ rate: @escaping @Sendable (_ step: Int) -> Float) -> Schedule {
        Schedule("custom") { _, step, _ in rate(step) }
    }
}
