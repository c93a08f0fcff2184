import Compiler
import GaugeTesting
import Graph
import Runtime
import Testing

@Suite struct EpilogueTests {
    /// Convolutions down every path that runs an epilogue, each followed by its bias and
    /// activation: summed directly (3 input channels), by Winograd (16 → 16 at 8×8), by im2col (a
    /// 5×5 kernel) and per class (im2col with labels; its bias, gathered per image as
    /// `[N, 8, 1, 1]`, is read by the fused kernel one value per plane). In the backward pass the
    /// ReLUs' gradient masks run inside a max-pool gradient, a Winograd adjoint and a per-class
    /// adjoint. Batch 5: the Winograd groups of 4 images end with a group of 1, and the workers'
    /// runs split unevenly.
    @Test func epiloguesGiveTheBitsOfSeparateKernels() throws {
        let model = try Model("conv-epilogues") {
            let x = Input("image", [.batch, 3, 8, 8])
            let y = Input("label", [.batch], dtype: .int32)
            let h = x.conv2d(16, kernel: 3, activation: .relu)
                .conv2d(16, kernel: 3, activation: .relu)
                .maxPool(2)
                .conv2d(8, kernel: 5, activation: .relu)
                .conv2dByClass(8, kernel: 3, classes: 3, labels: y, activation: .tanh)
            Loss(softmaxCrossEntropy(logits: h.flattened().dense(3), labels: y))
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        func planner(epilogues: Bool) -> (Graph, Int) throws -> Plan {
            { try MemoryPlanner.plan($0, batch: $1, options: .init(fuseEpilogues: epilogues)).0 }
        }
        let plan = try planner(epilogues: true)(step, 5)
        #expect(PlanChecker.check(plan) == [])
        let producers = plan.instructions.compactMap { i -> String? in
            guard case .epilogue(let op, _, _, _) = i.kernel else { return nil }
            return op.name
        }
        #expect(producers.sorted() == ["conv2d", "conv2d", "conv2d", "conv2d", "maxPoolGrad", "transposedConv2d", "transposedConv2d"])
        // No bias add runs on its own, the per-image one included.
        #expect(!plan.instructions.contains { $0.kernel == .primitive(.binary(.add)) })
        // A producer's output has no buffer of its own: the kernel's output holds it.
        let epilogues = plan.instructions.filter {
            if case .epilogue = $0.kernel { return true }
            return false
        }
        #expect(epilogues.allSatisfy { plan.bufferOf[$0.members[0].index] == -1 })
        #expect(try !planner(epilogues: false)(step, 5).instructions.contains {
            if case .epilogue = $0.kernel { return true }
            return false
        })

        func run(threads: Int, epilogues: Bool) throws -> [String: [UInt32]] {
            try withThreads(threads) {
                return try runOnce(step, batch: 5, seed: 13, planner: planner(epilogues: epilogues))
                    .mapValues { $0.map(\.bitPattern) }
            }
        }
        let separate = try run(threads: 2, epilogues: false)
        for threads in [1, 2, 3] { #expect(try run(threads: threads, epilogues: true) == separate, "\(threads) threads") }
        let reference = try runOnce(step, batch: 5, seed: 13)
        #expect(worstDifference(reference, try runOnce(step, batch: 5, seed: 13, planner: planner(epilogues: true))) <= 1e-5)
    }

    /// Dense layers at batch 70, so their products take every path of the GEMM split: column
    /// blocks (600 and 300 units, forward and input gradient), row blocks (128 units: narrow)
    /// and one call (the 3-unit logits). Each forward product runs its bias and activation as
    /// its epilogue, and each input gradient the activation derivative of the layer below; the
    /// results are the bits of separate kernels at 1, 2 and 3 threads. (Opt-in:
    /// `MemoryPlanner.Options.productEpilogues`.)
    @Test func denseEpiloguesGiveTheBitsOfSeparateKernels() throws {
        let model = try Model("dense-epilogues") {
            let x = Input("x", [.batch, 300])
            let y = Input("label", [.batch], dtype: .int32)
            let h = x.dense(600, activation: .relu).dense(300, activation: .tanh).dense(128, activation: .relu)
            Loss(softmaxCrossEntropy(logits: h.dense(3), labels: y))
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        func planner(epilogues: Bool) -> (Graph, Int) throws -> Plan {
            { try MemoryPlanner.plan($0, batch: $1, options: .init(fuseEpilogues: epilogues, productEpilogues: epilogues)).0 }
        }
        // Off by default (measured no faster): the default plan runs them as kernels of their own.
        #expect(try !MemoryPlanner.plan(step, batch: 70).0.instructions.contains {
            if case .epilogue = $0.kernel { return true }
            return false
        })
        let plan = try planner(epilogues: true)(step, 70)
        #expect(PlanChecker.check(plan) == [])
        let products = plan.instructions.compactMap { i -> Op? in
            guard case .epilogue(let op, _, _, _) = i.kernel else { return nil }
            return op
        }
        // Four forward products (bias and activation) and two input gradients (the first layer's
        // input has none, and the logits' input gradient may join the weights' update).
        #expect(products.filter { $0 == .matmul(transposeA: false, transposeB: false) }.count == 4, "\(products)")
        #expect(products.filter { $0 == .matmul(transposeA: false, transposeB: true) }.count >= 2, "\(products)")
        #expect(!plan.instructions.contains { $0.kernel == .primitive(.binary(.add)) })

        func run(threads: Int, epilogues: Bool) throws -> [String: [UInt32]] {
            try withThreads(threads) {
                return try runOnce(step, batch: 70, seed: 5, planner: planner(epilogues: epilogues))
                    .mapValues { $0.map(\.bitPattern) }
            }
        }
        let separate = try run(threads: 2, epilogues: false)
        for threads in [1, 2, 3] { #expect(try run(threads: threads, epilogues: true) == separate, "\(threads) threads") }
        let reference = try runOnce(step, batch: 70, seed: 5)
        #expect(worstDifference(reference, try runOnce(step, batch: 70, seed: 5, planner: planner(epilogues: true))) <= 1e-5)
    }
}
