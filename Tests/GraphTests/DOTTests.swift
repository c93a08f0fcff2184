import Foundation
import Graph
import Testing

@Suite struct DOTTests {
    let goldenURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden/snapshot.dot")

    @Test func matchesTheGoldenSnapshot() throws {
        let dot = try snapshotModel().graph.dot()
        if ProcessInfo.processInfo.environment["GAUGE_UPDATE_GOLDEN"] == "1" {
            try Data(dot.utf8).write(to: goldenURL)
        }
        let golden = try String(contentsOf: goldenURL, encoding: .utf8)
        #expect(dot == golden)
    }

    @Test func isDeterministic() throws {
        #expect(try snapshotModel().graph.dot() == snapshotModel().graph.dot())
    }

    @Test func drawsKindsScopesAndShapes() throws {
        let dot = try snapshotModel().graph.dot()
        #expect(dot.contains("subgraph \"cluster_encoder\" {"))
        #expect(dot.contains("subgraph \"cluster_head\" {"))
        // Parameters are 3-D boxes, inputs house shapes, edges carry the shape they move.
        #expect(dot.contains("label=\"param \\\"encoder/dense/weight\\\"\\n[16, 3]\\nN(0,1.0)/(√fan_in+√fan_out)\\nSnapshotModel.swift:9\", tooltip=\"encoder/dense/weight — GraphTests/SnapshotModel.swift:9:"))
        #expect(dot.contains("shape=box3d"))
        #expect(dot.contains("shape=invhouse"))
        #expect(dot.contains("n2 -> n4 [label=\"[batch, 16]\"]"))
        #expect(dot.contains("loss_class [label=\"loss \\\"class\\\"\", shape=doubleoctagon"))
    }

    /// One part of a graph: its nodes in their scope cluster, the values they read from outside
    /// as dashed boundary boxes, and no edge with an end that is not drawn.
    @Test func drawsOnlyAPartWithItsBoundary() throws {
        let graph = try snapshotModel().graph
        let encoder = Set(graph.nodes.filter { $0.scope.first == "encoder" }.map(\.id))
        #expect(!encoder.isEmpty)
        let dot = DOTWriter(only: encoder, title: "snapshot: encoder").write(graph)
        #expect(dot.contains("label=\"snapshot: encoder\"];"))
        #expect(dot.contains("subgraph \"cluster_encoder\" {"))
        #expect(!dot.contains("cluster_head"))
        #expect(!dot.contains("loss_class"))
        // The image input is outside the encoder scope: a boundary box with its name and shape.
        let image = try #require(graph.nodes.first { $0.name == "image" })
        #expect(dot.contains("  n\(image.id.index) [label=\"image\\n[batch, 1, 4, 4]\", tooltip=\"outside the part drawn: image"))
        #expect(dot.contains("style=\"rounded,dashed\", color=gray60"))
        let declared = Set(dot.split(separator: "\n").compactMap { line -> Substring? in
            let text = line.drop { $0 == " " }
            guard let space = text.firstIndex(of: " "), text[space...].hasPrefix(" [") else { return nil }
            let id = text[..<space]
            return id.hasPrefix("n") && id.count > 1 && id.dropFirst().allSatisfy(\.isNumber) ? id : nil
        })
        // Every encoder node and the boundary are declared; head nodes are not.
        #expect(declared.count == encoder.count + Set(encoder.flatMap { graph[$0].inputs }).subtracting(encoder).count)
        var edges = 0
        for line in dot.split(separator: "\n") where line.contains(" -> ") {
            let ends = line.split(separator: " ").filter { $0.hasPrefix("n") && $0.dropFirst().allSatisfy(\.isNumber) }
            #expect(ends.count == 2 && ends.allSatisfy(declared.contains), "edge to a node not drawn: \(line)")
            edges += 1
        }
        #expect(edges == encoder.reduce(0) { $0 + graph[$1].inputs.count })
    }

