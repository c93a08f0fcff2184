import Foundation
import Graph

/// Which passes run; all on by default. Turning one off is how tests check it changes nothing.
public struct CompileOptions: Sendable {
    public var simplify = true
    public var planner = MemoryPlanner.Options()
    /// Use the reference plan (no fusion, one buffer per value) instead of the memory planner.
    public var referencePlan = false

    public init(simplify: Bool = true, planner: MemoryPlanner.Options = MemoryPlanner.Options(), referencePlan: Bool = false) {
        self.simplify = simplify
        self.planner = planner
        self.referencePlan = referencePlan
    }
}

/// What compiling a training step did, for `gauge summary` and the README.
public struct CompileReport: Sendable {
    /// (pass, seconds, nodes after) in order.
    public var passes: [(name: String, seconds: Double, nodes: Int)] = []
    public var simplify: Simplify.Report?
    public var memory: MemoryPlanner.Report?
    public var totalSeconds: Double { passes.reduce(0) { $0 + $1.seconds } }
}

/// The compiler pipeline: differentiate → optimizer update → shape check → simplify → plan.
public enum Compile {
    public struct CompiledStep: Sendable {
        public var gradientGraph: Graph
        public var stepGraph: Graph
        public var graph: Graph
        public var plan: Plan
        public var report: CompileReport
        /// The optimizer's scalars (step size, decays) the host feeds before each run.
        public var fedScalars: [Optimizer.FedScalar]
    }

    public static func trainingStep(
        _ forward: Graph, batch: Int, optimizer: Optimizer, options: CompileOptions = CompileOptions()
    ) throws -> CompiledStep {
        var report = CompileReport()
        func timed<T>(_ name: String, _ body: () throws -> T, nodes: (T) -> Int) rethrows -> T {
            let start = Date()
            let result = try body()
            report.passes.append((name, Date().timeIntervalSince(start), nodes(result)))
            return result
        }
        report.passes.append(("model", 0, forward.nodes.count))
        var dump = StageDump(graph: forward.name)
        dump.write(forward, after: "model")
        // A graph made by hand (not by the DSL, which runs the same checks) fails here, whole.
        _ = try timed("check the model", { try ShapeInference.run(forward) }, nodes: { $0.nodes.count })
        let frozen = try optimizer.frozenParameters(in: forward)
        let differentiated = try timed(
            "autodiff", { try Autodiff.differentiate(forward, frozen: frozen) }, nodes: { $0.graph.nodes.count })
        dump.write(differentiated.graph, after: "autodiff")
        let appended = try timed("optimizer update", { try optimizer.append(to: differentiated) }, nodes: { $0.graph.nodes.count })
        dump.write(appended.graph, after: "optimizer update")
        let step = appended.graph
        _ = try timed("shape inference", { try ShapeInference.run(step) }, nodes: { $0.nodes.count })
        var graph = step
        if options.simplify {
            let (simplified, simplifyReport) = timed("simplify", { Simplify.run(step) }, nodes: { $0.graph.nodes.count })
            graph = simplified
            report.simplify = simplifyReport
            dump.write(graph, after: "simplify")
        }
        let plan: Plan
        if options.referencePlan {
            plan = timed("plan (reference)", { Plan(graph, batch: batch) }, nodes: { $0.instructions.count })
        } else {
            let (planned, memory) = try timed(
                "fuse, schedule, plan memory", { try MemoryPlanner.plan(graph, batch: batch, options: options.planner) },
                nodes: { $0.0.instructions.count })
            plan = planned
            report.memory = memory
            dump.write(graph, after: "fused", clusters: memory.fusion?.clusters ?? [])
        }
        return CompiledStep(
            gradientGraph: differentiated.graph, stepGraph: step, graph: graph, plan: plan, report: report,
            fedScalars: appended.fedScalars)
    }
}
