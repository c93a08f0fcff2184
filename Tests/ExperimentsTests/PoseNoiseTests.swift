import Compiler
import Foundation
import Graph
import Models
import Runtime
import Testing

/// Symmetry statistics as latent variables (`ACEConfiguration.PoseNoise`): the `pose_kl` term
/// against its closed form, written here from the Laplace densities, and the evaluation graph
/// that uses θ itself.
@Suite struct PoseNoiseTests {
    func config(_ noise: ACEConfiguration.PoseNoise) -> ACEConfiguration {
        var config = ACEConfiguration.mnist(.rts)
        config.latentPerClass = 1
        (config.encoderHidden, config.decoderHidden, config.classifierFilters, config.classifierHidden) = ([8], [4], [2], 4)
        config.poseNoise = noise
        return config
    }

    /// KL(Laplace(m, b) ‖ Laplace(m0, B)) = ∫ p ln(p/q): ln(B/b) + |m − m0|/B + (b/B)e^{−|m − m0|/b} − 1.
    func laplaceKL(_ m: Double, _ b: Double, _ m0: Double, _ prior: Double) -> Double {
        let d = abs(m - m0)
        return log(prior / b) + d / prior + (b / prior) * exp(-d / b) - 1
    }

    @Test(arguments: [ACEConfiguration.PoseNoise.fixed(scale: 0.05), .learned(initialScale: 0.05)])
    func poseKLIsTheLaplaceKLOfEachStatistic(noise: ACEConfiguration.PoseNoise) throws {
        let c = config(noise)
        let batch = 3
        let step = try TrainingStep(ACE.model(c), batch: batch, optimizer: .sgd(learningRate: 0))
        let state = step.initialState(seed: 2)
        // The SSN's last layer has zero weights: θ is its bias, set here off the identity.
        let bias = try #require(state.tensors.first { $0.name.hasPrefix("ssn/") && $0.shape == [6] && $0.name.hasSuffix("bias") })
        let theta: [Double] = [1.1, 0.2, -0.1, 0.05, 0.9, 0.3]
        try state.setValues(bias.name, theta.map(Float.init))
        if case .learned = noise {
            let scale = try #require(state.values("pose/log_scale"))
            #expect(scale.allSatisfy { abs($0 - Float(log(0.05))) < 1e-7 })
        }
        let images = (0..<(batch * c.pixels)).map { Float(($0 * 37) % 101) / 100 }
        let losses = try step.run(state, feeding: ["image": .float32(images), "label": .int32([0, 4, 9])])
        let identity: [Double] = [1, 0, 0, 0, 1, 0]
        let expected = Double(batch) * zip(theta, identity).map { laplaceKL($0, 0.05, $1, Double(ACEConfiguration.PoseNoise.priorScale)) }.reduce(0, +)
        let got = try #require(losses["pose_kl"])
        #expect(abs(Double(got) - expected) < 1e-4 * expected, "pose_kl \(got), expected \(expected)")
    }

    /// The evaluation graph has neither the noise nor its KL term, and the same parameters but
    /// the learned scales; the training graph draws one Laplace tensor more.
    @Test func evaluationUsesTheMeanPose() throws {
        let c = config(.learned(initialScale: 0.02))
        let training = try ACE.model(c).graph
        let evaluation = try ACE.model(c, perImageTerms: true, evaluation: true).graph
        #expect(training.losses.map(\.name).contains("pose_kl"))
        #expect(!evaluation.losses.map(\.name).contains("pose_kl"))
        func laplaceDraws(_ g: Graph) -> Int {
            g.nodes.filter { if case .random(.laplace, _, _) = $0.op { return true } else { return false } }.count
        }
        #expect(laplaceDraws(training) == laplaceDraws(evaluation) + 1)
        let trainingParameters = Set(training.parameters.map(\.name))
        #expect(trainingParameters.subtracting(evaluation.parameters.map(\.name)) == ["pose/log_scale"])
    }
}
