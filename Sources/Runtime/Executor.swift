import CBLAS
import CKernels
#if canImport(Glibc)
    import Glibc
#endif
import Compiler
import Graph

/// Runs a `Plan`: owns one buffer per planned value (allocated once), feeds inputs, keeps
/// parameters and optimizer variables between runs, and calls one kernel per instruction.
public final class Executor {
    public let plan: Plan
    private var storage: [UnsafeMutableRawPointer]
    /// Buffers this executor allocated (the others are bound from outside, e.g. a training state).
    private var allocated: [UnsafeMutableRawPointer]
    /// The random seed; with `step`, it keys every random number of a run.
    public var seed: UInt64
    /// The run counter used by random nodes; `run()` does not change it.
    public var step: UInt64 = 0
    /// Check every kernel's float output for NaN or infinity and report the first bad value.
    /// On when the environment sets `GAUGE_CHECK_NUMERICS=1`.
    public var checkNumerics = getenv("GAUGE_CHECK_NUMERICS").map { String(cString: $0) == "1" } ?? false
    /// When set, seconds spent per primitive (by op name) are added here on every run.
    public var profile: [String: Double]? {
        didSet {
            WorkerPool.shared.measuring = profile != nil
            if profile == nil {
                instructionSeconds = nil
                instructionIdleSeconds = nil
                idleProfile = [:]
            } else if instructionSeconds == nil {
                instructionSeconds = Array(repeating: 0, count: plan.instructions.count)
                instructionIdleSeconds = Array(repeating: 0, count: plan.instructions.count)
            }
        }
    }
    /// While `profile` is set, idle core seconds inside each primitive's parallel jobs (its
    /// wall time times its workers, less their time in parts), by op name.
    public private(set) var idleProfile: [String: Double] = [:]
    /// While `profile` is set, seconds spent in each instruction of the plan, by position, and
    /// idle core seconds inside its parallel jobs.
    public private(set) var instructionSeconds: [Double]?
    public private(set) var instructionIdleSeconds: [Double]?

    /// Scratch for kernels (im2col columns, packed rows) and for fused kernels' chunks.
    let scratch: UnsafeMutablePointer<Float>
    var fusedTemps: UnsafeMutablePointer<Float>
    var fusedTempFloats: Int
    var fusedWorkers: Int
    private let inputsByName: [String: NodeID]
    /// Made once so that a run allocates nothing: element counts of each instruction's fused
    /// inputs, the copies that apply the graph's updates, pointer lists for fused kernels, and
    /// rows grouped by label for per-class GEMMs.
    let fusedInputCounts: [[Int]]
    /// Per instruction: its program as an Adam update, run by `FusedKernel.runAdam`.
    public let adamPrograms: [AdamProgram?]
    private let updateCopies: [(from: Int, to: Int, count: Int)]
    let inputPointers: UnsafeMutableBufferPointer<UnsafePointer<Float>>
    let outputPointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Float>>
    let biases: UnsafeMutableBufferPointer<Int>
    /// Where a dense layer's one class of rows starts and ends, for `ClassGradientUpdate`.
    let denseStarts: UnsafeMutablePointer<Int>
    /// Each worker's operand list and offsets for the blocks of a per-class gradient update.
    let workerOperands: UnsafeMutablePointer<UnsafePointer<Float>>
    let workerBiases: UnsafeMutablePointer<Int>
    /// Per-class weight gradients by Gauge's AVX2/FMA kernel (false: by OpenBLAS).
    let classGradientKernel: Bool
    var rowGroups: RowGroups

