import Compiler
import Foundation
import GaugeTesting
import Graph
import Runtime
import Testing

/// L = Σ x·a + Σ x·b² over `x [batch, 3]`, with `a/w` and `b/w` in scopes of their own:
/// ∂L/∂a = Σ_batch x, ∂L/∂b = 2b·Σ_batch x.
func twoScopesModel() throws -> Model {
    try Model("two-scopes") {
        let x = Input("x", [.batch, 3])
        let a = Scope("a") { Parameter("w", [3], initializer: .uniform(low: -1, high: 1)) }
        let b = Scope("b") { Parameter("w", [3], initializer: .uniform(low: -1, high: 1)) }
        Loss((x * a).sum() + (x * b * b).sum())
    }
}

/// SGD (plain, momentum, Nesterov), schedules, gradient clipping and parameter groups, each
/// against its formula on `twoScopesModel`.
@Suite struct OptimizerTests {
    func model() throws -> Model { try twoScopesModel() }

    let x: [Float] = [0.5, -1, 2, 1.5, 0.25, -0.75]
    var column: [Double] { (0..<3).map { Double(x[$0]) + Double(x[3 + $0]) } }

    func gradients(_ a: [Double], _ b: [Double]) -> ([Double], [Double]) {
        (column, (0..<3).map { 2 * b[$0] * column[$0] })
    }

    func expectClose(_ got: [Float]?, _ expected: [Double], _ what: String) {
        guard let got else { Issue.record("\(what) missing"); return }
        for (g, e) in zip(got, expected) {
            #expect(abs(Double(g) - e) <= 2e-6 * max(1, abs(e)), "\(what): \(got) vs \(expected)")
        }
    }

    /// Three steps of SGD with momentum μ (0: plain) and Nesterov, with the rate of a custom
    /// schedule, a decoupled decay and a rate factor on `b`.
    @Test(arguments: [(0, false), (0.9, false), (0.9, true)] as [(Double, Bool)])
    func sgdStepsMatchTheFormula(momentum: Double, nesterov: Bool) throws {
        let rates: [Float] = [0.1, 0.05, 0.02]
        let (decay, factor) = (0.01, 0.5)
        let optimizer = Optimizer.sgd(
            learningRate: 1, momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(decay),
            schedule: .custom { rates[$0] }, groups: [.init("b", rateFactor: Float(factor))])
        let step = try TrainingStep(model(), batch: 2, optimizer: optimizer)
        let state = step.initialState(seed: 5)
        var a = try #require(state.values("a/w")).map(Double.init)
        var b = try #require(state.values("b/w")).map(Double.init)
        var (ba, bb) = ([0.0, 0, 0], [0.0, 0, 0])
        for s in 0..<3 {
            #expect(step.learningRate(state) == rates[s])
            try step.run(state, feeding: ["x": .float32(x)])
            let (ga, gb) = gradients(a, b)
            let r = Double(rates[s])
            func update(_ p: inout [Double], _ buffer: inout [Double], _ g: [Double], _ f: Double) {
                for i in 0..<3 {
                    buffer[i] = momentum * buffer[i] + g[i]
                    let direction = momentum == 0 ? g[i] : nesterov ? g[i] + momentum * buffer[i] : buffer[i]
                    p[i] = p[i] - r * f * direction - r * decay * p[i]
                }
            }
            update(&a, &ba, ga, 1)
            update(&b, &bb, gb, factor)
            expectClose(state.values("a/w"), a, "a after step \(s + 1)")
            expectClose(state.values("b/w"), b, "b after step \(s + 1)")
        }
        #expect(state.values("a/w/momentum") != nil || momentum == 0)
        #expect(step.layout.entries.map(\.name) == (momentum == 0 ? ["a/w", "b/w"] : ["a/w", "a/w/momentum", "b/w", "b/w/momentum"]))
    }

    /// Clipping scales every gradient by min(1, c/‖g‖) over all parameters together.
    @Test func clippingByGlobalNormMatchesTheFormula() throws {
        let clip = 0.5
        let step = try TrainingStep(model(), batch: 2, optimizer: .sgd(learningRate: 0.1, clipGradientNorm: Float(clip)))
        let state = step.initialState(seed: 7)
        let a = try #require(state.values("a/w")).map(Double.init)
        let b = try #require(state.values("b/w")).map(Double.init)
        try step.run(state, feeding: ["x": .float32(x)])
        let (ga, gb) = gradients(a, b)
        let norm = (ga + gb).map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(norm > clip)  // so the clip acts
        let scale = min(1, clip / norm)
        expectClose(state.values("a/w"), (0..<3).map { a[$0] - 0.1 * scale * ga[$0] }, "a")
        expectClose(state.values("b/w"), (0..<3).map { b[$0] - 0.1 * scale * gb[$0] }, "b")
    }

    /// Adam with clipping: the scaled gradient feeds both moments (the update runs through the
    /// general fused interpreter: the dedicated Adam loop does not take a scaled gradient).
    @Test func adamWithClippingMatchesTheFormula() throws {
        let clip = 0.5
        let step = try TrainingStep(model(), batch: 2, optimizer: .adam(learningRate: 0.01, clipGradientNorm: Float(clip)))
        #expect(step.executor.adamPrograms.allSatisfy { $0 == nil })
        let state = step.initialState(seed: 4)
        let a = try #require(state.values("a/w")).map(Double.init)
        let b = try #require(state.values("b/w")).map(Double.init)
        try step.run(state, feeding: ["x": .float32(x)])
        let (ga, gb) = gradients(a, b)
        let scale = min(1, clip / (ga + gb).map { $0 * $0 }.reduce(0, +).squareRoot())
        let size = 0.01 * (1 - 0.999).squareRoot() / (1 - 0.9)
        func adam(_ p: Double, _ g: Double) -> Double {
            let g = g * scale
            return p - size * (0.1 * g) / ((0.001 * g * g).squareRoot() + 1e-8)
        }
        expectClose(state.values("a/w"), (0..<3).map { adam(a[$0], ga[$0]) }, "a")
        expectClose(state.values("b/w"), (0..<3).map { adam(b[$0], gb[$0]) }, "b")
    }

