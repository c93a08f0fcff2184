import Compiler
import Foundation
import Graph
import Runtime
import Testing

/// One Adam step against the formula, per parameter: rate factors by scope and the 2015 code's
/// constant weight decay (not scaled by the learning rate or its half-life).
@Suite struct AdamTests {
    func model() throws -> Model { try twoScopesModel() }

    @Test(arguments: [true, false])
    func oneStepMatchesTheFormula(decayFollowsLearningRate: Bool) throws {
        let (lr, decay, factor, halfLife, epoch) = (0.01, 0.003, 0.1, 2.0, 3)
        let optimizer = Optimizer.adam(
            learningRate: Float(lr), weightDecay: Float(decay), decayFollowsLearningRate: decayFollowsLearningRate,
            halfLifeEpochs: halfLife, rateFactors: ["b": Float(factor)])
        let step = try TrainingStep(model(), batch: 2, optimizer: optimizer)
        let state = step.initialState(seed: 5)
        state.epoch = epoch
        let x: [Float] = [0.5, -1, 2, 1.5, 0.25, -0.75]
        let a0 = try #require(state.values("a/w")).map(Double.init)
        let b0 = try #require(state.values("b/w")).map(Double.init)
        try step.run(state, feeding: ["x": .float32(x)])

        let column = (0..<3).map { Double(x[$0]) + Double(x[3 + $0]) }
        let rate = lr * pow(0.5, Double(epoch) / halfLife)
        let size = rate * (1 - 0.999).squareRoot() / (1 - 0.9)  // bias-corrected, update 1
        let shrink = decayFollowsLearningRate ? rate * decay : decay
        func updated(_ p: Double, _ g: Double, _ f: Double) -> Double {
            let (m, v) = (0.1 * g, 0.001 * g * g)
            return p - f * size * m / (v.squareRoot() + 1e-8) - shrink * p
        }
        let a1 = try #require(state.values("a/w"))
        let b1 = try #require(state.values("b/w"))
        for i in 0..<3 {
            let ea = updated(a0[i], column[i], 1)
            let eb = updated(b0[i], 2 * b0[i] * column[i], factor)
            #expect(abs(Double(a1[i]) - ea) <= 1e-6 * max(1, abs(ea)), "a[\(i)]: \(a1[i]) vs \(ea)")
            #expect(abs(Double(b1[i]) - eb) <= 1e-6 * max(1, abs(eb)), "b[\(i)]: \(b1[i]) vs \(eb)")
        }
    }
}
