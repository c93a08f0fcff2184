#if canImport(Glibc)
    import Glibc
#endif
import CKernels
import Compiler
import Graph

/// Runs an `ElementwiseProgram` in chunks: each step is one tight loop over a chunk held in
/// cache, so a whole chain of element-wise ops makes one pass over memory. Chunks are split
/// among workers by position only, so results do not depend on the thread count.
enum FusedKernel {
    static let chunk = 1024
    /// Below this many elements one worker does everything.
    static let parallelThreshold = 1 << 15

    /// Floats of scratch one worker needs for a program.
    static func tempFloats(_ p: ElementwiseProgram, inputs: Int) -> Int { (p.steps.count + inputs) * chunk }

    enum Resolved {
        case pointer(UnsafePointer<Float>)
        case value(Float)
    }

    /// Runs the program over elements `range` (default: all `n`). A full-size input k is read at
    /// `inputs[k] + i − bias[k]` (bias 0 when nil), so an input may hold just the range (a
    /// gradient block). The pointer lists are the caller's memory: nothing is allocated here.
    static func run(
        _ program: ElementwiseProgram, inputs: UnsafeBufferPointer<UnsafePointer<Float>>, inputCounts: [Int],
        outputs: UnsafeBufferPointer<UnsafeMutablePointer<Float>>, count n: Int, temps: UnsafeMutablePointer<Float>,
        workers: Int, range: Range<Int>? = nil, bias: UnsafeBufferPointer<Int>? = nil, adam: AdamProgram? = nil
    ) {
        let range = range ?? 0..<n
        let perWorker = tempFloats(program, inputs: inputs.count)
        let shared = FusedArguments(inputs: inputs, outputs: outputs, temps: temps, bias: bias)
        let size = range.count
        let parts = size >= parallelThreshold ? max(1, min(workers, size / chunk)) : 1
        if parts == 1 {
            if let adam {
                runAdam(adam, shared, range)
            } else {
                runRange(program, shared, inputCounts, range, temps: temps)
            }
            return
        }
        let chunks = (size + chunk - 1) / chunk
        let runs = WorkerPool.balancedParts(chunks, workers: parts)
        WorkerPool.shared.run(
            parts: runs, workers: parts,
            ChunkRanges(
                program: program, args: shared, inputCounts: inputCounts, range: range, chunks: chunks, runs: runs,
                perWorker: perWorker, adam: adam))
    }

    /// Part r is the r-th of `runs` runs of whole chunks, made with the running worker's own
    /// slice of the temporaries.
    struct ChunkRanges: ParallelJob {
        let program: ElementwiseProgram
        let args: FusedArguments
        let inputCounts: [Int]
        let range: Range<Int>
        let chunks: Int, runs: Int, perWorker: Int
        let adam: AdamProgram?

        func run(part r: Int, worker w: Int) {
            let share = WorkerPool.share(r, of: runs, count: range.count, unit: chunk)
            let (first, last) = (range.lowerBound + share.lowerBound, range.lowerBound + share.upperBound)
            if let adam {
                runAdam(adam, args, first..<last)
            } else {
                runRange(program, args, inputCounts, first..<last, temps: args.temps + w * perWorker)
            }
        }
    }