    /// A group's own weight decay replaces the optimizer's (0 turns it off); AdamW's decay
    /// follows the rate.
    @Test func groupWeightDecayAndAdamW() throws {
        let optimizer = Optimizer.adamW(learningRate: 0.01, weightDecay: 0.1, groups: [.init("a", weightDecay: 0)])
        let step = try TrainingStep(model(), batch: 2, optimizer: optimizer)
        let state = step.initialState(seed: 3)
        let a = try #require(state.values("a/w")).map(Double.init)
        let b = try #require(state.values("b/w")).map(Double.init)
        try step.run(state, feeding: ["x": .float32(x)])
        let (ga, gb) = gradients(a, b)
        let size = 0.01 * (1 - 0.999).squareRoot() / (1 - 0.9)
        func adam(_ p: Double, _ g: Double) -> Double { p - size * (0.1 * g) / ((0.001 * g * g).squareRoot() + 1e-8) }
        expectClose(state.values("a/w"), (0..<3).map { adam(a[$0], ga[$0]) }, "a (no decay)")
        expectClose(state.values("b/w"), (0..<3).map { adam(b[$0], gb[$0]) - 0.01 * 0.1 * b[$0] }, "b (decay)")
    }

    /// A frozen group gets no gradient, no update and no optimizer slots: fine-tuning from a
    /// trained checkpoint with `a` frozen keeps `a`'s bits through several steps while `b` moves.
    @Test func frozenParametersKeepTheirValuesFromALoadedCheckpoint() throws {
        let train = try TrainingStep(model(), batch: 2, optimizer: .adam(learningRate: 0.01))
        let trained = train.initialState(seed: 9)
        for _ in 0..<3 { try train.run(trained, feeding: ["x": .float32(x)]) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-frozen-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try trained.save(to: path)

        let fine = try TrainingStep(model(), batch: 2, optimizer: .sgd(learningRate: 0.1, momentum: 0.9, groups: [.init("a/*", frozen: true)]))
        #expect(fine.layout.entries.map(\.name) == ["a/w", "b/w", "b/w/momentum"])
        let unfrozen = try TrainingStep(model(), batch: 2, optimizer: .sgd(learningRate: 0.1, momentum: 0.9))
        // Pruned, not computed and dropped: ∂(x·a).sum is not made at all.
        #expect(fine.gradientGraph.nodes.count < unfrozen.gradientGraph.nodes.count)
        #expect(fine.graph.updates.allSatisfy { !fine.graph[$0.target].name.hasPrefix("a/") })
        let state = try fine.initialState(seed: 1, parameters: Parameters.load(path, for: model()))
        let (a0, b0) = (try #require(state.values("a/w")), try #require(state.values("b/w")))
        #expect(a0 == trained.values("a/w") && b0 == trained.values("b/w"))
        for _ in 0..<3 { try fine.run(state, feeding: ["x": .float32(x)]) }
        #expect(state.values("a/w")!.map(\.bitPattern) == a0.map(\.bitPattern))
        #expect(state.values("b/w") != b0)
    }

    @Test func aGroupThatMatchesNothingIsAnError() throws {
        #expect {
            _ = try TrainingStep(model(), batch: 2, optimizer: .adam(learningRate: 0.01, groups: [.init("encoder", frozen: true)]))
        } throws: { error in
            "\(error)" == "parameter group \"encoder\" matches no parameter of two-scopes; its parameters are a/w, b/w"
        }
    }

    @Test func patternsMatchNamesAndEverythingBelowAScope() {
        #expect(ParameterGroup("encoder").matches("encoder/dense/weight"))
        #expect(!ParameterGroup("encoder").matches("encoder_2/dense/weight"))
        #expect(ParameterGroup("*/bias").matches("decoder/dense_1/bias"))
        #expect(!ParameterGroup("*/bias").matches("decoder/dense_1/weight"))
        #expect(ParameterGroup("decoder/*/weight").matches("decoder/dense_1/weight"))
        #expect(ParameterGroup("a/w").matches("a/w"))
    }

    @Test func schedulesGiveTheirRates() {
        let cosine = Schedule.cosine(warmupSteps: 4, totalSteps: 14, floor: 0.1)
        #expect((0..<4).map { cosine.rate(base: 2, step: $0, epoch: 0) } == [0.5, 1, 1.5, 2])
        #expect(abs(cosine.rate(base: 2, step: 9, epoch: 0) - 2 * (0.1 + 0.9 * 0.5)) < 1e-6)
        #expect(abs(cosine.rate(base: 2, step: 14, epoch: 0) - 0.2) < 1e-6)
        #expect(abs(cosine.rate(base: 2, step: 99, epoch: 0) - 0.2) < 1e-6)
        #expect(Schedule.steps(every: 10, factor: 0.5).rate(base: 1, step: 25, epoch: 0) == 0.25)
        #expect(Schedule.exponential(halfLifeSteps: 100).rate(base: 1, step: 200, epoch: 0) == 0.25)
        #expect(Schedule.halfLife(epochs: 2).rate(base: 1, step: 999, epoch: 4) == 0.25)
        #expect(Schedule.constant.rate(base: 3, step: 5, epoch: 5) == 3)
        #expect(Schedule.custom { Float($0) }.rate(base: 3, step: 5, epoch: 0) == 5)
    }
}
