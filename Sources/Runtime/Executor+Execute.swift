#if canImport(Glibc)
    import Glibc
#endif
import CKernels
import Compiler
import Graph

/// Running one instruction of the plan: the gradient-with-update kernels, fused element-wise
/// programs, and each primitive's kernel (with an epilogue where the plan fused one).
extension Executor {
    func badIndex(_ index: Int, _ limit: Int, _ instruction: Plan.Instruction) -> RuntimeError {
        let node = plan.graph[instruction.node]
        return RuntimeError(
            "\(node.what): index \(index) is outside 0..<\(limit)", at: node.location)
    }

    /// A per-class convolution's labels (operand 2), checked and grouped into `rowGroups`; nil
    /// for a convolution with one filter.
    func checkedLabels(_ classes: Int?, _ i: Plan.Instruction) throws(RuntimeError) -> UnsafePointer<Int32>? {
        guard let classes else { return nil }
        try groupRows(i.inputs[2], count: i.inputShapes[0][0], classes: classes, i)
        return UnsafePointer(ints(i.inputs[2]))
    }

    /// Rows grouped by the labels in `buffer`; throws if a label is outside 0..<classes.
    func groupRows(_ buffer: Int, count: Int, classes: Int, _ i: Plan.Instruction) throws(RuntimeError) {
        guard rowGroups.fill(ints(buffer), count: count, classes: classes) else { throw badLabel(i, classes) }
    }

    func execute(_ i: Plan.Instruction, _ index: Int) throws(RuntimeError) {
        switch i.kernel {
        case .gradientUpdate(let gemm, let program, let slot, let weights):
            try executeGradientUpdate(i, index, gemm: gemm, program: program, slot: slot, weights: weights)
        case .fused(let program):
            try growFusedTemps()
            for (j, buffer) in i.inputs.enumerated() { inputPointers[j] = UnsafePointer(floats(buffer)) }
            for (j, buffer) in i.outputs.enumerated() { outputPointers[j] = floats(buffer) }
            FusedKernel.run(
                program, inputs: UnsafeBufferPointer(rebasing: inputPointers[0..<i.inputs.count]),
                inputCounts: fusedInputCounts[index], outputs: UnsafeBufferPointer(rebasing: outputPointers[0..<i.outputs.count]),
                count: i.outputShape.reduce(1, *), temps: fusedTemps, workers: Threads.count, adam: adamPrograms[index])
        case .primitive(let op):
            try executePrimitive(op, i, epilogue: nil)
        case .epilogue(let producer, let operands, let program, let slot):
            // The producer writes the first output; the program reads it there at `slot`.
            try growFusedTemps()
            let programInputs = i.inputs.count - operands + 1
            for j in 0..<programInputs {
                inputPointers[j] = UnsafePointer(Plan.programInput(j, producer: operands, slot: slot).map { floats(i.inputs[$0]) } ?? floats(i.output))
            }
            for (j, buffer) in i.outputs.enumerated() { outputPointers[j] = floats(buffer) }
            let epilogue = Epilogue(
                program: program,
                args: FusedArguments(
                    inputs: UnsafeBufferPointer(rebasing: inputPointers[0..<programInputs]),
                    outputs: UnsafeBufferPointer(rebasing: outputPointers[0..<i.outputs.count]), temps: fusedTemps,
                    bias: nil),
                inputCounts: fusedInputCounts[index], tempsPerWorker: fusedTempFloats, count: i.outputShape.reduce(1, *))
            try executePrimitive(producer, i, epilogue: epilogue)
        }
    }

