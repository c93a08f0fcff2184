import Compiler
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

/// The dedicated Adam loop (`AdamProgram` + the C kernel): every parameter's update of the
/// built-in models is recognised, and training with it gives the same bits as the general
/// fused-kernel interpreter, with and without rate factors and weight decay.
@Suite(.serialized) struct AdamLoopTests {
    @Test(arguments: ["tiny-vae", "ace-mnist", "ace-cifar-conv"])
    func everyUpdateIsRecognised(model name: String) throws {
        let model = try ModelCatalog.named(name)!.build()
        let step = try TrainingStep(model, batch: 8, optimizer: .adam(learningRate: 1e-3))
        let recognised = step.executor.adamPrograms.compactMap { $0 }.count
        #expect(recognised == step.graph.parameters.count, "\(name): \(recognised) of \(step.graph.parameters.count)")
        let off = try TrainingStep(model, batch: 8, optimizer: .adam(learningRate: 1e-3), adamLoops: false)
        #expect(off.executor.adamPrograms.allSatisfy { $0 == nil })
    }

    @Test(arguments: ["ace-rts", "ace-cifar-conv"], [false, true])
    func theLoopGivesTheInterpretersBits(model name: String, decayAndFactor: Bool) throws {
        let model = try ModelCatalog.named(name)!.build()
        let optimizer = Optimizer.adam(
            learningRate: 1e-3, weightDecay: decayAndFactor ? 1e-3 : 0, decayFollowsLearningRate: false,
            rateFactors: decayAndFactor ? ["ssn": 0.1] : [:])
        let batch = 6
        let fast = try TrainingStep(model, batch: batch, optimizer: optimizer)
        let reference = try TrainingStep(model, batch: batch, optimizer: optimizer, adamLoops: false)
        #expect(fast.executor.adamPrograms.contains { $0?.factor != nil } == decayAndFactor)
        let (a, b) = (fast.initialState(seed: 3), reference.initialState(seed: 3))
        let image = try #require(model.graph.inputs.first { $0.op.inputName == "image" })
        let pixels = image.shape.dims.dropFirst().reduce(1) { $0 * $1.fixedSize! }
        for s in 0..<3 {
            let images = pseudoRandom(batch * pixels, seed: 40 + UInt64(s)).map { ($0 + 1) / 2 }
            let feeds: [String: TensorData] = ["image": .float32(images), "label": .int32([1, 4, 4, 7, 0, 1])]
            let la = try fast.run(a, feeding: feeds)
            let lb = try reference.run(b, feeding: feeds)
            #expect(la.mapValues(\.bitPattern) == lb.mapValues(\.bitPattern), "step \(s): \(la) vs \(lb)")
        }
        for t in a.tensors {
            let same = a.values(t.name)!.map(\.bitPattern) == b.values(t.name)!.map(\.bitPattern)
            #expect(same, "\(name): \(t.name) differs")
        }
    }
}