    /// `adamLoops: false` runs recognised Adam updates through the general fused-kernel
    /// interpreter too (to check that the dedicated loop gives the same bits);
    /// `classGradientKernel: false` makes per-class weight gradients with OpenBLAS (as on CPUs
    /// without AVX2 and FMA).
    public init(_ plan: Plan, seed: UInt64 = 0, adamLoops: Bool = true, classGradientKernel: Bool = true) {
        self.plan = plan
        self.classGradientKernel = classGradientKernel && gauge_cpu_has_avx2_fma() != 0
        self.seed = seed
        inputsByName = Dictionary(
            plan.graph.inputs.map { ($0.op.inputName!, $0.id) }, uniquingKeysWith: { first, _ in first })
        // Every kernel writes its whole output, so buffers need no zeroing: the system's pages
        // are touched on first write, which keeps start-up cheap for large models.
        let arena = UnsafeMutableRawPointer.allocate(byteCount: max(plan.arenaBytes, 64), alignment: 64)
        HugePages.advise(arena, bytes: plan.arenaBytes)
        var owned = [arena]
        storage = plan.buffers.map { buffer in
            switch buffer.placement {
            case .arena(let offset):
                return arena + offset
            case .own:
                let raw = UnsafeMutableRawPointer.allocate(byteCount: max(buffer.elements, 1) * 4, alignment: 64)
                HugePages.advise(raw, bytes: buffer.elements * 4)
                owned.append(raw)
                return raw
            }
        }
        allocated = owned
        let scratchFloats = Scratch.floats(for: plan)
        scratch = .allocate(capacity: max(scratchFloats, 1))
        HugePages.advise(UnsafeMutableRawPointer(scratch), bytes: scratchFloats * 4)
        fusedTempFloats = plan.instructions.map { i in
            if case .fused(let p) = i.kernel { return FusedKernel.tempFloats(p, inputs: i.inputs.count) }
            guard let layout = Plan.programLayout(i.kernel) else { return 0 }
            return FusedKernel.tempFloats(layout.program, inputs: i.inputs.count - layout.producer + 1)
        }.max() ?? 0
        fusedWorkers = Threads.count
        fusedTemps = .allocate(capacity: max(fusedTempFloats * fusedWorkers, 1))
        adamPrograms = plan.instructions.map { i in
            switch i.kernel {
            case .fused(let p), .gradientUpdate(_, let p, _, _): return adamLoops ? AdamProgram(p) : nil
            case .primitive, .epilogue: return nil
            }
        }
        fusedInputCounts = plan.instructions.map { i in
            let counts = i.inputShapes.map { $0.reduce(1, *) }
            guard let layout = Plan.programLayout(i.kernel) else { return counts }
            // The program's operands after the GEMM's or producer's, with the block it makes at `slot`.
            var rest = Array(counts[layout.producer...])
            rest.insert(i.outputShape.reduce(1, *), at: layout.slot)
            return rest
        }
        updateCopies = plan.graph.updates.map { update in
            (plan.bufferOf[update.value.index], plan.bufferOf[update.target.index],
             plan.graph[update.target].shape.elementCount(batch: plan.batch))
        }
        let most = max(1, plan.instructions.map { max($0.inputs.count, $0.outputs.count) + 1 }.max() ?? 1)
        inputPointers = .allocate(capacity: most)
        outputPointers = .allocate(capacity: most)
        biases = .allocate(capacity: most)
        denseStarts = .allocate(capacity: 2)
        workerOperands = .allocate(capacity: most * ClassGradientUpdate.maxWorkers)
        workerBiases = .allocate(capacity: most * ClassGradientUpdate.maxWorkers)
        // Room for the largest grouping any per-class kernel makes: (rows of x, classes).
        let groupings = plan.instructions.compactMap(Self.grouping)
        rowGroups = RowGroups(rows: groupings.map(\.0).max() ?? 1, classes: groupings.map(\.1).max() ?? 1)
    }

    /// The grouping of rows by label a per-class kernel makes: (rows of x, classes); nil for
    /// other kernels.
    static func grouping(_ i: Plan.Instruction) -> (Int, Int)? {
        let op: Op
        switch i.kernel {
        case .primitive(let o), .epilogue(let o, _, _, _), .gradientUpdate(let o, _, _, _): op = o
        case .fused: return nil
        }
        switch op {
        case .groupedMatmul: return (i.inputShapes[0][0], i.inputShapes[1][0])
        case .groupedMatmulWeightGrad(let c): return (i.inputShapes[0][0], c)
        case .conv2d(_, _, let c), .transposedConv2d(_, _, _, _, let c), .conv2dFilterGrad(_, _, _, _, let c):
            return c.map { (i.inputShapes[0][0], $0) }
        case .input, .parameter, .variable, .constant, .matmul, .unary, .binary, .compare, .select, .reduce,
            .reshape, .transpose, .broadcast, .slice, .concat, .gatherRows, .scatterAddRows, .oneHot,
            .logSoftmax, .maxPool, .affineGrid, .bilinearSample, .random, .dropout, .stopGradient,
            .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return nil
        }
    }

    deinit {
        for raw in allocated { raw.deallocate() }
        scratch.deallocate()
        fusedTemps.deallocate()
        inputPointers.deallocate()
        outputPointers.deallocate()
        biases.deallocate()
        denseStarts.deallocate()
        workerOperands.deallocate()
        workerBiases.deallocate()
        rowGroups.deallocate()
    }

    /// Makes a leaf's buffer the caller's memory (parameters and optimizer state kept outside
    /// the executor); the memory must hold the leaf's elements and outlive its use here.
    public func bind(_ id: NodeID, to memory: UnsafeMutablePointer<Float>) {
        storage[plan.bufferOf[id.index]] = UnsafeMutableRawPointer(memory)
    }