    /// A weight gradient made and applied at once (`Kernel.gradientUpdate`).
    func executeGradientUpdate(
        _ i: Plan.Instruction, _ index: Int, gemm: Op, program: ElementwiseProgram, slot: Int, weights: Int?
    ) throws(RuntimeError) {
        func x(_ k: Int) -> UnsafeMutablePointer<Float> { floats(i.inputs[k]) }
        func s(_ k: Int) -> [Int] { i.inputShapes[k] }
        guard let gemmOperands = Plan.weightGradientOperands(gemm) else { return }
        do {
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
            let layout = ClassGradientUpdate.Scratch(rows: rows, k: k, cols: cols, makesInputGradient: weights != nil)
            let (gathered, gatheredG, packedG) = (scratch + layout.gathered, scratch + layout.gatheredGradients, scratch + layout.packedGradients)
            let gatheredInputGradient = scratch + layout.inputGradient
            let workers = min(Threads.count, ClassGradientUpdate.maxWorkers)
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
                gradients: classGradients, packedGradients: classGradientKernel ? UnsafePointer(packedG) : nil, starts: starts,
                classes: classes, k: k, cols: cols, rowBlock: ClassGradientUpdate.rowBlock(k), workers: workers,
                inputGradient: weights.map { w in
                    ClassGradientUpdate.InputGradient(outputGradients: classGradients, weights: x(w), product: product)
                },
                program: program, adam: adamPrograms[index], inputCounts: fusedInputCounts[index], slot: slot,
                operandCount: operandCount, operands: workerOperands, biases: workerBiases,
                outputs: UnsafeBufferPointer(rebasing: outputPointers[0..<programOutputs]), blocks: scratch + layout.blocks,
                temps: fusedTemps, tempsPerWorker: fusedTempFloats)
            WorkerPool.shared.run(parts: job.parts, workers: workers, job)
            if weights != nil && !dense {
                classOperands(.scatter(product: gatheredInputGradient, out: outputPointers[programOutputs]))
            }
        }
    }

    /// One primitive's kernel, with the epilogue the plan fused into it (if any).
    func executePrimitive(_ op: Op, _ i: Plan.Instruction, epilogue: Epilogue?) throws(RuntimeError) {
        let y = floats(i.output)
        let n = i.outputShape.reduce(1, *)
        func x(_ k: Int) -> UnsafeMutablePointer<Float> { floats(i.inputs[k]) }
        func s(_ k: Int) -> [Int] { i.inputShapes[k] }
        switch op {
        case .input, .parameter, .variable, .reshape, .stopGradient:
            break
        case .constant(let v):
            y[0] = v
        case .matmul(let ta, let tb):
            GEMM.matmul(x(0), s(0), x(1), s(1), transposeA: ta, transposeB: tb, y, epilogue: epilogue)
        case .groupedMatmul(let transposeWeights):
            try groupedMatmul(transposeWeights, i, y)
        case .groupedMatmulWeightGrad(let classes):
            try groupRows(i.inputs[2], count: s(0)[0], classes: classes, i)
            GEMM.groupedWeightGrad(x(0), k: s(0)[1], x(1), n: s(1)[1], groups: rowGroups, y, scratch: scratch)
        case .unary(let f):
            ElementwiseKernels.unary(f, x(0), y, n)
        case .binary(let f):
            ElementwiseKernels.binary(f, x(0), s(0), x(1), s(1), y, i.outputShape)
        case .compare(let c):
            compare(c, i, y)
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
            try gatherRows(i, y)
        case .scatterAddRows(let rows):
            try scatterAddRows(rows, i, y)
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

    func groupedMatmul(_ transposeWeights: Bool, _ i: Plan.Instruction, _ y: UnsafeMutablePointer<Float>) throws(RuntimeError) {
        let (rows, k, classes) = (i.inputShapes[0][0], i.inputShapes[0][1], i.inputShapes[1][0])
        try groupRows(i.inputs[2], count: rows, classes: classes, i)
        GEMM.groupedMatmul(
            floats(i.inputs[0]), rows: rows, k: k, floats(i.inputs[1]), classes: classes, n: i.outputShape[1],
            transposeWeights: transposeWeights, groups: rowGroups, y, scratch: scratch)
    }

    /// A comparison of floats, or of int32 labels.
    func compare(_ c: Comparison, _ i: Plan.Instruction, _ y: UnsafeMutablePointer<Float>) {
        let (a, b) = (i.inputShapes[0], i.inputShapes[1])
        if plan.graph[i.inputNodes[0]].dtype == .int32 {
            ElementwiseKernels.compare(c, UnsafePointer(ints(i.inputs[0])), a, UnsafePointer(ints(i.inputs[1])), b, y, i.outputShape)
        } else {
            ElementwiseKernels.compare(c, floats(i.inputs[0]), a, floats(i.inputs[1]), b, y, i.outputShape)
        }
    }

    func gatherRows(_ i: Plan.Instruction, _ y: UnsafeMutablePointer<Float>) throws(RuntimeError) {
        let (shape, count) = (i.inputShapes[0], i.inputShapes[1][0])
        let rowSize = shape.dropFirst().reduce(1, *)
        if let bad = LayoutKernels.gatherRows(floats(i.inputs[0]), rows: shape[0], rowSize: rowSize, ints(i.inputs[1]), count: count, y) {
            throw badIndex(bad, shape[0], i)
        }
    }

    func scatterAddRows(_ rows: Int, _ i: Plan.Instruction, _ y: UnsafeMutablePointer<Float>) throws(RuntimeError) {
        let rowSize = i.inputShapes[0].dropFirst().reduce(1, *)
        if let bad = LayoutKernels.scatterAddRows(floats(i.inputs[0]), rowSize: rowSize, ints(i.inputs[1]), count: i.inputShapes[1][0], y, rows: rows) {
            throw badIndex(bad, rows, i)
        }
    }

    /// Makes room for every worker's fused-kernel chunks after the thread count grew.
    func growFusedTemps() throws(RuntimeError) {
        if Threads.count > fusedWorkers {
            fusedTemps.deallocate()
            fusedWorkers = Threads.count
            fusedTemps = .allocate(capacity: max(fusedTempFloats * fusedWorkers, 1))
        }
    }

    func badLabel(_ i: Plan.Instruction, _ classes: Int) -> RuntimeError {
        let node = plan.graph[i.node]
        return RuntimeError("\(node.what): a label is outside 0..<\(classes)", at: node.location)
    }
}
