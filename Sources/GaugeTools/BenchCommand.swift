import ArgumentParser
import Compiler
import Experiments
import Foundation
import Graph
import Runtime

/// `gauge bench MODEL`: times whole training steps on synthetic data.
public struct BenchCommand: ParsableCommand {
    /// The process's heap-allocation count outside OpenBLAS calls, when the executable counts
    /// them (`gauge` does).
    nonisolated(unsafe) public static var heapAllocations: (() -> UInt64)?
    /// The heap allocations made inside OpenBLAS calls (the BLAS library's own), when counted.
    nonisolated(unsafe) public static var blasHeapAllocations: (() -> UInt64)?

    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (forward, backward, Adam) of a model on synthetic data.",
        discussion: """
            Feeds uniform [0, 1) images and random in-range labels, runs --warmup steps, then times \
            --steps steps and prints the median, images/s and the whole step's GFLOP/s (multiply-add = 2). \
            Build with -c release for meaningful numbers: swift run -c release gauge bench ace-cifar
            """)

    @Argument(help: "A built-in model (see `gauge models`).")
    var model: String

    @Option(help: "Batch size.")
    var batch: Int = 250

    @Option(help: "Timed steps.")
    var steps: Int = 5

    @Option(help: "Untimed steps first.")
    var warmup: Int = 1

    @Option(help: "Worker threads for Gauge's kernels (default: GAUGE_THREADS, else 2).")
    var threads: Int?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Also print the time per primitive over the timed steps, its share of the step, and the core time left idle inside its parallel jobs (a core waiting for another to finish).")
    var profile = false

    @Option(help: "With --profile, also list the N slowest kernel calls: position in the plan, time and idle core time, kernel, operand shapes and the DSL line that made it.")
    var top: Int = 0

    @Flag(help: "Check every kernel's output for NaN or infinity (also GAUGE_CHECK_NUMERICS=1); slower.")
    var checkNumerics = false

    @Flag(help: "Also train --steps steps through Trainer.fit on synthetic data and print where its time went: inside TrainingStep.run, and the loop's own work per step (what fit adds), set-up and the checkpoint apart.")
    var fit = false

    @Flag(help: "Also count heap allocations in one more step, in the executor and in the whole step (feeding and reading losses); those made inside OpenBLAS calls (which depend on the kernel OpenBLAS picked for the CPU) are counted apart.")
    var allocations = false

    @Flag(help: "Also measure generation (ACE models): decoding prior samples and posing them, images/s at batch 1, 100 and 1000.")
    var sample = false

    @Option(
        help: ArgumentHelp(
            "Also time a plan made without one compiler decision (with one, for a decision off by default; or the same plan again), its steps alternating with the default plan's in this process (each first in every other pair), and print both medians and their ratios.",
            discussion: PlannerVariant.allCases.map { "\($0.rawValue): \($0.meaning)" }.joined(separator: "; "),
            valueName: "variant"))
    var against: PlannerVariant?

    public func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be a positive integer, got \(batch)") }
        guard steps > 0 else { throw ValidationError("--steps must be a positive integer, got \(steps)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be a positive integer, got \(threads)") }
        guard top >= 0 else { throw ValidationError("--top must not be negative, got \(top)") }
    }

    public func run() throws {
        if let threads { Threads.set(threads) }
        let threads = Threads.count
        let built = try buildModel(model)
        let compileStart = Date()
        let step = try TrainingStep(built, batch: batch, optimizer: .adam(learningRate: 1e-4))
        let setupSeconds = Date().timeIntervalSince(compileStart)
        let compileSeconds = step.compileSeconds
        if checkNumerics { step.checkNumerics = true }
        let state = step.initialState(seed: 1)
        let flops = Double(CostModel.flops(of: step.graph, batch: batch))
        let feeds = SyntheticData.feeds(for: built.graph, batch: batch)
        log("compiled \(model) for batch \(batch) in \(Int(compileSeconds * 1000)) ms (set-up \(Int(setupSeconds * 1000)) ms); \(step.graph.nodes.count) nodes; state \(state.byteCount / 1_000_000) MB")
        // The variant shares the state: the same graph, planned differently.
        let other = try against.map {
            try TrainingStep(
                built, batch: batch, optimizer: .adam(learningRate: 1e-4), options: CompileOptions(planner: $0.options))
        }
        func timed(_ s: TrainingStep) throws -> Double {
            let start = Date()
            try s.run(state, feeding: feeds)
            return Date().timeIntervalSince(start)
        }
        var times: [Double] = []
        var otherTimes: [Double] = []
        var jobsBefore = 0
        for i in 0..<(warmup + steps) {
            if i == warmup && profile { step.profiling = true }
            if i == warmup { jobsBefore = Threads.parallelJobs }
            // Every other pair runs the variant first: a step is slower right after another one
            // (0.6–3 % here with the plan compared against itself), which would otherwise count
            // against whichever plan always ran second.
            let variantFirst = other != nil && i % 2 == 1
            let otherSeconds = variantFirst ? try timed(other!) : nil
            let seconds = try timed(step)
            if i >= warmup { times.append(seconds) }
            var line = "step \(i + 1)/\(warmup + steps)\(i < warmup ? " (warm-up)" : "")"
            if variantFirst, let against { line += " (\(against.rawValue) first)" }
            line += ": \(Int(seconds * 1000)) ms"
            if let other, let against {
                let seconds = try otherSeconds ?? timed(other)
                if i >= warmup { otherTimes.append(seconds) }
                line += "; \(against.rawValue) \(Int(seconds * 1000)) ms"
            }
            log(line)
        }
        let sorted = times.sorted()
        let median = Self.median(times)
        let imagesPerSecond = Double(batch) / median
        let gflops = flops / median / 1e9
        // The variant's median and the median of the paired ratios (default ÷ variant, step by step).
        let comparison = against.map { a in
            (name: a.rawValue, median: Self.median(otherTimes), sorted: otherTimes.sorted(),
             paired: Self.median(zip(times, otherTimes).map { $0 / $1 }))
        }
        let againstJSON = comparison.map { c in
            ",\"against\":\"\(c.name)\",\"against_median_ms\":\(ms(c.median)),\"paired_ratio\":\(fixed3(c.paired))"
        } ?? ""
        if json {
            print(
                "{\"model\":\"\(model)\",\"batch\":\(batch),\"threads\":\(threads),\"steps\":\(steps),\"median_ms\":\(ms(median)),\"min_ms\":\(ms(sorted.first!)),\"max_ms\":\(ms(sorted.last!)),\"images_per_second\":\(round1(imagesPerSecond)),\"gflops_per_second\":\(round1(gflops)),\"gflop_per_step\":\(fixed3(flops / 1e9)),\"compile_ms\":\(ms(compileSeconds)),\"peak_rss_mib\":\(round1(peakRSSMiB()))\(againstJSON)}"
            )
        } else {
            print("\(model), batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"), \(steps) timed steps, OpenBLAS core \(Threads.blasCore)")
            print("  median \(ms(median)) ms/step (min \(ms(sorted.first!)), max \(ms(sorted.last!)))")
            print("  \(round1(imagesPerSecond)) images/s, \(round1(gflops)) GFLOP/s (\(round1(flops / 1e9)) GFLOP per step)")
            if let c = comparison {
                print("  \(c.name), alternating steps: median \(ms(c.median)) ms/step (min \(ms(c.sorted.first!)), max \(ms(c.sorted.last!)))")
                print("  default ÷ \(c.name): \(fixed3(median / c.median)) (medians), \(fixed3(c.paired)) (median of \(c.sorted.count) paired steps, each plan first in every other pair)")
            }
            if profile { printProfile(step, threads: threads, jobsBefore: other == nil ? jobsBefore : nil) }
            print("  compile (autodiff + optimizer + shape check + plan) \(ms(compileSeconds)) ms; peak RSS \(round1(peakRSSMiB())) MiB")
        }
        if fit { try benchFit(built) }
        if sample { try benchSampling(state) }
        if allocations { try printAllocations(step, state, feeds) }
    }

    /// `--profile`: time per primitive, idle core time, the fixed cost of dispatching parallel
    /// jobs (counted from `jobsBefore`; nil when another plan ran between), the slowest calls.
    func printProfile(_ step: TrainingStep, threads: Int, jobsBefore: Int?) {
        let total = step.profile.values.reduce(0, +)
        let idle = step.idleProfile
        print("  time per primitive over \(steps) steps (share of kernel time; idle: cores waiting inside its parallel jobs):")
        for (op, seconds) in step.profile.sorted(by: { $0.value > $1.value }) where seconds / total >= 0.001 {
            let percent = "\(round1(100 * seconds / total)) %".padding(toLength: 7, withPad: " ", startingAt: 0)
            print("    \(op.padding(toLength: 34, withPad: " ", startingAt: 0)) \(ms(seconds / Double(steps))) ms/step  \(percent) idle \(ms((idle[op] ?? 0) / Double(steps))) ms/step")
        }
        let idleTotal = idle.values.reduce(0, +)
        print("  idle core time inside parallel kernels: \(ms(idleTotal / Double(steps))) ms/step, \(round1(100 * idleTotal / (total * Double(threads)))) % of \(threads) × the kernel time")
        if threads > 1, let jobsBefore {
            let jobs = Double(Threads.parallelJobs - jobsBefore) / Double(steps)
            let dispatch = Threads.dispatchSeconds()
            print("  \(step.plan.instructions.count) kernels a step, starting \(Int(jobs.rounded())) parallel jobs; each costs \(round1(dispatch * 1e6)) µs here beyond its work (parts of 50 µs): ~\(fixed3(jobs * dispatch * 1000)) ms/step of dispatch")
        }
        if top > 0, let perInstruction = step.executor.instructionSeconds,
            let idlePerInstruction = step.executor.instructionIdleSeconds
        {
            print("  slowest \(min(top, perInstruction.count)) kernel calls (ms/step, idle core ms/step):")
            for index in perInstruction.indices.sorted(by: { perInstruction[$0] > perInstruction[$1] }).prefix(top) {
                let i = step.plan.instructions[index]
                let node = step.graph[i.node]
                let shapes = i.inputShapes.map { "\($0)" }.joined(separator: " ")
                let idle = ms(idlePerInstruction[index] / Double(steps))
                print("    #\(index) \(ms(perInstruction[index] / Double(steps))) (\(idle))  \(Executor.kernelName(i)) \(shapes) → \(i.outputShape)  \(node.name)  \(node.location.shortDescription)")
            }
        }
    }

    /// `--allocations`: heap allocations in one warmed-up step, OpenBLAS's apart, by kernel.
    func printAllocations(_ step: TrainingStep, _ state: TrainingState, _ feeds: [String: TensorData]) throws {
        guard let count = Self.heapAllocations else {
            print("  heap allocations: not counted (this executable has no allocation counter)")
            return
        }
        let (before, blasBefore) = (count(), Self.blasHeapAllocations?() ?? 0)
        try step.executor.run()
        let inExecutor = count() - before
        let inBLAS = (Self.blasHeapAllocations?() ?? 0) - blasBefore
        let beforeStep = count()
        try step.run(state, feeding: feeds)
        let inStep = count() - beforeStep
        // The same step with its inputs written into the step's memory and the losses into an array.
        var losses = [Float](repeating: 0, count: step.lossNames.count)
        let beforeInPlace = count()
        try step.feed(feeds)
        try step.run(state, losses: &losses)
        let inPlace = count() - beforeInPlace
        // OpenBLAS's own first: they depend on the kernel it picked for this CPU, not on Gauge.
        print("  inside OpenBLAS (core \(Threads.blasCore)), not counted below: \(inBLAS) heap allocations in the executor's run")
        print("  heap allocations in one step after warm-up: \(inExecutor) in the executor's run, \(inStep) in the whole step (feeding inputs, reading losses), \(inPlace) with inputs written in place and losses into an array (run(_:losses:))")
        step.executor.allocationCounter = count
        try step.executor.run()
        step.executor.allocationCounter = nil
        for (kernel, n) in step.executor.allocationProfile.sorted(by: { $0.value > $1.value }) where n > 0 {
            print("    \(kernel.padding(toLength: 34, withPad: " ", startingAt: 0)) \(n)")
        }
    }

    /// `--fit`: the same model trained for `steps` steps through `Trainer.fit` (one epoch of
    /// synthetic rows, no test set), its time split by `Trainer.timings`.
    func benchFit(_ model: Model) throws {
        let rows = batch * steps
        let source = try ArraySource(SyntheticData.feeds(for: model.graph, batch: rows), count: rows)
        let trainer = try Trainer(
            model, batch: batch, optimizer: .adam(learningRate: 1e-4),
            progress: TrainingProgress(every: Int.max, isTerminal: false) { _ in })
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-bench-fit-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try trainer.fit(train: source, epochs: 1, output: folder, resume: false)
        let t = trainer.timings
        let n = Double(max(t.stepCount, 1))
        print("  through Trainer.fit, \(t.stepCount) steps: TrainingStep.run \(ms(t.steps / n)) ms/step; fit's own loop \(fixed3(1000 * t.loop / n)) ms/step, \(fixed3(100 * t.loop / t.steps)) % of it; set-up \(ms(t.setup)) ms and one checkpoint \(ms(t.checkpoints)) ms apart")
        if json {
            print("{\"fit_steps\":\(t.stepCount),\"fit_run_ms\":\(ms(t.steps / n)),\"fit_loop_ms\":\(fixed3(1000 * t.loop / n)),\"fit_loop_percent\":\(fixed3(100 * t.loop / t.steps))}")
        }
    }

    /// The process's peak resident set so far, in MiB (getrusage).
    func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let half = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
    }

    func fixed3(_ x: Double) -> String { String(format: "%.3f", x) }
    func ms(_ seconds: Double) -> Double { (seconds * 10_000).rounded() / 10 }
    func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
    func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
}

