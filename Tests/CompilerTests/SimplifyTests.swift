import Compiler
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

@Suite struct SimplifyTests {
    @Test func removesIdentitiesFoldsConstantsMergesAndDropsDeadCode() throws {
        let model = try Model("s") {
            let x = Input("x", [.batch, 3])
            let _ = x.exp()  // dead
            let a = (x * 1 + 0).tanh()  // two identities
            let b = x.tanh()  // same as a after the identities: merged
            let c = constant(2) * constant(3)  // folded
            Output("y", (a + b) * c)
            Output("z", -(-x).reshaped([.batch, 3]))
        }
        let (g, report) = Simplify.run(model.graph)
        #expect(report.identities == 4)  // x·1, +0, −(−x), a reshape to the same shape
        #expect(report.folded == 1)
        #expect(report.merged >= 1)
        #expect(report.removed >= 1)
        #expect(!g.nodes.contains { $0.op == Op.unary(.exp) })
        #expect(g.nodes.filter { $0.op == Op.unary(.tanh) }.count == 1)
        #expect(g.nodes.contains { $0.op == Op.constant(6) })
        #expect(try ShapeInference.run(g) == g)
    }

    @Test func keepsEveryLeafSoTheStateLayoutIsUnchanged() throws {
        let model = try Model("leaves") {
            let _ = Parameter("unused", [3], initializer: .zeros)
            Loss(Input("x", [.batch, 2]).dense(2).sum())
        }
        let step = try stepGraph(model)
        let (g, _) = Simplify.run(step)
        #expect(g.parameters.map(\.name) == step.parameters.map(\.name))
        #expect(g.variables.map(\.name) == step.variables.map(\.name))
    }

    @Test func oneThousandRandomGraphsGiveTheSameResults() throws {
        var checked = 0
        for seed in UInt64(0)..<1000 {
            let step = try gradientGraph(randomModel(seed: seed))
            let (simplified, _) = Simplify.run(step)
            _ = try ShapeInference.run(simplified)
            let difference = worstDifference(try runOnce(step, batch: 3, seed: seed), try runOnce(simplified, batch: 3, seed: seed))
            #expect(difference <= 1e-5, "random graph \(seed): worst relative difference \(difference)")
            checked += 1
        }
        #expect(checked == 1000)
    }

    /// A summed loss's gradient is its seed broadcast to every element (negated for the
    /// subtrahend); the negation moves onto the scalar, the binary ops that read it take the
    /// scalar itself, the broadcasts go, and the step computes the same.
    @Test func binaryOpsReadABroadcastScalarDirectly() throws {
        let model = try Model("bce") {
            let x = Input("x", [.batch, 6])
            Loss(bernoulliCrossEntropy(logits: x.dense(6), target: x))
        }
        let step = try gradientGraph(model)
        func scalarBroadcasts(_ g: Graph) -> Int {
            g.nodes.filter {
                guard case .broadcast = $0.op else { return false }
                return g[$0.inputs[0]].shape.fixedElementCount == 1
            }.count
        }
        #expect(scalarBroadcasts(step) >= 1)
        let (simplified, _) = Simplify.run(step)
        #expect(scalarBroadcasts(simplified) == 0)
        #expect(try ShapeInference.run(simplified) == simplified)
        #expect(worstDifference(try runOnce(step, batch: 4, seed: 2), try runOnce(simplified, batch: 4, seed: 2)) <= 1e-6)
    }
}
