import Compiler
import Graph
import Models
import Runtime
import Testing

/// Every ACE configuration of the catalog trains: a few steps on one small batch give finite,
/// falling losses (PAPER.md §3 sizes, tiny batch).
@Suite(.serialized) struct ACEConfigurationTrainingTests {
    static let names = ModelCatalog.all.map(\.name).filter { $0.hasPrefix("ace-") }

    @Test func theCatalogHasEveryPaperConfiguration() {
        #expect(
            Set(Self.names) == [
                "ace-cifar", "ace-cifar-conv", "ace-cifar-colour", "ace-cifar-conv-colour", "ace-mnist", "ace-rts", "ace-tc",
                "ace-mnist-nosym", "ace-rts-nosym", "ace-tc-nosym", "ace-deep-rts", "ace-deep-cifar",
            ])
    }

    @Test(arguments: names) func aFewStepsGiveFiniteFallingLosses(name: String) throws {
        let model = try ModelCatalog.named(name)!.build()
        let image = try #require(model.graph.inputs.first { $0.op.inputName == "image" })
        let dims = image.shape.dims.dropFirst().map { $0.fixedSize! }
        let (channels, side) = (dims[0], dims[1])
        let batch = 4
        // Each image: a bright square whose place and size depend on its index.
        var images = [Float](repeating: 0, count: batch * channels * side * side)
        for n in 0..<batch {
            let (origin, size) = (side / 4 + n, side / 3 + n)
            for c in 0..<channels {
                for y in origin..<(origin + size) {
                    for x in origin..<(origin + size) { images[((n * channels + c) * side + y) * side + x] = 0.9 }
                }
            }
        }
        // The paper's rates: 0.0005 for CIFAR-10, 0.0015 for the MNIST sets.
        let rate: Float = name.contains("cifar") ? 0.0005 : 0.0015
        let step = try TrainingStep(model, batch: batch, optimizer: .adam(learningRate: rate))
        let state = step.initialState(seed: 3)
        var totals: [Float] = []
        for _ in 0..<10 {
            let losses = try step.run(state, feeding: ["image": .float32(images), "label": .int32([1, 4, 4, 7])])
            #expect(losses.values.allSatisfy { $0.isFinite }, "\(name): \(losses)")
            totals.append(losses["total"]!)
        }
        // Reaches a clearly lower loss. Not "the last step is the lowest": with one or two images
        // per class, Adam's per-element step can overshoot a per-class filter for a step or two
        // (ace-cifar-conv falls 8527 → 5342 in 9 steps, then bounces), as it would in PyTorch.
        #expect(totals.min()! < 0.9 * totals.first!, "\(name): \(totals)")
    }
}
