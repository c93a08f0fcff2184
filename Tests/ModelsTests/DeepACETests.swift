import Compiler
import Foundation
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

/// ACE with symmetry statistics at depth: its gradients, its error output and its start.
@Suite struct DeepACETests {
    /// A tiny deep ACE: 8×8 images, an image SSN, two groups of two level-1 maps.
    static let tiny = DeepACEConfiguration(
        name: "tiny-deep-ace", channels: 1, height: 8, width: 8, classes: 3,
        symmetryNet: ACEConfiguration.SymmetryNet(convolutions: [(2, 3)], poolInput: false, convPadding: .same, hidden: 4),
        level1: (4, 3), groups: 2, groupHidden: 4, level2: (4, 3), latents1: 1, latents2: 1, encoderHidden: 6,
        decoderHidden: 6, classifierHidden: 6, classifierDropout: 0, learningRate: 1e-3)

    /// The parameters a training run of `model` starts from.
    static func initialParameters(_ model: Model, seed: UInt64) throws -> Parameters {
        try TrainingStep(model, batch: 1, optimizer: .adam(learningRate: 1e-3)).initialState(seed: seed).parameters
    }

    /// Every parameter's gradient (the group warps, their inversion in the decoder, both latent
    /// levels) against central differences, both in Float64 by the reference interpreter, the
    /// parameters jittered off the identity transforms (where the sampler has a kink).
    @Test func gradientsMatchCentralDifferencesInFloat64() throws {
        let mismatches = try referenceGradientMismatches(
            DeepACE.model(Self.tiny), batch: 3, step: 1e-6, tolerance: 1e-6, jitter: 0.05)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
    }

    /// `misclassified` is 1 exactly where the largest logit is not the label's.
    @Test func misclassifiedMarksTheRowsTheLogitsGetWrong() throws {
        let model = try DeepACE.model(Self.tiny)
        let batch = 12
        let labels = (0..<batch).map { Int32($0 % 3) }
        let images = pseudoRandom(batch * 64, seed: 4).map { ($0 + 1) / 2 }
        let parameters = try Self.initialParameters(model, seed: 9)
        let results = try Inference(model, batch: batch).run(
            parameters, feeding: ["image": .float32(images), "label": .int32(labels)], seed: 3)
        let (logits, wrong) = (results["logits"]!, results["misclassified"]!)
        for r in 0..<batch {
            let row = Array(logits[(r * 3)..<(r * 3 + 3)])
            let expected: Float = row[Int(labels[r])] < row.max()! ? 1 : 0
            #expect(wrong[r] == expected, "row \(r): logits \(row), label \(labels[r])")
        }
    }

    /// At initialisation every group's θ is the identity, so the level-1 maps enter level 2 as
    /// they are, and the built-in configurations build with the groups their maps divide into.
    @Test func groupStatisticsStartAtTheIdentity() throws {
        let model = try DeepACE.model(Self.tiny)
        let batch = 2
        let results = try Inference(model, batch: batch).run(
            Self.initialParameters(model, seed: 1),
            feeding: ["image": .float32(pseudoRandom(batch * 64, seed: 2)), "label": .int32([0, 2])])
        for g in 0..<2 { #expect(results["group_theta_\(g)"] == [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0]) }
        for config in DeepACEConfiguration.builtIn {
            #expect(config.level1.filters % config.groups == 0, "\(config.name)")
            let graph = try DeepACE.model(config).graph
            #expect(graph.outputs.filter { $0.name.hasPrefix("group_theta_") }.count == config.groups)
        }
    }

    /// The renderer declares the decoder alone under the training model's names and shapes, so
    /// a training checkpoint's parameters drive it; identity poses draw the canonical frame.
    @Test func theRendererSharesTheDecodersParameters() throws {
        func parameters(_ graph: Graph) -> [String: Shape] {
            Dictionary(uniqueKeysWithValues: graph.nodes.filter(\.isParameter).map { ($0.name, $0.shape) })
        }
        let training = parameters(try DeepACE.model(Self.tiny).graph)
        let rendering = parameters(try DeepACE.renderer(Self.tiny).graph)
        #expect(!rendering.isEmpty && rendering.keys.allSatisfy { $0.hasPrefix("decoder/") })
        for (name, shape) in rendering { #expect(training[name] == shape, "\(name)") }
        #expect(rendering.count == training.keys.filter { $0.hasPrefix("decoder/") }.count)
    }
}
