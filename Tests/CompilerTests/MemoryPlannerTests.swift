import Compiler
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

@Suite struct MemoryPlannerTests {
    func planned(_ graph: Graph, _ batch: Int) throws -> Plan { try MemoryPlanner.plan(graph, batch: batch).0 }

    @Test(arguments: ["ace-cifar", "tiny-vae", "conv-classifier"])
    func planCheckerPassesOnEveryBuiltInModel(_ name: String) throws {
        let step = Simplify.run(try stepGraph(ModelCatalog.named(name)!.build())).graph
        for batch in [1, 250] {
            let (plan, report) = try MemoryPlanner.plan(step, batch: batch)
            #expect(PlanChecker.check(plan) == [], "\(name) at batch \(batch)")
            #expect(report.arenaBytes < report.naiveBytes)
        }
    }

    @Test func oneThousandRandomGraphsGiveTheSameResultsAndCheckClean() throws {
        var withEpilogues = 0
        for seed in UInt64(0)..<1000 {
            let graph = Simplify.run(try gradientGraph(randomModel(seed: seed))).graph
            let plan = try planned(graph, 3)
            #expect(PlanChecker.check(plan) == [], "random graph \(seed)")
            if plan.instructions.contains(where: {
                if case .epilogue = $0.kernel { return true }
                return false
            }) { withEpilogues += 1 }
            let difference = worstDifference(
                try runOnce(graph, batch: 3, seed: seed), try runOnce(graph, batch: 3, seed: seed, planner: planned))
            #expect(difference <= 1e-5, "random graph \(seed): worst relative difference \(difference)")
        }
        // The generator's convolutions reach the epilogue fusion in a good share of the graphs.
        #expect(withEpilogues >= 100, "\(withEpilogues) of 1000 random graphs have an epilogue")
    }

    @Test func eachPassAloneGivesTheSameResults() throws {
        let step = Simplify.run(try stepGraph(ModelCatalog.named("conv-classifier")!.build())).graph
        let reference = try runOnce(step, batch: 2, seed: 9)
        for options in [
            MemoryPlanner.Options(fuse: true, schedule: false, inPlace: false),
            MemoryPlanner.Options(fuse: false, schedule: true, inPlace: false),
            MemoryPlanner.Options(fuse: false, schedule: false, inPlace: true),
        ] {
            let result = try runOnce(step, batch: 2, seed: 9) { try MemoryPlanner.plan($0, batch: $1, options: options).0 }
            #expect(worstDifference(reference, result) <= 1e-5, "\(options)")
        }
    }

    @Test func theCheckerCatchesOverlappingLiveBuffers() throws {
        let graph = Simplify.run(try stepGraph(ModelCatalog.named("tiny-vae")!.build())).graph
        var plan = try planned(graph, 4)
        #expect(PlanChecker.check(plan) == [])
        // Put every arena buffer at offset 0: live values now share bytes.
        for b in plan.buffers.indices {
            if case .arena = plan.buffers[b].placement { plan.buffers[b].placement = .arena(offset: 0) }
        }
        let problems = PlanChecker.check(plan)
        #expect(!problems.isEmpty)
        #expect(problems.contains { $0.contains("overlap while both are live") })
        #expect(problems.contains { $0.contains("is overwritten at instruction") })
    }

    @Test func adamUpdatesAreFusedAndWrittenInPlace() throws {
        let graph = Simplify.run(try stepGraph(ModelCatalog.named("tiny-vae")!.build())).graph
        let (plan, report) = try MemoryPlanner.plan(graph, batch: 8)
        #expect(plan.inPlaceUpdates.count == graph.updates.count)
        // One fused kernel computes m, v and the parameter of each parameter tensor (for a
        // weight matrix, together with its gradient).
        let adamKernels = plan.instructions.filter { i in
            switch i.kernel {
            case .fused(let p), .gradientUpdate(_, let p, _, _):
                return p.outputs.count == 3 && i.members.contains { graph[$0].scope.first == "adam" }
            case .primitive, .epilogue: return false
            }
        }
        #expect(adamKernels.count == graph.parameters.count)
        #expect((report.fusion?.decisions.count ?? 0) > 0)
    }
}

