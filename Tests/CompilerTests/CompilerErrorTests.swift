import Compiler
import Graph
import Testing

/// Compiler errors about a user's graph name the node and its line in the user's source.
@Suite struct CompilerErrorTests {
    @Test func aMissingGradientRuleNamesTheNodeAndItsLine() throws {
        let line = #line + 5
        let model = try Model("rows") {
            let x = Input("x", [.batch, 3])
            let table = x.matmul(Parameter("w", [3, 3], initializer: .uniform(low: -1, high: 1)))  // [batch, 3]
            let indices = Input("indices", [2], dtype: .int32)
            Loss(table.gatherRows(indices).sum())
        }
        do {
            _ = try Autodiff.differentiate(model.graph)
            Issue.record("a gradient through a batch-sized gather was made")
        } catch {
            #expect(error.message == "gatherRows from a batch-sized table has no gradient rule")
            #expect(error.location?.line == line, "\(error)")
            #expect(error.node == "gatherRows")
            #expect(error.description.hasSuffix("CompilerErrorTests.swift:\(line):34: gatherRows: gatherRows from a batch-sized table has no gradient rule"), "\(error)")
        }
    }

    @Test func aGraphWithoutLossSaysSoWithoutAPlace() {
        #expect(CompilerError("m has no Loss to differentiate").description == "m has no Loss to differentiate")
    }
}
