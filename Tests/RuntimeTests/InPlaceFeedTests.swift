import Compiler
import Graph
import Models
import Runtime
import Testing

@Suite struct InPlaceFeedTests {
    /// A batch of the conditional VAE's inputs, different for each step.
    func batch(_ step: Int) -> (images: [Float], labels: [Int32]) {
        let images = (0..<(6 * 784)).map { Float(($0 * 7 + step * 13) % 101) / 100 }
        let labels = (0..<6).map { Int32(($0 + step) % 10) }
        return (images, labels)
    }

    /// Steps fed in place (inputs written into the step's memory, losses into an array) give the
    /// bits of steps fed by dictionary: the same losses, in `lossNames` order, and the same state.
    @Test func feedingInPlaceGivesTheBitsOfFeedingByName() throws {
        let step = try TrainingStep(SmallModels.conditionalVAE(), batch: 6, optimizer: .adam(learningRate: 1e-3))
        #expect(step.lossNames == ["reconstruction", "kl", "total"])
        let (byName, inPlace) = (step.initialState(seed: 4), step.initialState(seed: 4))
        var losses: [Float] = []
        for k in 0..<3 {
            let (images, labels) = batch(k)
            let expected = try step.run(byName, feeding: ["image": .float32(images), "label": .int32(labels)])
            _ = try step.floatInput("image").update(fromContentsOf: images)
            _ = try step.intInput("label").update(fromContentsOf: labels)
            try step.run(inPlace, losses: &losses)
            #expect(losses.map(\.bitPattern) == step.lossNames.map { expected[$0]!.bitPattern }, "step \(k)")
        }
        #expect(inPlace.step == 3)
        for t in byName.tensors {
            #expect(byName.values(t.name)?.map(\.bitPattern) == inPlace.values(t.name)?.map(\.bitPattern), "\(t.name)")
        }
    }

    /// The input memory is found by name and type, with the model's inputs listed otherwise.
    @Test func inputMemoryIsCheckedByNameAndType() throws {
        let step = try TrainingStep(SmallModels.conditionalVAE(), batch: 6, optimizer: .adam(learningRate: 1e-3))
        #expect(try step.floatInput("image").count == 6 * 784)
        #expect(try step.intInput("label").count == 6)
        #expect {
            _ = try step.floatInput("labels")
        } throws: { "\($0)" == "error: no input named \"labels\"; inputs are image, label" }
        #expect {
            _ = try step.floatInput("label")
        } throws: { "\($0)".hasSuffix("error: label holds int32 values, not float32") }
        #expect {
            try step.requireInputs { $0 == "image" }
        } throws: { "\($0)" == "error: no values fed for input label" }
    }
}
