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
            return [try unaryVJP(f, x[0], y, g)]

        case .binary(let f):
            return try binaryVJP(f, x[0], x[1], y, g, needs: needs, shapes: (shapeOf(0), shapeOf(1)))

        case .select:
            let m = x[0]
            return [
                nil,
                needs[1] ? try unbroadcast(mul(g, m), to: shapeOf(1)) : nil,
                needs[2] ? try unbroadcast(mul(g, sub(constant(1), m)), to: shapeOf(2)) : nil,
            ]

        case .reduce(let r, let axes, let keepDims):
            return [try reduceVJP(r, axes: axes, keepDims: keepDims, x[0], y, g, shape: shapeOf(0))]

        case .reshape:
            return [try add(.reshape(shapeOf(0)), [g])]
        case .transpose(let permutation):
            var inverse = permutation
            for (i, p) in permutation.enumerated() { inverse[p] = i }
            return [try add(.transpose(permutation: inverse), [g])]
        case .broadcast:
            return [try unbroadcast(g, to: shapeOf(0))]
        case .slice(let axis, let start, let end):
            return [try sliceVJP(g, axis: axis, start: start, end: end, of: shapeOf(0))]
        case .concat(let axis):
            return try concatVJP(g, axis: axis, sizes: x.indices.map { shapeOf($0)[axis].fixedSize ?? 0 }, needs: needs)

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
            return try matmulVJP(ta, tb, x[0], x[1], g, needs: needs)
        case .groupedMatmul(let transposeWeights):
            return try groupedMatmulVJP(node, g, needs: needs, transposeWeights: transposeWeights)
        case .conv2d(let stride, let padding, let classes):
            return try convolutionVJP(node, g, needs: needs, stride: stride, padding: padding, classes: classes, transposed: false)
        case .transposedConv2d(let stride, let padding, _, _, let classes):
            return try convolutionVJP(node, g, needs: needs, stride: stride, padding: padding, classes: classes, transposed: true)
        case .maxPool(let window, let stride):
            return [try add(.maxPoolGrad(window: window, stride: stride), [x[0], g])]
        case .affineGrid(_, _, let alignCorners):
            return [try add(.affineGridGrad(alignCorners: alignCorners), [g])]
        case .bilinearSample(let alignCorners):
            return try bilinearSampleVJP(node, g, needs: needs, alignCorners: alignCorners)
        case .dropout(let rate, let stream):
            // The mask depends only on (seed, step, stream, element): the same stream on g
            // applies the same mask and scale.
            return [try add(.dropout(rate: rate, stream: stream), [g])]
        case .groupedMatmulWeightGrad, .conv2dFilterGrad, .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad,
            .bilinearSampleGridGrad:
            throw CompilerError("\(node.op.name) is a gradient primitive; second derivatives are not supported")
        }
    }

    /// The gradient of a reduction's operand `a` of `shape`, given its output `y`.
    mutating func reduceVJP(_ r: Reduction, axes: [Int], keepDims: Bool, _ a: NodeID, _ y: NodeID, _ g: NodeID, shape: Shape)
        throws(CompilerError) -> NodeID
    {
        let spread = try expand(g, axes: axes, keepDims: keepDims, to: shape)
        switch r {
        case .sum: return spread
        case .mean: return try div(spread, count(axes: axes, of: shape))
        case .max:
            // Shared evenly among tied maxima (as PyTorch's amax and JAX's reduce_max): the
            // derivative of max(x, x) is 1, not 2.
            let atPeak = try mask(.equal, a, expand(y, axes: axes, keepDims: keepDims, to: shape))
            let ties = try expand(add(.reduce(.sum, axes: axes, keepDims: keepDims), [atPeak]), axes: axes, keepDims: keepDims, to: shape)
            return try mul(spread, div(atPeak, ties))
        }
    }

    /// The gradient of a unary function's operand `a`, given its output `y`.
    mutating func unaryVJP(_ f: UnaryFunction, _ a: NodeID, _ y: NodeID, _ g: NodeID) throws(CompilerError) -> NodeID {
        switch f {
        case .neg: return try neg(g)
        case .exp: return try mul(g, y)
        case .log: return try div(g, a)
        case .tanh: return try mul(g, sub(constant(1), unary(.square, y)))
        case .sigmoid: return try mul(g, mul(y, sub(constant(1), y)))
        // From the output (y > 0 exactly when x > 0), so the pre-activation need not be kept.
        case .relu: return try mul(g, mask(.greater, y, constant(0)))
        case .softplus: return try mul(g, unary(.sigmoid, a))
        case .abs: return try mul(g, sub(mask(.greater, a, constant(0)), mask(.less, a, constant(0))))
        case .sqrt: return try div(mul(g, 0.5), y)
        case .square: return try mul(g, mul(a, 2))
        }
    }

    /// The gradients of a broadcasting binary function's operands, summed back to their shapes.
    mutating func binaryVJP(
        _ f: BinaryFunction, _ a: NodeID, _ b: NodeID, _ y: NodeID, _ g: NodeID, needs: [Bool], shapes: (Shape, Shape)
    ) throws(CompilerError) -> [NodeID?] {
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
        if needs[0], let ga { result[0] = try unbroadcast(ga, to: shapes.0) }
        if needs[1], let gb { result[1] = try unbroadcast(gb, to: shapes.1) }
        return result
    }

    /// A slice's gradient: `g` padded with zeros back to the operand's shape along `axis`.
    mutating func sliceVJP(_ g: NodeID, axis: Int, start: Int, end: Int, of full: Shape) throws(CompilerError) -> NodeID {
        var parts: [NodeID] = []
        var before = full.dims
        before[axis] = .fixed(start)
        var after = full.dims
        after[axis] = .fixed((full[axis].fixedSize ?? 0) - end)
        if start > 0 { parts.append(try zeros(Shape(before))) }
        parts.append(g)
        if (full[axis].fixedSize ?? 0) > end { parts.append(try zeros(Shape(after))) }
        return parts.count == 1 ? g : try add(.concat(axis: axis), parts)
    }

    /// A concatenation's gradients: `g` sliced back into the operands' `sizes` along `axis`.
    mutating func concatVJP(_ g: NodeID, axis: Int, sizes: [Int], needs: [Bool]) throws(CompilerError) -> [NodeID?] {
        var offset = 0
        var result: [NodeID?] = []
        for (i, size) in sizes.enumerated() {
            result.append(needs[i] ? try add(.slice(axis: axis, start: offset, end: offset + size), [g]) : nil)
            offset += size
        }
        return result
    }

    /// The gradients of `a · b`, each operand optionally transposed.
    mutating func matmulVJP(_ ta: Bool, _ tb: Bool, _ a: NodeID, _ b: NodeID, _ g: NodeID, needs: [Bool]) throws(CompilerError) -> [NodeID?] {
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
    }

    /// The gradients of a convolution or a transposed one: each is the other for the image, and
    /// the filter gradient correlates image and output gradient (in the transposed one's order).
    /// With classes, operand 2 are the labels: both gradients keep each image's own filter.
    mutating func convolutionVJP(
        _ node: Node, _ g: NodeID, needs: [Bool], stride: Int, padding: Padding, classes: Int?, transposed: Bool
    ) throws(CompilerError) -> [NodeID?] {
        let x = node.inputs
        let (image, filter) = (graph[x[0]].shape, graph[x[1]].shape)
        let labels = classes == nil ? [] : [x[2]]
        var dx: NodeID?
        if needs[0] {
            dx = transposed
                ? try add(.conv2d(stride: stride, padding: padding, classes: classes), [g, x[1]] + labels)
                : try add(
                    .transposedConv2d(
                        stride: stride, padding: padding, height: image[2].fixedSize!, width: image[3].fixedSize!,
                        classes: classes),
                    [g, x[1]] + labels)
        }
        let dw =
            needs[1]
            ? try add(
                .conv2dFilterGrad(
                    stride: stride, padding: padding, kernelHeight: filter[filter.rank - 2].fixedSize!,
                    kernelWidth: filter[filter.rank - 1].fixedSize!, classes: classes),
                (transposed ? [g, x[0]] : [x[0], g]) + labels) : nil
        return classes == nil ? [dx, dw] : [dx, dw, nil]
    }

    /// The gradients of a per-class product: the input's through the transposed weights, the
    /// weights' by the per-class weight-gradient primitive; none for the labels.
    mutating func groupedMatmulVJP(_ node: Node, _ g: NodeID, needs: [Bool], transposeWeights: Bool) throws(CompilerError) -> [NodeID?] {
        let (input, weights, labels) = (node.inputs[0], node.inputs[1], node.inputs[2])
        let classes = graph[weights].shape[0].fixedSize ?? 0
        let dx = needs[0] ? try add(.groupedMatmul(transposeWeights: !transposeWeights), [g, weights, labels]) : nil
        var dw: NodeID?
        if needs[1] {
            dw = transposeWeights
                ? try add(.groupedMatmulWeightGrad(classes: classes), [g, input, labels])
                : try add(.groupedMatmulWeightGrad(classes: classes), [input, g, labels])
        }
        return [dx, dw, nil]
    }

    /// The bilinear sampler's gradients to the image and to the sampling grid.
    mutating func bilinearSampleVJP(_ node: Node, _ g: NodeID, needs: [Bool], alignCorners: Bool) throws(CompilerError) -> [NodeID?] {
        let x = node.inputs
        let image = graph[x[0]].shape
        let di =
            needs[0]
            ? try add(
                .bilinearSampleImageGrad(alignCorners: alignCorners, height: image[2].fixedSize!, width: image[3].fixedSize!),
                [x[1], g]) : nil
        let dg = needs[1] ? try add(.bilinearSampleGridGrad(alignCorners: alignCorners), [x[0], x[1], g]) : nil
        return [di, dg]
    }
}
