import ArgumentParser
import Compiler
import Graph

/// `gauge summary MODEL`: node counts, parameters and forward FLOPs.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Show a model's inputs, outputs, parameters, FLOPs and node counts by op.",
        discussion: "FLOPs count a multiply-add as 2 and every other element-wise op as 1.")

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
    }
}