    func floats(_ buffer: Int) -> UnsafeMutablePointer<Float> { storage[buffer].assumingMemoryBound(to: Float.self) }
    func ints(_ buffer: Int) -> UnsafeMutablePointer<Int32> { storage[buffer].assumingMemoryBound(to: Int32.self) }

    /// The input node with this name (looked up in a table made once, as inputs are fed every run).
    private func input(named name: String) throws(RuntimeError) -> Node {
        guard let id = inputsByName[name] else {
            let names = plan.graph.inputs.compactMap(\.op.inputName)
            throw RuntimeError("no input named \"\(name)\"" + (names.isEmpty ? "" : "; inputs are \(names.joined(separator: ", "))"))
        }
        return plan.graph[id]
    }

    private func checkCount(_ node: Node, _ count: Int, _ dtype: DType) throws(RuntimeError) {
        let expected = node.shape.elementCount(batch: plan.batch)
        guard count == expected, node.dtype == dtype else {
            throw RuntimeError(
                "\(node.name) takes \(expected) \(node.dtype) values (\(node.shape) at batch \(plan.batch)); got \(count) \(dtype)",
                at: node.location)
        }
    }

    /// Where input `name` lives in the arena, for a caller writing the next batch in place:
    /// its elements at this plan's batch, checked to be of `dtype`.
    public func inputMemory(_ name: String, _ dtype: DType) throws(RuntimeError) -> (UnsafeMutableRawPointer, count: Int) {
        let n = try input(named: name)
        guard n.dtype == dtype else {
            throw RuntimeError("\(n.name) holds \(n.dtype) values, not \(dtype)", at: n.location)
        }
        return (storage[plan.bufferOf[n.id.index]], n.shape.elementCount(batch: plan.batch))
    }

    /// Feeds a float input by name.
    public func setInput(_ name: String, _ values: [Float]) throws(RuntimeError) {
        let n = try input(named: name)
        try checkCount(n, values.count, .float32)
        values.withUnsafeBufferPointer { floats(plan.bufferOf[n.id.index]).update(from: $0.baseAddress!, count: values.count) }
    }

    /// Feeds a scalar float input by name, without an array.
    public func setInput(_ name: String, scalar value: Float) throws(RuntimeError) {
        let n = try input(named: name)
        try checkCount(n, 1, .float32)
        floats(plan.bufferOf[n.id.index])[0] = value
    }

    /// Feeds an int32 input (labels) by name.
    public func setInput(_ name: String, _ values: [Int32]) throws(RuntimeError) {
        let n = try input(named: name)
        try checkCount(n, values.count, .int32)
        values.withUnsafeBufferPointer { ints(plan.bufferOf[n.id.index]).update(from: $0.baseAddress!, count: values.count) }
    }

    /// The current values of any node (after a run) as floats.
    public func values(of id: NodeID) -> [Float] {
        let node = plan.graph[id]
        let n = node.shape.elementCount(batch: plan.batch)
        let buffer = plan.bufferOf[id.index]
        if node.dtype == .int32 { return (0..<n).map { Float(ints(buffer)[$0]) } }
        return Array(UnsafeBufferPointer(start: floats(buffer), count: n))
    }

    /// The first value of a float node (a loss), without an array.
    public func scalar(of id: NodeID) -> Float { floats(plan.bufferOf[id.index])[0] }

    /// Overwrites a float leaf (parameter or variable) or any float buffer.
    public func setValues(of id: NodeID, _ values: [Float]) throws(RuntimeError) {
        let node = plan.graph[id]
        try checkCount(node, values.count, .float32)
        values.withUnsafeBufferPointer { floats(plan.bufferOf[id.index]).update(from: $0.baseAddress!, count: values.count) }
    }

    /// The values of a named output or loss.
    public func values(named name: String) throws(RuntimeError) -> [Float] {
        guard let output = (plan.graph.outputs + plan.graph.losses).first(where: { $0.name == name }) else {
            throw RuntimeError("no output or loss named \"\(name)\"")
        }
        return values(of: output.node)
    }

    /// Gives every parameter its initial values; variables (optimizer state) start at zero.
    public func initializeParameters(seed: UInt64) {
        ParameterInitializer.initialize(plan.graph, seed: seed) { floats(plan.bufferOf[$0.index]) }
    }

    /// Heap allocations per kernel name, filled by `run` while `allocationCounter` is set.
    public var allocationProfile: [String: Int] = [:]
    /// Reads the process's heap-allocation count (an executable that counts them provides it).
    public var allocationCounter: (() -> UInt64)?

