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
            parameters are yellow 3-D boxes, inputs blue, named scopes are clusters, edges carry shapes. \
            The optimized and planned stages of a paper model have about 800 nodes: their files \
            ask for straight edges, which Graphviz lays out in 5-10 s (add -Gsplines=spline for \
            curves routed around the nodes, about 30 s). --scope draws one part, --collapse \
            draws scopes as boxes, e.g. gauge dot ace-cifar --stage optimized --scope decoder \
            --scope gradient/decoder, or gauge dot ace-cifar --stage optimized --collapse 2
            """)

    /// The compilation stages a graph can be shown at: after each pass of the pipeline that
    /// changes the graph, in order (the files `GAUGE_DUMP` writes, plus the plan).
    enum Stage: String, ExpressibleByArgument, CaseIterable {
        case forward, gradient, update, simplified, optimized, planned
    }

    @Argument(help: "A built-in model (see `gauge models`).")
    var model: String

    @Option(help: "Which graph to show, after which pass: forward (the model as written), gradient (after autodiff: plus the gradient graph), update (after the optimizer update: the whole training step as built), simplified (after simplification), optimized (after fusion: fusion groups as clusters, reasons as tooltips), planned (each value's buffer, arena offset, size and live range).")
    var stage: Stage = .forward

    @Option(name: [.short, .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(help: "Leave source locations out of node labels.")
    var noLocations = false

    @Option(help: "Batch size for the planned stage.")
    var batch: Int = 250

    @Option(
        name: .customLong("scope"),
        help: ArgumentHelp(
            "Draw only the nodes in this named scope, e.g. decoder, or gradient/decoder for its gradient (repeat for several), with the values they read from outside as dashed grey boxes.",
            valueName: "path"))
    var scopes: [String] = []

    @Option(
        help: ArgumentHelp(
            "Draw each named scope, cut to at most this many levels, as one box with its op count, most frequent ops and parameters (1: encoder, decoder, gradient, …; 2: also gradient/decoder, adam/decoder, …), edges between boxes merged.",
            valueName: "depth"))
    var collapse: Int?

    func validate() throws {
        if let collapse, collapse < 1 {
            throw ValidationError("--collapse must be a positive depth (1 for the top-level scopes), got \(collapse)")
        }
        if let empty = scopes.first(where: { $0.split(separator: "/").isEmpty }) {
            throw ValidationError("--scope needs a scope path such as decoder or gradient/decoder, got '\(empty)'")
        }
    }

    func run() throws {
        let built = try buildModel(model)
        var graph = try ShapeInference.run(built.graph)
        var writer = DOTWriter(showLocations: !noLocations)
        switch stage {
        case .forward: break
        case .gradient: graph = try Autodiff.differentiate(graph).graph
        case .update, .simplified, .optimized, .planned:
            let compiled = try Compile.trainingStep(graph, batch: batch, optimizer: .adam(learningRate: 1e-3))
            graph = stage == .update ? compiled.stepGraph : compiled.graph
            guard stage == .optimized || stage == .planned else { break }
            let plan = compiled.plan
            if let fusion = compiled.report.memory?.fusion {
                writer.clusters = fusion.clusters
                // The primitives a fused kernel runs besides its group (an update kernel's weight
                // gradient and maybe input gradient, an epilogue's producer) are labelled with that
                // kernel, not drawn inside its cluster: Graphviz cannot lay out clusters that reach
                // back into the gradient graph.
                for i in plan.instructions {
                    guard let k = fusion.groupOf[i.node.index] else { continue }
                    for m in i.members where fusion.groupOf[m.index] == nil {
                        switch i.kernel {
                        case .gradientUpdate:
                            writer.annotations[m] = "made inside fused kernel \(k), one block of weight rows at a time"
                        case .epilogue:
                            writer.annotations[m] = "runs fused kernel \(k) as its epilogue, one block of output at a time"
                        case .primitive, .fused: break
                        }
                    }
                }
            }
            if stage == .planned { Self.annotateBuffers(&writer, graph, plan, fusion: compiled.report.memory?.fusion) }
        }
        var parts: [String] = []
        if !scopes.isEmpty {
            writer.only = try part(of: graph)
            parts.append(scopes.joined(separator: ", "))
        }
        if let collapse {
            writer.collapseDepth = collapse
            parts.append("scopes collapsed to \(collapse) level\(collapse == 1 ? "" : "s")")
        }
        if !parts.isEmpty { writer.title = "\(graph.name), \(stage.rawValue) stage: " + parts.joined(separator: "; ") }
        let text = writer.write(graph)
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
        let count = writer.only.map { "\($0.count) of \(graph.nodes.count)" } ?? "\(graph.nodes.count)"
        FileHandle.standardError.write(Data("wrote \(output) (\(count) nodes)\n".utf8))
    }

    /// The planned stage's labels: each value's buffer (arena offset, size, live range, in place
    /// over what), or that it stays in registers inside a fused kernel.
    static func annotateBuffers(_ writer: inout DOTWriter, _ graph: Graph, _ plan: Plan, fusion: Fusion.Result?) {
        writer.inPlace = inPlace(graph, plan, fusion: fusion)
        var live: [Int: Plan.LiveRange] = [:]
        for r in plan.liveRanges { live[r.buffer] = r }
        for node in graph.nodes {
            let b = plan.bufferOf[node.id.index]
            guard b >= 0 else {
                writer.annotations[node.id] = writer.annotations[node.id] ?? "in registers (fused)"
                continue
            }
            let buffer = plan.buffers[b]
            let kernel = writer.annotations[node.id].map { $0 + "; " } ?? ""
            let over = writer.inPlace[node.id].map { ", in place over \(graph[$0].name)" } ?? ""
            switch buffer.placement {
            case .own: writer.annotations[node.id] = kernel + "buffer \(b): own \(byteText(buffer.bytes))\(over)"
            case .arena(let offset):
                let range = live[b].map { ", live \($0.first)–\($0.last)" } ?? ""
                writer.annotations[node.id] = kernel + "buffer \(b): arena @\(byteText(offset)), \(byteText(buffer.bytes))\(range)\(over)"
            }
        }
    }

    /// The plan's in-place decisions: each value that shares its buffer with a value it reads,
    /// directly or through its fused kernel's other members (an update written into its
    /// parameter, an element-wise output over an operand that dies in its kernel).
    static func inPlace(_ graph: Graph, _ plan: Plan, fusion: Fusion.Result?) -> [NodeID: NodeID] {
        var pairs: [NodeID: NodeID] = [:]
        for node in graph.nodes {
            let b = plan.bufferOf[node.id.index]
            guard b >= 0 else { continue }
            var read = node.inputs
            if let fusion, let k = fusion.groupOf[node.id.index] { read += fusion.groups[k].members.flatMap { graph[$0].inputs } }
            pairs[node.id] = read.first { $0 != node.id && plan.bufferOf[$0.index] == b }
        }
        return pairs
    }

    /// The nodes in the `--scope` paths: a node is in `a/b` when its scope path (its scopes
    /// joined by "/", as the optimizer names its `adam/decoder/…` scopes) begins with a, b. A path
    /// no node is in is an error that lists the stage's scopes two levels deep.
    func part(of graph: Graph) throws -> Set<NodeID> {
        let paths = graph.nodes.map(\.scopePath)
        var part = Set<NodeID>()
        for scope in scopes {
            let wanted = scope.split(separator: "/")
            let members = graph.nodes.indices.filter { paths[$0].starts(with: wanted) }
            guard !members.isEmpty else {
                let known = Set(paths.flatMap { path in (0..<min(path.count, 2)).map { path[...$0].joined(separator: "/") } })
                throw CLIError(
                    "no node of \(model) is in scope '\(scope)' at the \(stage.rawValue) stage; its scopes are "
                        + known.sorted().joined(separator: ", ") + " (and the scopes inside them)")
            }
            part.formUnion(members.map { graph.nodes[$0].id })
        }
        return part
    }
}