/// A plan made without one of the compiler's decisions (or, `same`, the default plan again), for
/// `gauge bench --against`.
enum PlannerVariant: String, ExpressibleByArgument, CaseIterable {
    case same
    case noEpilogues = "no-epilogues"
    case productEpilogues = "product-epilogues"
    case noInputGradients = "no-input-gradients"
    case noFusion = "no-fusion"
    case noSchedule = "no-schedule"
    case noInPlace = "no-in-place"

    var meaning: String {
        switch self {
        case .same: return "the default plan, compiled again: the comparison's own noise (a ratio of 1 but for it)"
        case .noEpilogues: return "element-wise groups run after their convolution or max-pool gradient, not inside it"
        case .productEpilogues: return "the one decision off by default, on: dense layers' products run their bias and activation (an input gradient, its activation derivative) as epilogues"
        case .noInputGradients: return "per-class input gradients as kernels of their own, not inside the weights' update"
        case .noFusion: return "no fusion at all (every element-wise op and weight gradient a kernel of its own)"
        case .noSchedule: return "program order, not the memory-greedy schedule"
        case .noInPlace: return "no in-place writes (updates copied, no fused kernel over a dying operand)"
        }
    }

    var options: MemoryPlanner.Options {
        switch self {
        case .same: return MemoryPlanner.Options()
        case .noEpilogues: return MemoryPlanner.Options(fuseEpilogues: false)
        case .productEpilogues: return MemoryPlanner.Options(productEpilogues: true)
        case .noInputGradients: return MemoryPlanner.Options(fuseInputGradients: false)
        case .noFusion: return MemoryPlanner.Options(fuse: false)
        case .noSchedule: return MemoryPlanner.Options(schedule: false)
        case .noInPlace: return MemoryPlanner.Options(inPlace: false)
        }
    }
}

