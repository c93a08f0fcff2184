import ArgumentParser
import Compiler
import Foundation
import Graph

/// `gauge dot MODEL`: the graph of one compilation stage as Graphviz DOT.
struct DOTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dot",
        abstract: "Write a model's graph as Graphviz DOT.",
        discussion: """
            Render with Graphviz: gauge dot ace-cifar -o ace.dot && dot -Tsvg ace.dot -o ace.svg

            Nodes show the DSL call, the primitive, the output shape and the source line; \
            parameters are yellow 3-D boxes, inputs blue, named scopes are clusters, edges carry shapes.
            """)

    /// The compilation stages a graph can be shown at.
    enum Stage: String, ExpressibleByArgument, CaseIterable {
        case forward, gradient
    }

    @Argument(help: "A built-in model (see `gauge models`).")
    var model: String

    @Option(help: "Which graph to show: forward (the model as written) or gradient (forward plus the gradient graph autodiff built). The optimized and planned stages come with the compiler passes.")
    var stage: Stage = .forward

    @Option(name: [.short, .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(help: "Leave source locations out of node labels.")
    var noLocations = false

    func run() throws {
        let built = try buildModel(model)
        var graph = try ShapeInference.run(built.graph)
        if stage == .gradient { graph = try Autodiff.differentiate(graph).graph }
        let text = graph.dot(showLocations: !noLocations)
        guard let output else {
            print(text, terminator: "")
            return
        }
        let url = URL(fileURLWithPath: output)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            try FileManager.default.moveItem(at: temporary, to: url)
        } catch {
            throw CLIError("cannot write \(output): \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("wrote \(output) (\(graph.nodes.count) nodes)\n".utf8))
    }
}