@Suite struct GradientUpdateTests {
    @Test func perClassWeightGradientsAreConsumedByTheirUpdateOneClassAtATime() throws {
        let model = try Model("per-class") {
            let x = Input("x", [.batch, 6])
            let y = Input("label", [.batch], dtype: .int32)
            let h = x.denseByClass(5, classes: 4, labels: y, activation: .tanh)
            Loss(h.denseByClass(3, classes: 4, labels: y).square().sum())
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        let (plan, report) = try MemoryPlanner.plan(step, batch: 7)
        let fused = plan.instructions.filter {
            if case .gradientUpdate = $0.kernel { return true }
            return false
        }
        #expect(fused.count == 2)
        #expect(PlanChecker.check(plan) == [])
        // No [4, 6, 5] or [4, 5, 3] gradient is ever placed in the arena.
        #expect(!report.peakBuffers.contains { step[$0.node].op.name == "groupedMatmulWeightGrad" })
        let reference = try runOnce(step, batch: 7, seed: 3)
        let optimized = try runOnce(step, batch: 7, seed: 3) { try MemoryPlanner.plan($0, batch: $1).0 }
        #expect(worstDifference(reference, optimized) <= 1e-5)
    }

    /// The fused kernel makes the gradient with Gauge's C kernel (AVX2/FMA) in blocks of rows
    /// that the workers share: the same bits for 1, 2 or 3 threads, and the values of OpenBLAS
    /// and of the unfused plan. 40 input columns are four blocks of 12 rows (the last of 4); 37
    /// outputs are two whole 16-column strips and an edge; class 3 of 4 has no rows (labels
    /// i mod 3), so its gradient is zero and its Adam moments only decay.
    @Test func theGradientKernelMatchesOpenBLASWhateverTheThreadCount() throws {
        let model = try Model("per-class-wide") {
            let x = Input("x", [.batch, 40])
            let y = Input("label", [.batch], dtype: .int32)
            Loss(x.denseByClass(37, classes: 4, labels: y, activation: .tanh).square().sum())
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        func run(threads: Int, kernel: Bool) throws -> [String: [Float]] {
            try withThreads(threads) {
                try runOnce(step, batch: 29, seed: 5, classGradientKernel: kernel) { try MemoryPlanner.plan($0, batch: $1).0 }
            }
        }
        let one = try run(threads: 1, kernel: true)
        for threads in [2, 3] {
            let other = try run(threads: threads, kernel: true)
            let same = other.mapValues { $0.map(\.bitPattern) } == one.mapValues { $0.map(\.bitPattern) }
            #expect(same, "\(threads) threads")
        }
        let blas = try run(threads: 2, kernel: false)
        #expect(worstDifference(one, blas) <= 1e-6)
        let unfused = try runOnce(step, batch: 29, seed: 5)
        #expect(worstDifference(one, unfused) <= 1e-5)
        // The moments saw a gradient: m of class 0 is not all zero, m of class 3 is.
        let m = try #require(one["updated adam/denseByClass/weight/m"])
        #expect(m.prefix(40 * 37).contains { $0 != 0 })
        #expect(m.suffix(40 * 37).allSatisfy { $0 == 0 })
    }

    /// A per-class layer's input gradient, g · w[label]ᵀ, made inside its weights' gradient-and-
    /// update kernel a block of weight rows at a time, before the block is updated: every updated
    /// parameter and moment has the same bits as with the product as a kernel of its own, on 1,
    /// 2 or 3 threads. The middle layer is square, so its input gradient has its output
    /// gradient's shape; that gradient dies in the kernel, yet must not share its memory.
    @Test func inputGradientsMadeInsideTheUpdateMatchTheSeparateProduct() throws {
        let model = try Model("per-class-chain") {
            let x = Input("x", [.batch, 40])
            let y = Input("label", [.batch], dtype: .int32)
            let h = x.denseByClass(24, classes: 4, labels: y, activation: .tanh)
                .denseByClass(24, classes: 4, labels: y, activation: .tanh)
            Loss(h.denseByClass(37, classes: 4, labels: y).square().sum())
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        func planner(fuse: Bool) -> (Graph, Int) throws -> Plan {
            { try MemoryPlanner.plan($0, batch: $1, options: .init(fuseInputGradients: fuse)).0 }
        }
        let plan = try planner(fuse: true)(step, 29)
        #expect(PlanChecker.check(plan) == [])
        let withProducts = plan.instructions.filter {
            if case .gradientUpdate(_, _, _, weights: .some) = $0.kernel { return true }
            return false
        }
        // The first layer's input is x, which needs no gradient.
        #expect(withProducts.count == 2)
        #expect(!plan.instructions.contains { $0.kernel == .primitive(.groupedMatmul(transposeWeights: true)) })
        func run(threads: Int, fuse: Bool) throws -> [String: [UInt32]] {
            try withThreads(threads) {
                try runOnce(step, batch: 29, seed: 7, planner: planner(fuse: fuse)).mapValues { $0.map(\.bitPattern) }
            }
        }
        let separate = try run(threads: 2, fuse: false)
        for threads in [1, 2, 3] { #expect(try run(threads: threads, fuse: true) == separate, "\(threads) threads") }
        let reference = try runOnce(step, batch: 29, seed: 7)
        #expect(worstDifference(reference, try runOnce(step, batch: 29, seed: 7, planner: planner(fuse: true))) <= 1e-5)
    }

    /// A dense layer's weight gradient, xᵀ·g, read only by its update, is made by the same
    /// kernel a block of rows at a time (one class of all the batch's rows): no [k, n] gradient
    /// is placed in the arena, the values match the unfused plan, and the bits do not depend on
    /// the thread count. 40 inputs are four blocks of 12 rows (the last of 4); 37 outputs are
    /// two 16-column strips and an edge.
    @Test func denseWeightGradientsAreMadeInsideTheirUpdate() throws {
        let model = try Model("dense-chain") {
            let x = Input("x", [.batch, 40])
            Loss(x.dense(37, activation: .tanh).dense(5).square().sum())
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        let plan = try MemoryPlanner.plan(step, batch: 29).0
        #expect(PlanChecker.check(plan) == [])
        let fused = plan.instructions.filter {
            if case .gradientUpdate(.matmul(transposeA: true, transposeB: false), _, _, nil) = $0.kernel { return true }
            return false
        }
        #expect(fused.count == 2)
        // The gradients (each kernel's first member) have no buffer at all.
        #expect(fused.allSatisfy { plan.bufferOf[$0.members[0].index] == -1 && step[$0.members[0]].op.name == "matmul" })
        func run(threads: Int) throws -> [String: [UInt32]] {
            try withThreads(threads) {
                try runOnce(step, batch: 29, seed: 11) { try MemoryPlanner.plan($0, batch: $1).0 }.mapValues { $0.map(\.bitPattern) }
            }
        }
        let one = try run(threads: 1)
        for threads in [2, 3] { #expect(try run(threads: threads) == one, "\(threads) threads") }
        let optimized = try runOnce(step, batch: 29, seed: 11) { try MemoryPlanner.plan($0, batch: $1).0 }
        #expect(worstDifference(try runOnce(step, batch: 29, seed: 11), optimized) <= 1e-5)
    }

    /// Classes of more rows than Gauge's gradient kernel sums with vectors (1,024; here about
    /// 1,034 each, labels i mod 3) and a dense layer of 3,100 rows: the compiler joins both
    /// gradients to their updates whatever the batch, and the runtime makes those blocks with
    /// OpenBLAS instead; the values match the unfused plan, with and without the C kernel.
    @Test func gradientsOfManyRowsAreMadeInsideTheUpdateToo() throws {
        let model = try Model("many-rows") {
            let x = Input("x", [.batch, 8])
            let y = Input("label", [.batch], dtype: .int32)
            Loss(x.denseByClass(5, classes: 4, labels: y, activation: .tanh).dense(3).square().mean())
        }
        let step = Simplify.run(try stepGraph(model, weightDecay: 1e-3)).graph
        let plan = try MemoryPlanner.plan(step, batch: 3100).0
        let joined = plan.instructions.compactMap { i -> Op? in
            guard case .gradientUpdate(let gemm, _, _, _) = i.kernel else { return nil }
            return gemm
        }
        #expect(joined.count == 2 && joined.contains(.matmul(transposeA: true, transposeB: false)))
        let reference = try runOnce(step, batch: 3100, seed: 13)
        for kernel in [true, false] {
            let fused = try runOnce(step, batch: 3100, seed: 13, classGradientKernel: kernel) { try MemoryPlanner.plan($0, batch: $1).0 }
            #expect(worstDifference(reference, fused) <= 1e-5, "C kernel \(kernel)")
        }
    }
}
