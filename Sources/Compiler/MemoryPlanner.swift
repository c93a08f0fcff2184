import Foundation
import Graph

/// Turns a graph into a `Plan`: fused element-wise kernels, a schedule chosen for low peak
/// memory, updates computed in place into parameters and optimizer moments, and every other
/// intermediate at an offset in one arena (best fit by decreasing size over live ranges).
public enum MemoryPlanner {
    public struct Options: Sendable {
        public var fuse = true
        /// Try a memory-greedy order besides program order and keep the lower peak.
        public var schedule = true
        /// Let element-wise kernels overwrite a dying operand, and updates write into their target.
        public var inPlace = true
        /// Let a per-class layer's input gradient join its weights' gradient-and-update kernel
        /// (with `fuse` and `inPlace`, which that kernel needs).
        public var fuseInputGradients = true
        /// Let an element-wise group run as the epilogue of the convolution, max-pool gradient or
        /// product whose output only it reads (with `fuse` and `inPlace`).
        public var fuseEpilogues = true
        /// With `fuseEpilogues`, products (dense layers' GEMMs) take epilogues too: their bias and
        /// activation, an input gradient its activation derivative. Off by default: measured with
        /// `gauge bench --against product-epilogues`, no step got faster (`docs/kernels.md`), as
        /// a dense layer's output block is mostly still in L2 when a separate kernel reads it.
        public var productEpilogues = false
        public init(
            fuse: Bool = true, schedule: Bool = true, inPlace: Bool = true, fuseInputGradients: Bool = true,
            fuseEpilogues: Bool = true, productEpilogues: Bool = false
        ) {
            self.fuse = fuse
            self.schedule = schedule
            self.inPlace = inPlace
            self.fuseInputGradients = fuseInputGradients
            self.fuseEpilogues = fuseEpilogues
            self.productEpilogues = productEpilogues
        }
    }

    public struct Report: Sendable {
        public var fusion: Fusion.Result?
        /// Peak arena bytes of each schedule tried, and the one kept.
        public var schedules: [(name: String, peakBytes: Int)]
        public var chosenSchedule: String
        /// Bytes of every intermediate value if each had its own buffer (the reference plan).
        public var naiveBytes: Int
        public var arenaBytes: Int
        /// Instruction position where the arena is fullest, and the buffers live there.
        public var peakPosition: Int
        public var peakBuffers: [(node: NodeID, bytes: Int)]
        /// Seconds of each stage of `plan`, in order.
        public var stages: [(name: String, seconds: Double)] = []
    }

    public static func plan(_ graph: Graph, batch: Int, options: Options = Options()) throws -> (Plan, Report) {
        var stages: [(name: String, seconds: Double)] = []
        func stage<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let start = Date()
            defer { stages.append((name, Date().timeIntervalSince(start))) }
            return try body()
        }
        let fusion = stage("fuse element-wise groups") { options.fuse ? Fusion.run(graph) : nil }
        var units = stage("form kernels") { PlanUnits(graph, batch: batch, fusion: fusion) }
        if options.fuse && options.inPlace {
            stage("join gradients to updates") { units.joinWeightGradients() }
            if options.fuseInputGradients { stage("join input gradients") { units.joinInputGradients() } }
            if options.fuseEpilogues { stage("join epilogues") { units.joinEpilogues(products: options.productEpilogues) } }
        }
        if options.inPlace { units.orderUpdatesAfterReaders() }
        let candidates = try stage("schedule") {
            var candidates = [("program order", try units.order(greedy: false))]
            if options.schedule { candidates.append(("memory-greedy", try units.order(greedy: true))) }
            return candidates
        }
        let (tried, chosen, layout) = stage("lay out memory") {
            var best: (String, ArenaLayout)?
            var tried: [(String, Int)] = []
            for (name, schedule) in candidates {
                let layout = lay(schedule, units, inPlace: options.inPlace)
                tried.append((name, layout.arenaBytes))
                if best == nil || layout.arenaBytes < best!.1.arenaBytes { best = (name, layout) }
            }
            return (tried, best!.0, best!.1)
        }
        let instructions = stage("emit instructions") { units.instructions(for: layout) }
        var plan = Plan(
            graph: graph, batch: batch, buffers: layout.buffers, instructions: instructions, bufferOf: layout.bufferOf)
        plan.arenaBytes = layout.arenaBytes
        plan.liveRanges = layout.liveRanges
        plan.inPlaceUpdates = layout.inPlaceUpdates
        let naive = graph.nodes.reduce(0) { sum, node in
            node.op.isLeaf || node.op.isView ? sum : sum + units.bytes(node.id)
        }
        let report = Report(
            fusion: fusion, schedules: tried, chosenSchedule: chosen, naiveBytes: naive, arenaBytes: layout.arenaBytes,
            peakPosition: layout.peakPosition, peakBuffers: layout.peakBuffers, stages: stages)
        return (plan, report)
    }
}
