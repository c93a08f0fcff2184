import Compiler
import Graph
import Testing

@Suite struct ShapeInferenceTests {
    func handBuilt() -> Graph {
        var g = Graph(name: "hand")
        let x = g.append(.input(name: "x"), inputs: [], type: TensorType([.batch, 3]), name: "x")
        let w = g.append(.parameter(name: "w", initializer: .zeros), inputs: [], type: TensorType([3, 4]), name: "w")
        let y = g.append(.matmul(transposeA: false, transposeB: false), inputs: [x, w], type: TensorType([.batch, 4]), name: "y")
        g.outputs = [.init(name: "y", node: y)]
        return g
    }

    @Test func acceptsAConsistentGraph() throws {
        #expect(try ShapeInference.run(handBuilt()) == handBuilt())
    }

    @Test func reportsARecordedTypeThatDisagreesWithTheRule() {
        var g = handBuilt()
        g.nodes[2].type = TensorType([.batch, 5])
        #expect(throws: ShapeInferenceError.self) { try ShapeInference.run(g) }
        do {
            _ = try ShapeInference.run(g)
        } catch {
            #expect(error.description == "<generated>:0:0: error: matmul: y records type [batch, 5] but its rule gives [batch, 4]")
        }
    }

    @Test func reportsAnOperandDefinedAfterItsUser() {
        var g = handBuilt()
        g.nodes[2].inputs = [NodeID(0), NodeID(2)]
        do {
            _ = try ShapeInference.run(g)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.map(\.problem.message) == ["operand %2 of y is not defined before it"])
        }
    }

    @Test func reportsEveryBadNodeWithItsRuleMessage() {
        var g = handBuilt()
        let w2 = g.append(.parameter(name: "w2", initializer: .zeros), inputs: [], type: TensorType([5, 2]), name: "w2")
        g.append(.matmul(transposeA: false, transposeB: false), inputs: [NodeID(2), w2], type: TensorType([.batch, 2]), name: "z")
        g.append(.unary(.exp), inputs: [NodeID(0)], type: TensorType([.batch, 3]), name: "e")
        g.nodes[2].type = TensorType([.batch, 7])
        do {
            _ = try ShapeInference.run(g)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.map(\.problem.description) == [
                "y records type [batch, 7] but its rule gives [batch, 4]",
                "inner dimensions differ: [batch, 4] · [5, 2] (4 ≠ 5)",
            ])
        }
    }
}
