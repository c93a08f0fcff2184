import ArgumentParser
import Compiler
import Graph

/// `gauge summary MODEL`: node counts, parameters and forward FLOPs.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Show a model's inputs, outputs, parameters, FLOPs, node counts and compile report.",
        discussion: """
            FLOPs count a multiply-add as 2 and every other element-wise op as 1. The compile report \
            covers the whole training step (forward, backward, Adam) for the batch size: time and node \
            count per pass, fusion groups with their reasons, the arena against the naive sum of all \
            intermediates, and the buffers live at the peak with the op and source line that made them.
            """)

    @Argument(help: "A built-in model (see `gauge models`).")
    var model: String

    @Option(help: "Batch size the FLOPs are computed for (a positive integer).")
    var batch: Int = 250

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be a positive integer, got \(batch)") }
    }

    func run() throws {
        let built = try buildModel(model)
        let checked = try ShapeInference.run(built.graph)
        print(GraphSummary(checked, batch: batch).text)
        guard !checked.losses.isEmpty else { return }
        let compiled = try Compile.trainingStep(checked, batch: batch, optimizer: .adam(learningRate: 1e-3))
        print("")
        print(compiled.report.text(for: compiled.graph, plan: compiled.plan))
    }
}