/// Random inputs for a graph: floats uniform in [0, 1), labels uniform over the smallest class
/// count any consumer of the label accepts.
enum SyntheticData {
    static func feeds(for graph: Graph, batch: Int) -> [String: TensorData] {
        var generator = SystemRandomNumberGenerator()
        var result: [String: TensorData] = [:]
        let users = graph.users()
        for input in graph.inputs {
            guard let name = input.op.inputName else { continue }
            let n = input.shape.elementCount(batch: batch)
            if input.dtype == .int32 {
                let limit = users[input.id.index].compactMap { classLimit(graph[$0], of: input.id, in: graph) }.min() ?? 1
                result[name] = .int32((0..<n).map { _ in Int32.random(in: 0..<Int32(limit), using: &generator) })
            } else {
                result[name] = .float32((0..<n).map { _ in Float.random(in: 0..<1, using: &generator) })
            }
        }
        return result
    }

    static func classLimit(_ user: Node, of input: NodeID, in graph: Graph) -> Int? {
        switch user.op {
        case .oneHot(let classes): return classes
        case .groupedMatmul, .gatherRows: return graph[user.inputs[user.op == .gatherRows ? 0 : 1]].shape[0].fixedSize
        case .scatterAddRows(let rows): return rows
        default: return nil
        }
    }
}
