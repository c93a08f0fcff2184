import ArgumentParser
import Compiler
import Graph
import Models

/// `gauge`: look at the built-in models and their graphs.
public struct GaugeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gauge",
        abstract: "Gauge: generative nets as static computation graphs, compiled for the CPU.",
        discussion: """
            MODEL is the name of a built-in model; `gauge models` lists them.
            Examples:
              gauge summary ace-cifar --batch 250
              gauge dot ace-cifar -o ace.dot && dot -Tsvg ace.dot -o ace.svg
            """,
        subcommands: [ModelsCommand.self, SummaryCommand.self, DOTCommand.self, BenchCommand.self, ExportCommand.self])

    public init() {}
}

/// Builds a built-in model by name, turning an unknown name or a shape error into a message.
func buildModel(_ name: String) throws -> Model {
    guard let entry = ModelCatalog.named(name) else {
        let names = ModelCatalog.all.map(\.name).joined(separator: ", ")
        throw ValidationError("unknown model '\(name)'; built-in models are: \(names) (see `gauge models`)")
    }
    do {
        return try entry.build()
    } catch {
        throw CLIError("model '\(name)' does not build:\n\(error.diagnostics)")
    }
}

/// A failure with a message for the user; exits with status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
