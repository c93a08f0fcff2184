import ArgumentParser
import Foundation
import Compiler
import Graph
import Models

/// The `gauge` command line as a library: `summary`, `dot` (every stage, `--scope`,
/// `--collapse`), `bench` (`--profile`, `--allocations`) and `export`, on the built-in models and
/// any a user's executable adds.
///
/// ```swift
/// // In your own executable: `my-tool summary cvae`, `my-tool dot cvae --stage planned`, …
/// GaugeTools.main(models: [ModelEntry(name: "cvae", summary: "conditional VAE on MNIST") { try conditionalVAE() }])
/// ```
public enum GaugeTools {
    /// The models the commands can name: the user's first, then the built-ins.
    nonisolated(unsafe) static var catalog: [ModelEntry] = ModelCatalog.all

    /// Runs the command line on `arguments` (default: the process's) with `models` added to
    /// the built-in ones (or instead of them); exits when done.
    public static func main(
        _ arguments: [String]? = nil, models: [ModelEntry] = [], includingBuiltIns: Bool = true
    ) -> Never {
        catalog = models + (includingBuiltIns ? ModelCatalog.all : [])
        GaugeCommand.main(arguments)
        exit(0)
    }

    /// The entry of a model name in the current catalogue.
    static func entry(_ name: String) -> ModelEntry? { catalog.first { $0.name == name } }
}

/// `gauge`: look at models, their graphs and their speed.
public struct GaugeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gauge",
        abstract: "Gauge: generative nets as static computation graphs, compiled for the CPU.",
        discussion: """
            MODEL is the name of a model; `gauge models` lists them (the built-in ones, and a user's \
            own when their executable runs this command line through GaugeTools.main(models:)).
            Examples:
              gauge summary ace-cifar --batch 250
              gauge dot ace-cifar -o ace.dot && dot -Tsvg ace.dot -o ace.svg
            """,
        subcommands: [
            ModelsCommand.self, SummaryCommand.self, DOTCommand.self, BenchCommand.self, ExportCommand.self, SampleCommand.self, JudgeCommand.self,
        ])

    public init() {}
}

/// Builds a model of the catalogue by name, turning an unknown name or a shape error into a message.
func buildModel(_ name: String) throws -> Model {
    guard let entry = GaugeTools.entry(name) else {
        let names = GaugeTools.catalog.map(\.name).joined(separator: ", ")
        throw ValidationError("unknown model '\(name)'; the models are: \(names) (see `gauge models`)")
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