    /// In-place pairs: the edge a value reads the other by is drawn thick and green; a pair
    /// without such an edge gets a dotted one that does not move the layout.
    @Test func marksInPlaceValues() throws {
        let graph = try snapshotModel().graph
        let tanh = try #require(graph.nodes.first { $0.op.name == "tanh" })
        let read = try #require(tanh.inputs.first)
        let image = try #require(graph.nodes.first { $0.name == "image" })
        var writer = DOTWriter()
        writer.inPlace = [tanh.id: read]
        let direct = writer.write(graph)
        #expect(direct.contains("  n\(read.index) -> n\(tanh.id.index) [label=\"\(graph[read].type.description) in place\", color=\"#38761d\""))
        #expect(!direct.contains("style=dotted"))
        writer.inPlace = [tanh.id: image.id]
        let indirect = writer.write(graph)
        #expect(indirect.contains("  n\(image.id.index) -> n\(tanh.id.index) [label=\"in place\", style=dotted, constraint=false"))
        #expect(indirect.contains("  n\(read.index) -> n\(tanh.id.index) [label=\"\(graph[read].type.description)\"];"))
        #expect(writer.write(graph).components(separatedBy: " -> ").count == direct.components(separatedBy: " -> ").count + 1)
    }

    /// Each scope one box with its ops and parameters (encoder: flatten, matmul, add, tanh and a
    /// [16, 3] weight with 3 biases; head: matmul, add, [3, 2] + 2), edges between boxes and the
    /// unscoped loss nodes, which stay as they are.
    @Test func collapsesScopesIntoBoxes() throws {
        let graph = try snapshotModel().graph
        var writer = DOTWriter()
        writer.collapseDepth = 1
        let dot = writer.write(graph)
        #expect(dot.contains("\"scope encoder\" [label=\"encoder\\n4 ops: 1 add, 1 matmul, 1 reshape, …\\n51 parameters\", tooltip=\"1 add, 1 matmul, 1 reshape, 1 tanh\""))
        #expect(dot.contains("\"scope head\" [label=\"head\\n2 ops: 1 add, 1 matmul\\n8 parameters\""))
        let image = try #require(graph.nodes.first { $0.name == "image" })
        #expect(dot.contains("  n\(image.id.index) -> \"scope encoder\" [label=\"[batch, 1, 4, 4]\"];"))
        #expect(dot.contains("  \"scope encoder\" -> \"scope head\" [label=\"[batch, 3]\"];"))
        #expect(dot.contains("  \"scope head\" -> output_logits;"))
        // No node of a scope is drawn alone, and no edge stays inside a box.
        for node in graph.nodes where !node.scope.isEmpty { #expect(!dot.contains("  n\(node.id.index) [")) }
        #expect(!dot.contains("\"scope encoder\" -> \"scope encoder\""))
        let unscoped = graph.nodes.filter { $0.scope.isEmpty }
        #expect(dot.components(separatedBy: " -> ").count - 1
            == unscoped.reduce(0) { $0 + $1.inputs.count } + 2 + graph.outputs.count + graph.losses.count)
        // With a part, the values it reads from outside are boxes of their own, dashed.
        writer.only = Set(graph.nodes.filter { $0.scope.first == "head" }.map(\.id))
        let part = writer.write(graph)
        #expect(part.contains("  \"outside encoder\" [label=\"encoder\\n1 op: 1 tanh\", tooltip=\"1 tanh\", shape=box, style=\"rounded,dashed\""))
        #expect(part.contains("  \"outside encoder\" -> \"scope head\" [label=\"[batch, 3]\"];"))
        #expect(!part.contains("\"scope encoder\""))
    }

    @Test func leavesLocationsOutWhenAsked() throws {
        let dot = try snapshotModel().graph.dot(showLocations: false)
        #expect(!dot.contains("SnapshotModel.swift:9\""))
        #expect(dot.contains("tooltip="))
    }
}
