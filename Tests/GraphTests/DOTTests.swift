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

    @Test func leavesLocationsOutWhenAsked() throws {
        let dot = try snapshotModel().graph.dot(showLocations: false)
        #expect(!dot.contains("SnapshotModel.swift:9\""))
        #expect(dot.contains("tooltip="))
    }
}
