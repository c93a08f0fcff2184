import Graph

/// One vector-Jacobian product rule per primitive: given the node, the gradient `g` of its
/// output, and which operands need a gradient, the gradients of those operands (nil where
/// none flows: integer operands, comparisons, random numbers, `stopGradient`).
extension GraphEditor {
    mutating func matmul(_ p: NodeID, _ q: NodeID, _ tp: Bool, _ tq: Bool) throws(CompilerError) -> NodeID {
        try add(.matmul(transposeA: tp, transposeB: tq), [p, q])
    }

    mutating func vjp(_ node: Node, _ g: NodeID, needs: [Bool]) throws(CompilerError) -> [NodeID?] {
        let x = node.inputs
        let y = node.id
        func shapeOf(_ i: Int) -> Shape { graph[x[i]].shape }
        switch node.op {
        case .input, .parameter, .variable, .constant, .random, .compare, .oneHot, .stopGradient:
            return Array(repeating: nil, count: x.count)

        case .unary(let f):
            let a = x[0]
            switch f {
            case .neg: return [try neg(g)]
            case .exp: return [try mul(g, y)]
            case .log: return [try div(g, a)]
            case .tanh: return [try mul(g, sub(constant(1), unary(.square, y)))]
            case .sigmoid: return [try mul(g, mul(y, sub(constant(1), y)))]
            // From the output (y > 0 exactly when x > 0), so the pre-activation need not be kept.
            case .relu: return [try mul(g, mask(.greater, y, constant(0)))]
            case .softplus: return [try mul(g, unary(.sigmoid, a))]
            case .abs: return [try mul(g, sub(mask(.greater, a, constant(0)), mask(.less, a, constant(0))))]
            case .sqrt: return [try div(mul(g, 0.5), y)]
            case .square: return [try mul(g, mul(a, 2))]
            }

        case .binary(let f):
            let (a, b) = (x[0], x[1])
            var ga: NodeID?
            var gb: NodeID?
            switch f {
            case .add:
                ga = g
                gb = g
            case .sub:
                ga = g
                gb = needs[1] ? try neg(g) : nil
            case .mul:
                ga = needs[0] ? try mul(g, b) : nil
                gb = needs[1] ? try mul(g, a) : nil
            case .div:
                ga = needs[0] ? try div(g, b) : nil
                gb = needs[1] ? try neg(div(mul(g, y), b)) : nil
            case .max, .min:
                let m = try mask(f == .max ? .greaterEqual : .lessEqual, a, b)
                ga = needs[0] ? try mul(g, m) : nil
                gb = needs[1] ? try mul(g, sub(constant(1), m)) : nil
            case .pow:
                ga = needs[0] ? try div(mul(mul(g, b), y), a) : nil
                gb = needs[1] ? try mul(mul(g, y), unary(.log, a)) : nil
            }
            var result: [NodeID?] = [nil, nil]
            if needs[0], let ga { result[0] = try unbroadcast(ga, to: shapeOf(0)) }
            if needs[1], let gb { result[1] = try unbroadcast(gb, to: shapeOf(1)) }
            return result

        case .select:
            let m = x[0]
            return [
                nil,
                needs[1] ? try unbroadcast(mul(g, m), to: shapeOf(1)) : nil,
                needs[2] ? try unbroadcast(mul(g, sub(constant(1), m)), to: shapeOf(2)) : nil,
            ]

        case .reduce(let r, let axes, let keepDims):
            let spread = try expand(g, axes: axes, keepDims: keepDims, to: shapeOf(0))
            switch r {
            case .sum: return [spread]
            case .mean: return [try div(spread, count(axes: axes, of: shapeOf(0)))]
            case .max:
                let peak = try expand(y, axes: axes, keepDims: keepDims, to: shapeOf(0))
                return [try mul(spread, mask(.equal, x[0], peak))]
            }

        case .reshape:
            return [try add(.reshape(shapeOf(0)), [g])]
        case .transpose(let permutation):
            var inverse = permutation
            for (i, p) in permutation.enumerated() { inverse[p] = i }
            return [try add(.transpose(permutation: inverse), [g])]
        case .broadcast:
            return [try unbroadcast(g, to: shapeOf(0))]
        case .slice(let axis, let start, let end):
            let full = shapeOf(0)
            var parts: [NodeID] = []
            var before = full.dims
            before[axis] = .fixed(start)
            var after = full.dims
            after[axis] = .fixed((full[axis].fixedSize ?? 0) - end)
            if start > 0 { parts.append(try zeros(Shape(before))) }
            parts.append(g)
            if (full[axis].fixedSize ?? 0) > end { parts.append(try zeros(Shape(after))) }
            return [parts.count == 1 ? g : try add(.concat(axis: axis), parts)]
        case .concat(let axis):
            var offset = 0
            var result: [NodeID?] = []
            for i in x.indices {
                let size = shapeOf(i)[axis].fixedSize ?? 0
                result.append(needs[i] ? try add(.slice(axis: axis, start: offset, end: offset + size), [g]) : nil)
                offset += size
            }
            return result

        case .gatherRows:
            guard let rows = shapeOf(0)[0].fixedSize else {
                throw CompilerError("gatherRows from a batch-sized table has no gradient rule")
            }
            return [try add(.scatterAddRows(rows: rows), [g, x[1]]), nil]
        case .scatterAddRows:
            return [try add(.gatherRows, [g, x[1]]), nil]
        case .logSoftmax(let axis):
            let total = try add(.reduce(.sum, axes: [axis], keepDims: true), [g])
            return [try sub(g, mul(unary(.exp, y), add(.broadcast(shapeOf(0)), [total])))]

        case .matmul(let ta, let tb):
            let (a, b) = (x[0], x[1])
            switch (ta, tb) {
            case (false, false):
                return [needs[0] ? try matmul(g, b, false, true) : nil, needs[1] ? try matmul(a, g, true, false) : nil]
            case (false, true):
                return [needs[0] ? try matmul(g, b, false, false) : nil, needs[1] ? try matmul(g, a, true, false) : nil]
            case (true, false):
                return [needs[0] ? try matmul(b, g, false, true) : nil, needs[1] ? try matmul(a, g, false, false) : nil]
            case (true, true):
                return [needs[0] ? try matmul(b, g, true, true) : nil, needs[1] ? try matmul(g, a, true, true) : nil]
            }
        case .groupedMatmul(let transposeWeights):
            let (input, weights, labels) = (x[0], x[1], x[2])
            let classes = shapeOf(1)[0].fixedSize ?? 0
            let dx = needs[0] ? try add(.groupedMatmul(transposeWeights: !transposeWeights), [g, weights, labels]) : nil
            var dw: NodeID?
            if needs[1] {
                dw = transposeWeights
                    ? try add(.groupedMatmulWeightGrad(classes: classes), [g, input, labels])
                    : try add(.groupedMatmulWeightGrad(classes: classes), [input, g, labels])
            }
            return [dx, dw, nil]

        case .conv2d(let stride, let padding, let classes):
            // With classes, x[2] are the labels: both gradients keep each image's own filter.
            let image = shapeOf(0)
            let filter = shapeOf(1)
            let labels = classes == nil ? [] : [x[2]]
            let dx =
                needs[0]
                ? try add(
                    .transposedConv2d(
                        stride: stride, padding: padding, height: image[2].fixedSize!, width: image[3].fixedSize!,
                        classes: classes),
                    [g, x[1]] + labels) : nil
            let dw =
                needs[1]
                ? try add(
                    .conv2dFilterGrad(
                        stride: stride, padding: padding, kernelHeight: filter[filter.rank - 2].fixedSize!,
                        kernelWidth: filter[filter.rank - 1].fixedSize!, classes: classes), [x[0], g] + labels) : nil
            return classes == nil ? [dx, dw] : [dx, dw, nil]
        case .transposedConv2d(let stride, let padding, _, _, let classes):
            let filter = shapeOf(1)
            let labels = classes == nil ? [] : [x[2]]
            let dx =
                needs[0] ? try add(.conv2d(stride: stride, padding: padding, classes: classes), [g, x[1]] + labels) : nil
            let dw =
                needs[1]
                ? try add(
                    .conv2dFilterGrad(
                        stride: stride, padding: padding, kernelHeight: filter[filter.rank - 2].fixedSize!,
                        kernelWidth: filter[filter.rank - 1].fixedSize!, classes: classes), [g, x[0]] + labels) : nil
            return classes == nil ? [dx, dw] : [dx, dw, nil]
        case .maxPool(let window, let stride):
            return [try add(.maxPoolGrad(window: window, stride: stride), [x[0], g])]
        case .affineGrid(_, _, let alignCorners):
            return [try add(.affineGridGrad(alignCorners: alignCorners), [g])]
        case .bilinearSample(let alignCorners):
            let image = shapeOf(0)
            let di =
                needs[0]
                ? try add(
                    .bilinearSampleImageGrad(
                        alignCorners: alignCorners, height: image[2].fixedSize!, width: image[3].fixedSize!),
                    [x[1], g]) : nil
            let dg = needs[1] ? try add(.bilinearSampleGridGrad(alignCorners: alignCorners), [x[0], x[1], g]) : nil
            return [di, dg]
        case .dropout(let rate, let stream):
            // The mask depends only on (seed, step, stream, element): the same stream on g
            // applies the same mask and scale.
            return [try add(.dropout(rate: rate, stream: stream), [g])]

        case .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad,
            .bilinearSampleGridGrad:
            throw CompilerError("\(node.op.name) is a gradient primitive; second derivatives are not supported")
        }
    }
}
