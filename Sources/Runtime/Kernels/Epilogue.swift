import Compiler

/// An element-wise program run as a producer's epilogue (`Plan.Kernel.epilogue`): each worker
/// of a convolution or max-pool gradient applies it to the output it has just made, a block of
/// at least `block` elements at a time (a product's worker, each block of rows or columns it
/// makes), so the block is read back from cache, not memory. The program computes each element
/// from the same operands whatever the block, so the results are the bits of a separate fused
/// kernel.
struct Epilogue {
    let program: ElementwiseProgram
    let args: FusedArguments
    let inputCounts: [Int]
    let tempsPerWorker: Int
    /// Elements of the producer's output.
    let count: Int

    /// Fewest elements the program runs on at once (32 KiB of output): a plane of a small
    /// image is too little to pay for resolving the program's operands.
    static let block = 8 * FusedKernel.chunk

    /// Runs the program on elements `range` with worker `worker`'s temporaries.
    func run(_ range: Range<Int>, worker: Int) {
        let range = range.clamped(to: 0..<count)
        guard !range.isEmpty else { return }
        FusedKernel.runRange(program, args, inputCounts, range, temps: args.temps + worker * tempsPerWorker)
    }

    /// Runs the program on the whole output, shared among the workers as a fused kernel of
    /// its own would be (after a producer that made its output in one call).
    func runAll() {
        FusedKernel.run(
            program, inputs: args.inputs, inputCounts: inputCounts, outputs: args.outputs, count: count,
            temps: args.temps, workers: Threads.count)
    }

    /// Runs `job` on tasks `tasks` (each making `perTask` elements of output, task t the
    /// elements from t · perTask), then the program on the output made, in blocks of at least
    /// `block` elements.
    func follow<J: TaskJob>(_ job: J, tasks: Range<Int>, perTask: Int, worker: Int) {
        var start = tasks.lowerBound
        for t in tasks {
            job.run(task: t, worker: worker)
            if (t + 1 - start) * perTask >= Self.block || t + 1 == tasks.upperBound {
                run(start * perTask..<(t + 1) * perTask, worker: worker)
                start = t + 1
            }
        }
    }
}
