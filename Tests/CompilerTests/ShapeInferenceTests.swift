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

    /// What the rules cannot see: operand ids out of range, leaves' declared types, losses that
    /// are not scalars, updates of a non-leaf or by a value of another type, outputs of missing
    /// nodes. The compiler runs this check first, so a hand-built graph fails here, whole.
    @Test func checksLeavesLossesUpdatesAndIDs() throws {
        var g = handBuilt()
        g.nodes[2].inputs = [NodeID(-1), NodeID(1)]
        g.nodes[0].type = TensorType([.batch, .batch])
        g.nodes[1].type = TensorType([.batch, 4])
        g.losses = [.init(name: "l", node: NodeID(0))]
        g.updates = [.init(target: NodeID(0), value: NodeID(1)), .init(target: NodeID(1), value: NodeID(0)), .init(target: NodeID(1), value: NodeID(9))]
        g.outputs.append(.init(name: "gone", node: NodeID(7)))
        let expected = [
            "x: shape [batch, batch] needs positive sizes and at most one batch dimension",
            "w: a parameter is float32 without the batch dimension; declared [batch, 4]",
            "operand %-1 of y is not defined before it",
            "output refers to missing node %7",
            "loss x has type [batch, batch]; a loss is a float32 scalar",
            "update target x (input) is not a parameter or variable",
            "update of w ([batch, 4]) by x of type [batch, batch]",
            "update of %1 by %9 refers to a missing node",
        ]
        do {
            _ = try ShapeInference.run(g)
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.map(\.problem.description) == expected)
        }
        do {
            _ = try Compile.trainingStep(g, batch: 2, optimizer: .sgd(learningRate: 0.1))
            Issue.record("expected an error")
        } catch let error as ShapeInferenceError {
            #expect(error.errors.map(\.problem.description) == expected)
        }
    }
}