    static func runRange(
        _ program: ElementwiseProgram, _ args: FusedArguments, _ inputCounts: [Int], _ range: Range<Int>,
        temps: UnsafeMutablePointer<Float>
    ) {
        let stepCount = program.steps.count
        var base = range.lowerBound
        while base < range.upperBound {
            let len = min(chunk, range.upperBound - base)
            // Operand k's value `value(i / inner)` for each element i of the chunk: one lookup per
            // run of `inner` equal values, not one division per element.
            func repeated(_ k: Int, _ inner: Int, _ value: (Int) -> Int) -> Resolved {
                let staging = temps + (stepCount + k) * chunk
                let source = args.inputs[k]
                var j = 0
                while j < len {
                    let i = base + j
                    let run = min(len - j, inner - i % inner)
                    (staging + j).update(repeating: source[value(i / inner)], count: run)
                    j += run
                }
                return .pointer(UnsafePointer(staging))
            }
            func resolve(_ o: ElementwiseProgram.Operand) -> Resolved {
                switch o {
                case .full(let k): return .pointer(args.inputs[k] + (base - (args.bias?[k] ?? 0)))
                case .scalar(let k): return .value(args.inputs[k][0])
                case .constant(let v): return .value(v)
                case .step(let s): return .pointer(UnsafePointer(temps + s * chunk))
                case .blocks(let k, let inner, let size): return repeated(k, inner) { $0 % size }
                case .runs(let k, let inner): return repeated(k, inner) { $0 }
                case .suffix(let k):
                    let staging = temps + (stepCount + k) * chunk
                    let size = inputCounts[k]
                    var at = base % size
                    let source = args.inputs[k]
                    for j in 0..<len {
                        staging[j] = source[at]
                        at += 1
                        if at == size { at = 0 }
                    }
                    return .pointer(UnsafePointer(staging))
                }
            }
            for (s, step) in program.steps.enumerated() {
                let out = temps + s * chunk
                switch step {
                case .unary(let f, let a):
                    switch resolve(a) {
                    case .pointer(let p): ElementwiseKernels.unary(f, p, out, len)
                    case .value(let v):
                        var x = v
                        var y: Float = 0
                        ElementwiseKernels.unary(f, &x, &y, 1)
                        out.update(repeating: y, count: len)
                    }
                case .binary(let f, let a, let b):
                    binary(f, resolve(a), resolve(b), out, len)
                case .compare(let c, let a, let b):
                    let (ra, rb) = (resolve(a), resolve(b))
                    ElementwiseKernels.withComparison(c) { f in combine(ra, rb, out, len, f) }
                case .select(let m, let a, let b):
                    let (rm, ra, rb) = (resolve(m), resolve(a), resolve(b))
                    for j in 0..<len { out[j] = read(rm, j) != 0 ? read(ra, j) : read(rb, j) }
                }
            }
            for (o, s) in program.outputs.enumerated() {
                (args.outputs[o] + base).update(from: temps + s * chunk, count: len)
            }
            base += len
        }
    }

    /// An Adam update (`AdamProgram`) in one pass by the C kernel (`gauge_adam_update`): the
    /// same operations in the same order as the program, so the same bits, with vector square
    /// roots and divisions that Swift's loops do not get.
    static func runAdam(_ a: AdamProgram, _ args: FusedArguments, _ range: Range<Int>) {
        let start = range.lowerBound
        func input(_ k: Int) -> UnsafePointer<Float> { args.inputs[k] + (start - (args.bias?[k] ?? 0)) }
        gauge_adam_update(
            input(a.m), input(a.v), input(a.g), input(a.p), args.outputs[a.outM] + start, args.outputs[a.outV] + start,
            args.outputs[a.outP] + start, range.count, a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.epsilon,
            args.inputs[a.stepSize][0], a.factor == nil ? 0 : 1, a.factor ?? 1, a.decay == nil ? 0 : 1,
            a.decay.map { args.inputs[$0][0] } ?? 0)
    }

    @inline(__always)
    static func read(_ r: Resolved, _ j: Int) -> Float {
        switch r {
        case .pointer(let p): return p[j]
        case .value(let v): return v
        }
    }

    static func binary(_ f: BinaryFunction, _ a: Resolved, _ b: Resolved, _ out: UnsafeMutablePointer<Float>, _ len: Int) {
        switch f {
        case .add: combine(a, b, out, len) { BinaryFunction.add.value($0, $1) }
        case .sub: combine(a, b, out, len) { BinaryFunction.sub.value($0, $1) }
        case .mul: combine(a, b, out, len) { BinaryFunction.mul.value($0, $1) }
        case .div: combine(a, b, out, len) { BinaryFunction.div.value($0, $1) }
        case .max: combine(a, b, out, len) { BinaryFunction.max.value($0, $1) }
        case .min: combine(a, b, out, len) { BinaryFunction.min.value($0, $1) }
        case .pow: combine(a, b, out, len) { BinaryFunction.pow.value($0, $1) }
        }
    }

    @inline(__always)
    static func combine(
        _ a: Resolved, _ b: Resolved, _ out: UnsafeMutablePointer<Float>, _ len: Int, _ f: (Float, Float) -> Float
    ) {
        switch (a, b) {
        case (.pointer(let p), .pointer(let q)): for j in 0..<len { out[j] = f(p[j], q[j]) }
        case (.pointer(let p), .value(let v)): for j in 0..<len { out[j] = f(p[j], v) }
        case (.value(let v), .pointer(let q)): for j in 0..<len { out[j] = f(v, q[j]) }
        case (.value(let v), .value(let w)): out.update(repeating: f(v, w), count: len)
        }
    }
}

/// Pointers handed to the workers of a fused kernel; each writes disjoint ranges.
struct FusedArguments: @unchecked Sendable {
    let inputs: UnsafeBufferPointer<UnsafePointer<Float>>
    let outputs: UnsafeBufferPointer<UnsafeMutablePointer<Float>>
    let temps: UnsafeMutablePointer<Float>
    let bias: UnsafeBufferPointer<Int>?
}
