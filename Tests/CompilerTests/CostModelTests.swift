import Compiler
import Graph
import Testing

@Suite struct CostModelTests {
    @Test func countsMultiplyAddsAsTwoAndElementwiseAsOne() throws {
        let model = try Model("cost") {
            let x = Input("x", [.batch, 2, 8, 8])
            let h = x.conv2d(4, kernel: 3, bias: false)  // 2·(B·4·8·8)·(2·3·3)
            let p = h.maxPool(2)  // B·4·4·4 outputs × 4
            let f = p.flattened().matmul(Input("w", [64, 10]))  // 2·B·10·64
            Output("y", f.tanh())  // B·10
        }
        let batch = 5
        let conv = 2 * (batch * 4 * 8 * 8) * (2 * 3 * 3)
        let pool = (batch * 4 * 4 * 4) * 4
        let gemm = 2 * batch * 10 * 64
        let tanh = batch * 10
        #expect(CostModel.flops(of: model.graph, batch: batch) == conv + pool + gemm + tanh)
    }

    @Test func summaryCountsNodesParametersAndBytes() throws {
        let model = try Model("summary") {
            let x = Input("x", [.batch, 3])
            Output("y", Scope("s") { x.dense(4, activation: .relu) })
        }
        let summary = GraphSummary(model.graph, batch: 2)
        #expect(summary.parameterCount == 16)
        #expect(summary.parameterBytes == 64)
        #expect(summary.flopsPerExample == Double(2 * 3 * 4 + 4 + 4))
        #expect(summary.countsByOp.map { "\($0.op) \($0.count)" } == ["parameter 2", "add 1", "input 1", "matmul 1", "relu 1"])
        #expect(summary.scopes.map(\.scope) == ["(top level)", "s"])
        #expect(summary.text.contains("parameters: 16 in 2 tensors, 0.1 kB float32"))
    }
}
