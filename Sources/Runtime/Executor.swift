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
    private let scratch: UnsafeMutablePointer<Float>
    private var fusedTemps: UnsafeMutablePointer<Float>
    private var fusedTempFloats: Int
    private var fusedWorkers: Int
    private let inputsByName: [String: NodeID]
    /// Made once so that a run allocates nothing: element counts of each instruction's fused
    /// inputs, the copies that apply the graph's updates, pointer lists for fused kernels, and
    /// rows grouped by label for per-class GEMMs.
    private let fusedInputCounts: [[Int]]
    /// Per instruction: its program as an Adam update, run by `FusedKernel.runAdam`.
    public let adamPrograms: [AdamProgram?]
    private let updateCopies: [(from: Int, to: Int, count: Int)]
    private let inputPointers: UnsafeMutableBufferPointer<UnsafePointer<Float>>
    private let outputPointers: UnsafeMutableBufferPointer<UnsafeMutablePointer<Float>>
    private let biases: UnsafeMutableBufferPointer<Int>
    /// Where a dense layer's one class of rows starts and ends, for `ClassGradientUpdate`.
    private let denseStarts: UnsafeMutablePointer<Int>
    /// Each worker's operand list and offsets for the blocks of a per-class gradient update.
    private let workerOperands: UnsafeMutablePointer<UnsafePointer<Float>>
    private let workerBiases: UnsafeMutablePointer<Int>
    /// Per-class weight gradients by Gauge's AVX2/FMA kernel (false: by OpenBLAS).
    private let classGradientKernel: Bool
    private var rowGroups: RowGroups

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
        scratch = .allocate(capacity: max(plan.scratchElements, 1))
        HugePages.advise(UnsafeMutableRawPointer(scratch), bytes: plan.scratchElements * 4)
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
        workerOperands = .allocate(capacity: most * Plan.convWorkers)
        workerBiases = .allocate(capacity: most * Plan.convWorkers)
        // Room for the largest grouping any per-class kernel makes: (rows of x, classes).
        let groupings = plan.instructions.compactMap { i -> (Int, Int)? in
            switch i.kernel {
            case .primitive(.groupedMatmul): return (i.inputShapes[0][0], i.inputShapes[1][0])
            case .primitive(.groupedMatmulWeightGrad(let c)), .gradientUpdate(.groupedMatmulWeightGrad(let c), _, _, _),
                .primitive(.conv2d(_, _, let c?)), .primitive(.transposedConv2d(_, _, _, _, let c?)),
                .primitive(.conv2dFilterGrad(_, _, _, _, let c?)), .epilogue(.conv2d(_, _, let c?), _, _, _),
                .epilogue(.transposedConv2d(_, _, _, _, let c?), _, _, _):
                return (i.inputShapes[0][0], c)
            default: return nil
            }
        }
        rowGroups = RowGroups(rows: groupings.map(\.0).max() ?? 1, classes: groupings.map(\.1).max() ?? 1)
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

    private func badIndex(_ index: Int, _ limit: Int, _ instruction: Plan.Instruction) -> RuntimeError {
        let node = plan.graph[instruction.node]
        return RuntimeError(
            "\(node.what): index \(index) is outside 0..<\(limit)", at: node.location)
    }

    /// A per-class convolution's labels (operand 2), checked and grouped into `rowGroups`; nil
    /// for a convolution with one filter.
    private func checkedLabels(_ classes: Int?, _ i: Plan.Instruction) throws(RuntimeError) -> UnsafePointer<Int32>? {
        guard let classes else { return nil }
        try groupRows(i.inputs[2], count: i.inputShapes[0][0], classes: classes, i)
        return UnsafePointer(ints(i.inputs[2]))
    }

    /// Rows grouped by the labels in `buffer`; throws if a label is outside 0..<classes.
    private func groupRows(_ buffer: Int, count: Int, classes: Int, _ i: Plan.Instruction) throws(RuntimeError) {
        guard rowGroups.fill(ints(buffer), count: count, classes: classes) else { throw badLabel(i, classes) }
    }

    private func execute(_ i: Plan.Instruction, _ index: Int) throws(RuntimeError) {
        let y = floats(i.output)
        let n = i.outputShape.reduce(1, *)
        func x(_ k: Int) -> UnsafeMutablePointer<Float> { floats(i.inputs[k]) }
        func s(_ k: Int) -> [Int] { i.inputShapes[k] }
        if case .gradientUpdate(let gemm, let program, let slot, let weights) = i.kernel,
            let gemmOperands = Plan.weightGradientOperands(gemm)
        {
            // A dense layer's gradient (xᵀ·g) is one class of all the rows, as they are.
            let (rows, k, cols) = (s(0)[0], s(0)[1], s(1)[1])
            var classes = 1
            if case .groupedMatmulWeightGrad(let c) = gemm {
                classes = c
                try groupRows(i.inputs[2], count: rows, classes: classes, i)
            }
            try growFusedTemps()
            // Every class's rows gathered in class order and its output-gradient rows packed
            // (classes shared among the workers), then one job in which the workers make the
            // classes' gradients in blocks of rows and update each block at once (first making
            // the block's columns of the input gradient, where the kernel makes it too).
            let dense = gemmOperands == 2
            if dense { (denseStarts[0], denseStarts[1]) = (0, rows) }
            let starts = dense ? UnsafePointer(denseStarts) : rowGroups.classStarts
            let gathered = scratch
            let gatheredG = scratch + rows * k
            let packedG = gatheredG + rows * cols
            let blocks = packedG + rows * Plan.packedGradientColumns(cols)
            let gatheredInputGradient = blocks + Plan.convWorkers * Plan.gradientRowBlock(k) * cols
            let workers = min(Threads.count, Plan.convWorkers)
            let operandCount = i.inputs.count - gemmOperands + 1
            let programOutputs = i.outputs.count - (weights == nil ? 0 : 1)
            for w in 0..<workers {
                for j in 0..<operandCount {
                    // The program's operands follow the GEMM's; the gradient's slot has none.
                    guard let input = Plan.programInput(j, producer: gemmOperands, slot: slot) else { continue }
                    workerOperands[w * operandCount + j] = UnsafePointer(x(input))
                    workerBiases[w * operandCount + j] = 0
                }
            }
            for (j, buffer) in i.outputs.enumerated() { outputPointers[j] = floats(buffer) }
            let groups = dense ? nil : rowGroups
            func classOperands(_ work: ClassOperands.Work) {
                let job = ClassOperands(
                    work: work, groups: groups, starts: starts, k: k, cols: cols, gathered: gathered,
                    gatheredG: gatheredG, packedG: packedG)
                WorkerPool.shared.run(parts: classes, workers: min(workers, classes), job)
            }
            classOperands(.gather(x: x(0), g: x(1), pack: classGradientKernel))
            let classGradients = dense ? UnsafePointer(x(1)) : UnsafePointer(gatheredG)
            // A dense layer's input gradient (rows as they are) goes straight to its output.
            let product = dense ? outputPointers[programOutputs] : gatheredInputGradient
            let job = ClassGradientUpdate(
                inputs: dense ? UnsafePointer(x(0)) : UnsafePointer(gathered),
                gradients: classGradientKernel ? UnsafePointer(packedG) : classGradients, starts: starts,
                classes: classes, k: k, cols: cols, rowBlock: Plan.gradientRowBlock(k), workers: workers,
                packed: classGradientKernel,
                inputGradient: weights.map { w in
                    ClassGradientUpdate.InputGradient(outputGradients: classGradients, weights: x(w), product: product)
                },
                program: program, adam: adamPrograms[index], inputCounts: fusedInputCounts[index], slot: slot,
                operandCount: operandCount, operands: workerOperands, biases: workerBiases,
                outputs: UnsafeBufferPointer(rebasing: outputPointers[0..<programOutputs]), blocks: blocks,
                temps: fusedTemps, tempsPerWorker: fusedTempFloats)
            WorkerPool.shared.run(parts: job.parts, workers: workers, job)
            if weights != nil && !dense {
                classOperands(.scatter(product: gatheredInputGradient, out: outputPointers[programOutputs]))
            }
            return
        }
        if case .fused(let program) = i.kernel {
            try growFusedTemps()
            for (j, buffer) in i.inputs.enumerated() { inputPointers[j] = UnsafePointer(floats(buffer)) }
            for (j, buffer) in i.outputs.enumerated() { outputPointers[j] = floats(buffer) }
            FusedKernel.run(
                program, inputs: UnsafeBufferPointer(rebasing: inputPointers[0..<i.inputs.count]),
                inputCounts: fusedInputCounts[index], outputs: UnsafeBufferPointer(rebasing: outputPointers[0..<i.outputs.count]),
                count: n, temps: fusedTemps, workers: Threads.count, adam: adamPrograms[index])
            return
        }
        let op: Op
        var epilogue: Epilogue?
        switch i.kernel {
        case .primitive(let primitive): op = primitive
        case .epilogue(let producer, let operands, let program, let slot):
            // The producer writes the first output; the program reads it there at `slot`.
            op = producer
            try growFusedTemps()
            let programInputs = i.inputs.count - operands + 1
            for j in 0..<programInputs {
                inputPointers[j] = UnsafePointer(Plan.programInput(j, producer: operands, slot: slot).map(x) ?? y)
            }
            for (j, buffer) in i.outputs.enumerated() { outputPointers[j] = floats(buffer) }
            epilogue = Epilogue(
                program: program,
                args: FusedArguments(
                    inputs: UnsafeBufferPointer(rebasing: inputPointers[0..<programInputs]),
                    outputs: UnsafeBufferPointer(rebasing: outputPointers[0..<i.outputs.count]), temps: fusedTemps,
                    bias: nil),
                inputCounts: fusedInputCounts[index], tempsPerWorker: fusedTempFloats, count: n)
        case .fused, .gradientUpdate: return
        }
        switch op {
        case .input, .parameter, .variable, .reshape, .stopGradient:
            break
        case .constant(let v):
            y[0] = v
        case .matmul(let ta, let tb):
            GEMM.matmul(x(0), s(0), x(1), s(1), transposeA: ta, transposeB: tb, y)
        case .groupedMatmul(let transposeWeights):
            let classes = s(1)[0]
            try groupRows(i.inputs[2], count: s(0)[0], classes: classes, i)
            GEMM.groupedMatmul(
                x(0), rows: s(0)[0], k: s(0)[1], x(1), classes: classes, n: i.outputShape[1],
                transposeWeights: transposeWeights, groups: rowGroups, y, scratch: scratch)
        case .groupedMatmulWeightGrad(let classes):
            try groupRows(i.inputs[2], count: s(0)[0], classes: classes, i)
            GEMM.groupedWeightGrad(x(0), k: s(0)[1], x(1), n: s(1)[1], groups: rowGroups, y, scratch: scratch)
        case .unary(let f):
            ElementwiseKernels.unary(f, x(0), y, n)
        case .binary(let f):
            ElementwiseKernels.binary(f, x(0), s(0), x(1), s(1), y, i.outputShape)
        case .compare(let c):
            if plan.graph[i.inputNodes[0]].dtype == .int32 {
                ElementwiseKernels.compare(c, UnsafePointer(ints(i.inputs[0])), s(0), UnsafePointer(ints(i.inputs[1])), s(1), y, i.outputShape)
            } else {
                ElementwiseKernels.compare(c, x(0), s(0), x(1), s(1), y, i.outputShape)
            }
        case .select:
            ElementwiseKernels.select(x(0), s(0), x(1), s(1), x(2), s(2), y, i.outputShape)
        case .reduce(let r, let axes, _):
            Reduce.reduce(r, axes: axes, x(0), s(0), y)
        case .transpose(let permutation):
            LayoutKernels.transpose(x(0), s(0), permutation: permutation, y)
        case .broadcast:
            ElementwiseKernels.broadcast(x(0), s(0), y, i.outputShape)
        case .slice(let axis, let start, let end):
            LayoutKernels.slice(x(0), s(0), axis: axis, start: start, end: end, y)
        case .concat(let axis):
            LayoutKernels.concat(parts: i.inputs.count, { (UnsafePointer(x($0)), s($0)) }, axis: axis, y, i.outputShape)
        case .gatherRows:
            let rowSize = s(0).dropFirst().reduce(1, *)
            if let bad = LayoutKernels.gatherRows(x(0), rows: s(0)[0], rowSize: rowSize, ints(i.inputs[1]), count: s(1)[0], y) {
                throw badIndex(bad, s(0)[0], i)
            }
        case .scatterAddRows(let rows):
            let rowSize = s(0).dropFirst().reduce(1, *)
            if let bad = LayoutKernels.scatterAddRows(x(0), rowSize: rowSize, ints(i.inputs[1]), count: s(1)[0], y, rows: rows) {
                throw badIndex(bad, rows, i)
            }
        case .oneHot(let classes):
            if let bad = LayoutKernels.oneHot(ints(i.inputs[0]), count: s(0).reduce(1, *), classes: classes, y) {
                throw badIndex(bad, classes, i)
            }
        case .logSoftmax(let axis):
            Reduce.logSoftmax(axis: axis, x(0), s(0), y)
        case .conv2d(let stride, let padding, let classes):
            let labels = try checkedLabels(classes, i)
            Convolution.forward(
                x(0), s(0), x(1), s(1), stride: stride, padding: padding, labels: labels, y, scratch: scratch,
                epilogue: epilogue)
        case .transposedConv2d(let stride, let padding, let height, let width, let classes):
            let labels = try checkedLabels(classes, i)
            Convolution.transposed(
                x(0), s(0), x(1), s(1), stride: stride, padding: padding, height: height, width: width,
                labels: labels, y, scratch: scratch, epilogue: epilogue)
        case .conv2dFilterGrad(let stride, let padding, let kh, let kw, let classes):
            _ = try checkedLabels(classes, i)
            Convolution.filterGrad(
                x(0), s(0), x(1), s(1), stride: stride, padding: padding, kernelH: kh, kernelW: kw,
                groups: classes == nil ? nil : rowGroups, y, scratch: scratch)
        case .maxPool(let window, let stride):
            Pooling.maxPool(x(0), s(0), window: window, stride: stride, y, i.outputShape)
        case .maxPoolGrad(let window, let stride):
            Pooling.maxPoolGrad(x(0), s(0), x(1), s(1), window: window, stride: stride, y, epilogue: epilogue)
        case .affineGrid(let height, let width, let alignCorners):
            Sampler.affineGrid(x(0), batch: s(0)[0], height: height, width: width, alignCorners: alignCorners, y)
        case .affineGridGrad(let alignCorners):
            Sampler.affineGridGrad(x(0), batch: s(0)[0], height: s(0)[1], width: s(0)[2], alignCorners: alignCorners, y)
        case .bilinearSample(let alignCorners):
            Sampler.sample(x(0), s(0), x(1), outH: s(1)[1], outW: s(1)[2], alignCorners: alignCorners, y)
        case .bilinearSampleImageGrad(let alignCorners, let height, let width):
            Sampler.imageGrad(x(0), x(1), s(1), height: height, width: width, alignCorners: alignCorners, y)
        case .bilinearSampleGridGrad(let alignCorners):
            Sampler.gridGrad(x(0), s(0), x(1), x(2), outH: s(1)[1], outW: s(1)[2], alignCorners: alignCorners, y)
        case .random(let distribution, _, let stream):
            RandomKernels.fill(distribution, seed: seed, step: step, stream: RandomKernels.nodeStreams | stream, y, n)
        case .dropout(let rate, let stream):
            RandomKernels.dropout(x(0), rate: rate, seed: seed, step: step, stream: RandomKernels.nodeStreams | stream, y, n)
        }
    }

    /// Makes room for every worker's fused-kernel chunks after the thread count grew.
    private func growFusedTemps() throws(RuntimeError) {
        if Threads.count > fusedWorkers {
            fusedTemps.deallocate()
            fusedWorkers = Threads.count
            fusedTemps = .allocate(capacity: max(fusedTempFloats * fusedWorkers, 1))
        }
    }

    private func badLabel(_ i: Plan.Instruction, _ classes: Int) -> RuntimeError {
        let node = plan.graph[i.node]
        return RuntimeError("\(node.what): a label is outside 0..<\(classes)", at: node.location)
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

    /// The number of worker threads (default 2, or `GAUGE_THREADS`).
    public static var count: Int { workers }

    /// Sets the number of worker threads (at least 1).
    public static func set(_ n: Int) {
        _ = workers
        workers = max(1, n)
    }
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
