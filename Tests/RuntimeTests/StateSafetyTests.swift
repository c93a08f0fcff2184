import Compiler
import Foundation
import Graph
import Runtime
import Testing

/// A state, checkpoint or parameter set that does not fit is a typed error listing every
/// difference, never a crash; parameters load alone for inference, which checks its feeds and
/// takes a last partial batch.
@Suite struct StateSafetyTests {
    func model(width: Int = 3) throws -> Model {
        try Model("net") {
            let x = Input("x", [.batch, 2])
            let y = Scope("head") { x.dense(width, activation: .tanh) }.dense(1)
            Output("y", y)
            Loss(y.square().sum())
        }
    }

    let x: [Float] = [0.5, -1, 2, 1.5, 0.25, -0.75, 1, 0]

    /// Rate factors change the step graph, not the state's layout: a state made by one step runs
    /// through the other (it used to crash in `Executor.bind`), with the other's result.
    @Test func aStateRunsThroughAnyStepOfTheSameLayout() throws {
        let plain = try TrainingStep(model(), batch: 4, optimizer: .adam(learningRate: 0.01))
        let factored = try TrainingStep(model(), batch: 4, optimizer: .adam(learningRate: 0.01, rateFactors: ["head": 0.1]))
        #expect(plain.layout == factored.layout)
        let (s1, s2) = (plain.initialState(seed: 4), factored.initialState(seed: 4))
        try factored.run(s1, feeding: ["x": .float32(x)])
        try factored.run(s2, feeding: ["x": .float32(x)])
        for t in s1.tensors { #expect(s1.values(t.name) == s2.values(t.name), "\(t.name)") }
    }

    @Test func aStateOfAnotherLayoutIsRefusedWithItsDifferences() throws {
        let adam = try TrainingStep(model(), batch: 4, optimizer: .adam(learningRate: 0.01))
        let sgd = try TrainingStep(model(), batch: 4, optimizer: .sgd(learningRate: 0.01, momentum: 0.9))
        let state = sgd.initialState(seed: 1)
        #expect {
            try adam.run(state, feeding: ["x": .float32(x)])
        } throws: { error in
            let e = try #require(error as? LayoutMismatch)
            return e.differences.count == 12
                && e.description.hasPrefix("""
                    this state was made for another training step (12 differences):
                      missing "dense/bias/adam_m" [1]
                      missing "dense/bias/adam_v" [1]
                    """)
                && e.description.contains("unexpected \"head/dense/weight/momentum\" [2, 3]")
        }
        #expect(state.step == 0)
    }

    /// A sampler declares a subset of the training model's parameters (same names): they load
    /// from the training checkpoint alone, optimizer slots skipped, and give the same outputs.
    @Test func parametersLoadAloneForASampler() throws {
        let step = try TrainingStep(model(), batch: 4, optimizer: .adam(learningRate: 0.01))
        let state = step.initialState(seed: 2)
        try step.run(state, feeding: ["x": .float32(x)])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-params-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try state.save(to: path)
        let sampler = try Model("sampler") {
            let h = Input("h", [.batch, 3])
            Output("y", h.dense(1))
        }
        let parameters = try Parameters.load(path, for: sampler)
        #expect(parameters.layout.entries.map(\.name) == ["dense/bias", "dense/weight"])
        let h: [Float] = [0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0, 1, 0, 2, 2, 2]
        let y = try Inference(sampler, batch: 4).run(parameters, feeding: ["h": .float32(h)])["y"]
        let w = try #require(state.values("dense/weight")), b = try #require(state.values("dense/bias"))
        let expected = (0..<4).map { r in (0..<3).reduce(b[0]) { $0 + h[r * 3 + $1] * w[$1] } }
        for (g, e) in zip(try #require(y), expected) { #expect(abs(g - e) < 1e-5) }

        let wide = try Model("wide") { Output("y", Input("h", [.batch, 3]).dense(2)) }
        #expect {
            _ = try Parameters.load(path, for: wide)
        } throws: { error in
            "\(error)" == """
                checkpoint \(path) does not fit model "wide" (2 differences):
                  "dense/bias" has shape [1]; needed [2]
                  "dense/weight" has shape [3, 1]; needed [3, 2]
                """
        }
    }

    /// Fine-tuning starts from loaded parameters with fresh optimizer slots; parameters missing
    /// for the step are a typed error.
    @Test func aStepStartsFromParameters() throws {
        let step = try TrainingStep(model(), batch: 4, optimizer: .adam(learningRate: 0.01))
        let trained = step.initialState(seed: 2)
        try step.run(trained, feeding: ["x": .float32(x)])
        let sgd = try TrainingStep(model(), batch: 4, optimizer: .sgd(learningRate: 0.01))
        let state = try sgd.initialState(seed: 9, parameters: trained.parameters)
        for t in state.tensors { #expect(state.values(t.name) == trained.values(t.name)) }
        #expect(state.step == 0)
        let wider = try TrainingStep(model(width: 5), batch: 4, optimizer: .sgd(learningRate: 0.01))
        #expect {
            _ = try wider.initialState(seed: 1, parameters: trained.parameters)
        } throws: { error in
            (error as? LayoutMismatch)?.differences == [
                .shape(name: "dense/weight", needed: [5, 1], found: [3, 1]),
                .shape(name: "head/dense/bias", needed: [5], found: [3]),
                .shape(name: "head/dense/weight", needed: [2, 5], found: [2, 3]),
            ]
        }
    }

    /// A last partial batch is padded and cut: its rows equal the same rows of a full batch.
    @Test func inferenceTakesAPartialBatchAndChecksItsFeeds() throws {
        let step = try TrainingStep(model(), batch: 4, optimizer: .adam(learningRate: 0.01))
        let parameters = step.initialState(seed: 3).parameters
        let inference = try Inference(model(), batch: 4)
        let full = try #require(try inference.run(parameters, feeding: ["x": .float32(x)])["y"])
        let part = try inference.run(parameters, feeding: ["x": .float32(Array(x.prefix(6)))])
        #expect(part["y"] == Array(full.prefix(3)))
        #expect(part["loss"] == nil)
        #expect {
            _ = try inference.run(parameters, feeding: [:])
        } throws: { "\($0)" == "error: no values fed for input x" }
        #expect {
            _ = try inference.run(parameters, feeding: ["x": .float32([1, 2, 3])])
        } throws: { "\($0)" == "error: x takes 8 values (4 rows), or a multiple of 2 for fewer rows; got 3" }
        #expect {
            _ = try inference.run(parameters, feeding: ["x": .float32(x), "z": .float32([1])])
        } throws: { "\($0)" == "error: no input named z; net's inputs are x" }
    }
}