    public static func kernelName(_ instruction: Plan.Instruction) -> String {
        switch instruction.kernel {
        case .fused: return "fused element-wise"
        case .gradientUpdate(.groupedMatmulWeightGrad, _, _, _): return "per-class weight gradient + Adam"
        case .gradientUpdate: return "weight gradient + Adam"
        case .epilogue(let op, _, _, _): return "\(op.name) + element-wise"
        case .primitive(let op): return op.name
        }
    }

    /// Runs every instruction in order, then applies the graph's updates.
    public func run() throws(RuntimeError) {
        for (index, instruction) in plan.instructions.enumerated() {
            if let allocationCounter {
                let before = allocationCounter()
                try execute(instruction, index)
                // Counted before the name is made: an epilogue's name is built by interpolation.
                let count = Int(allocationCounter() - before)
                allocationProfile[Self.kernelName(instruction), default: 0] += count
            } else if profile != nil {
                let (start, idle) = (Clock.now(), WorkerPool.shared.callerIdleSeconds())
                try execute(instruction, index)
                let seconds = Clock.now() - start
                let idleSeconds = WorkerPool.shared.callerIdleSeconds() - idle
                let name = Self.kernelName(instruction)
                profile![name, default: 0] += seconds
                idleProfile[name, default: 0] += idleSeconds
                instructionSeconds![index] += seconds
                instructionIdleSeconds![index] += idleSeconds
            } else {
                try execute(instruction, index)
            }
            if checkNumerics, plan.graph[instruction.node].dtype == .float32 {
                try checkFinite(instruction)
            }
        }
        for (from, to, n) in updateCopies where from != to {
            floats(to).update(from: floats(from), count: n)
        }
    }

    private func checkFinite(_ instruction: Plan.Instruction) throws(RuntimeError) {
        let n = instruction.outputShape.reduce(1, *)
        for (k, buffer) in instruction.outputs.enumerated() {
            let y = floats(buffer)
            let made = instruction.outputs.count == 1 ? instruction.node : outputNode(instruction, k)
            for i in 0..<n where !y[i].isFinite {
                let node = plan.graph[made]
                throw RuntimeError(
                    "\(node.what) (node \(node.name)) produced \(y[i].isNaN ? "NaN" : "\(y[i])") at element \(i) of \(node.shape)",
                    at: node.location)
            }
        }
    }

    /// The member of a fused instruction stored in output `k`.
    private func outputNode(_ instruction: Plan.Instruction, _ k: Int) -> NodeID {
        instruction.members.first { plan.bufferOf[$0.index] == instruction.outputs[k] } ?? instruction.node
    }
}

/// How many threads Gauge's kernels use. OpenBLAS itself always runs single-threaded (see
/// `GEMM`), so results are bit-identical for any thread count.
public enum Threads {
    nonisolated(unsafe) private static var workers: Int = {
        openblas_set_num_threads(1)
        let fromEnvironment = getenv("GAUGE_THREADS").flatMap { Int(String(cString: $0)) }
        return max(1, fromEnvironment ?? 2)
    }()

    /// The OpenBLAS kernel picked for this CPU (`openblas_get_corename`): `Zen` on AMD Zen 2 and
    /// 3, `Cooperlake` on Zen 4. Its products round the same on every thread count, but what it
    /// allocates inside `sgemm` differs (see the README's allocation promise).
    public static var blasCore: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// OpenBLAS's build and the core it picked (`openblas_get_config`), e.g. "OpenBLAS 0.3.21
    /// DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64": what decides the bits of its products.
    public static var blasConfig: String { openblas_get_config().map { String(cString: $0) } ?? "unknown" }

    /// The number of worker threads (default 2, or `GAUGE_THREADS`).
    public static var count: Int { workers }

    /// Sets the number of worker threads (at least 1).
    public static func set(_ n: Int) {
        _ = workers
        workers = max(1, n)
    }

    /// Parallel jobs (kernels run by more than one thread) started in this process so far.
    public static var parallelJobs: Int { WorkerPool.shared.jobsStarted }

    /// The fixed cost of a parallel job: seconds it takes beyond its work when every worker has
    /// one 50 µs part (waking the parked workers, hearing from the last), median of 400.
    public static func dispatchSeconds() -> Double { WorkerPool.shared.dispatchSeconds(workers: count) }
}

extension Node {
    /// The DSL call, with the primitive when they differ: `dense(128) (matmul)`.
    var what: String { call == op.name ? call : "\(call) (\(op.name))" }
}

/// A monotonic clock in seconds.
enum Clock {
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
