/// Shape rules: the static type of each primitive's result from the types of its operands.
///
/// The DSL runs these while a model is built, so a mistake is reported at the user's line before
/// anything runs; the compiler's shape-inference pass runs the same rules over whole graphs
/// (including the ones autodiff and the optimizer passes make).
extension Op {
    /// Number of operands the primitive takes, or nil when it takes one or more (`concat`).
    public var arity: Int? {
        switch self {
        case .input, .parameter, .variable, .constant, .random: return 0
        case .unary, .reduce, .reshape, .transpose, .broadcast, .slice, .oneHot, .logSoftmax,
            .maxPool, .affineGrid, .dropout, .stopGradient, .affineGridGrad:
            return 1
        case .matmul, .binary, .compare, .gatherRows, .scatterAddRows, .bilinearSample, .maxPoolGrad,
            .bilinearSampleImageGrad:
            return 2
        case .conv2d(_, _, let classes), .transposedConv2d(_, _, _, _, let classes),
            .conv2dFilterGrad(_, _, _, _, let classes):
            return classes == nil ? 2 : 3
        case .groupedMatmul, .select, .groupedMatmulWeightGrad, .bilinearSampleGridGrad: return 3
        case .concat: return nil
        }
    }

    /// The type of the result, or the problem that prevents one.
    ///
    /// Leaves (`input`, `parameter`) have no rule: their type is declared where they are made.
    public func inferType(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        let type = try ruleType(operands)
        guard type.shape.rank <= Shape.maxRank else { throw Shape.rankProblem(type.shape) }
        return type
    }

    /// The op's own shape rule, before the rank limit every result shares.
    private func ruleType(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        if let arity, operands.count != arity {
            throw ShapeProblem("takes \(arity) operand\(arity == 1 ? "" : "s"), got \(operands.count)")
        }
        switch self {
        case .input, .parameter, .variable:
            throw ShapeProblem("a leaf's type is declared, not inferred")
        case .constant:
            return TensorType(.scalar)
        case .random(_, let shape, _):
            if let problem = shape.declarationProblem { throw problem }
            return TensorType(shape)
        case .matmul(let ta, let tb):
            return try Self.matmulType(operands[0], operands[1], ta, tb)
        case .groupedMatmul(let transposeWeights):
            return try Self.groupedMatmulType(operands[0], operands[1], operands[2], transposeWeights)
        case .groupedMatmulWeightGrad(let classes):
            return try Self.groupedMatmulWeightGradType(operands[0], operands[1], operands[2], classes)
        case .conv2dFilterGrad(let stride, let padding, let kh, let kw, let classes):
            return try Self.conv2dFilterGradRule(operands, stride, padding, kh, kw, classes)
        case .maxPoolGrad(let window, let stride):
            return try Self.maxPoolGradRule(operands, window: window, stride: stride)
        case .affineGridGrad:
            return try Self.affineGridGradRule(operands)
        case .bilinearSampleImageGrad(_, let height, let width):
            return try Self.bilinearSampleImageGradRule(operands, height: height, width: width)
        case .bilinearSampleGridGrad:
            return try Self.bilinearSampleGridGradRule(operands)
        case .unary, .stopGradient:
            try Self.requireFloat(operands[0], "operand")
            return operands[0]
        case .dropout(let rate, _):
            return try Self.dropoutRule(operands[0], rate: rate)
        case .binary:
            try Self.requireFloat(operands[0], "left operand")
            try Self.requireFloat(operands[1], "right operand")
            return TensorType(try Self.broadcast([operands[0].shape, operands[1].shape]))
        case .compare:
            return try Self.compareRule(operands)
        case .select:
            return try Self.selectRule(operands)
        case .reduce(_, let axes, let keepDims):
            return try Self.reduceType(operands[0], axes: axes, keepDims: keepDims)
        case .reshape(let target):
            return try Self.reshapeType(operands[0], target)
        case .transpose(let permutation):
            return try Self.transposeRule(operands[0], permutation)
        case .broadcast(let target):
            guard (try? Self.broadcast([operands[0].shape, target])) == target else {
                throw ShapeProblem("cannot broadcast \(operands[0].shape) to \(target)")
            }
            return TensorType(target, operands[0].dtype)
        case .slice(let axis, let start, let end):
            return try Self.sliceType(operands[0], axis: axis, start: start, end: end)
        case .concat(let axis):
            return try Self.concatType(operands, axis: axis)
        case .gatherRows:
            return try Self.gatherRowsRule(operands)
        case .scatterAddRows(let rows):
            return try Self.scatterAddRowsRule(operands, rows: rows)
        case .oneHot(let classes):
            return try Self.oneHotRule(operands[0], classes: classes)
        case .logSoftmax(let axis):
            return try Self.logSoftmaxRule(operands[0], axis: axis)
        case .conv2d(let stride, let padding, let classes):
            let filter = try Self.perImageFilter(operands, classes: classes)
            return try Self.conv2dType(operands[0], filter, stride: stride, padding: padding)
        case .transposedConv2d(let stride, let padding, let height, let width, let classes):
            let filter = try Self.perImageFilter(operands, classes: classes)
            return try Self.transposedConv2dType(
                operands[0], filter, stride: stride, padding: padding, height: height, width: width)
        case .maxPool(let window, let stride):
            return try Self.maxPoolType(operands[0], window: window, stride: stride)
        case .affineGrid(let height, let width, _):
            return try Self.affineGridType(operands[0], height: height, width: width)
        case .bilinearSample:
            return try Self.bilinearSampleType(operands[0], operands[1])
        }
    }

    // MARK: - Rules of their own

    /// Rows of a table picked by int32 indices.
    static func gatherRowsRule(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        let (table, indices) = (operands[0], operands[1])
        try Self.requireIndices(indices)
        guard table.shape.rank >= 1 else { throw ShapeProblem("table is a scalar; expected rank ≥ 1") }
        return TensorType(Shape([indices.shape[0]] + table.shape.dims.dropFirst()), table.dtype)
    }

    /// Rows added into a zero table of `rows` rows at int32 indices.
    static func scatterAddRowsRule(_ operands: [TensorType], rows: Int) throws(ShapeProblem) -> TensorType {
        let (values, indices) = (operands[0], operands[1])
        try Self.requireFloat(values, "values")
        try Self.requireIndices(indices)
        guard values.shape.rank >= 1, values.shape[0] == indices.shape[0] else {
            throw ShapeProblem("values \(values.shape) and indices \(indices.shape) differ in rows")
        }
        guard rows > 0 else { throw ShapeProblem("row count \(rows) must be positive") }
        return TensorType(Shape([.fixed(rows)] + values.shape.dims.dropFirst()))
    }

    /// One-hot rows of int32 indices: their shape with a last axis of `classes`.
    static func oneHotRule(_ indices: TensorType, classes: Int) throws(ShapeProblem) -> TensorType {
        guard indices.dtype == .int32 else {
            throw ShapeProblem("indices have type \(indices.dtype); expected int32")
        }
        guard classes > 0 else { throw ShapeProblem("class count \(classes) must be positive") }
        return TensorType(Shape(indices.shape.dims + [.fixed(classes)]))
    }

    /// The operand's axes permuted.
    static func transposeRule(_ operand: TensorType, _ permutation: [Int]) throws(ShapeProblem) -> TensorType {
        let shape = operand.shape
        guard permutation.count == shape.rank, Set(permutation) == Set(0..<shape.rank) else {
            throw ShapeProblem("\(permutation) is not a permutation of the axes of \(shape)")
        }
        return TensorType(Shape(permutation.map { shape[$0] }), operand.dtype)
    }

    /// Dropout keeps its operand's type; the rate is a probability below 1.
    static func dropoutRule(_ operand: TensorType, rate: Float) throws(ShapeProblem) -> TensorType {
        try Self.requireFloat(operand, "operand")
        guard rate >= 0, rate < 1 else {
            throw ShapeProblem("rate \(rate) is outside [0, 1)", hint: "pass the probability of dropping")
        }
        return operand
    }

    /// A comparison of two operands of one type, broadcast: a float mask.
    static func compareRule(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        guard operands[0].dtype == operands[1].dtype else {
            throw ShapeProblem("operands have types \(operands[0].dtype) and \(operands[1].dtype)")
        }
        return TensorType(try Self.broadcast([operands[0].shape, operands[1].shape]))
    }

    /// A float mask choosing between two branches of one type, all broadcast.
    static func selectRule(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        try Self.requireFloat(operands[0], "mask")
        guard operands[1].dtype == operands[2].dtype else {
            throw ShapeProblem("branches have types \(operands[1].dtype) and \(operands[2].dtype)")
        }
        return TensorType(try Self.broadcast(operands.map(\.shape)), operands[1].dtype)
    }

    /// Log-softmax along an axis of a float operand keeps its shape.
    static func logSoftmaxRule(_ operand: TensorType, axis: Int) throws(ShapeProblem) -> TensorType {
        try Self.requireFloat(operand, "operand")
        guard axis >= 0, axis < operand.shape.rank else {
            throw ShapeProblem("axis \(axis) is out of range for \(operand.shape)")
        }
        return operand
    }

    // MARK: - Helpers shared by the rules

    /// "a and b", "a, b and c".
    static func listed(_ items: [String]) -> String {
        items.count <= 2 ? items.joined(separator: " and ")
            : items.dropLast().joined(separator: ", ") + " and " + items.last!
    }

    static func requireFloat(_ t: TensorType, _ what: String) throws(ShapeProblem) {
        guard t.dtype == .float32 else {
            throw ShapeProblem("\(what) has type \(t.dtype); expected float32")
        }
    }

    static func requireIndices(_ t: TensorType) throws(ShapeProblem) {
        guard t.dtype == .int32, t.shape.rank == 1 else {
            throw ShapeProblem("indices are \(t.shape) \(t.dtype); expected a rank-1 int32 vector")
        }
    }

    /// NumPy broadcasting: align from the right; equal dims or a 1 on one side.
    public static func broadcast(_ shapes: [Shape]) throws(ShapeProblem) -> Shape {
        let rank = shapes.map(\.rank).max() ?? 0
        var result = [Dim](repeating: 1, count: rank)
        for offset in 0..<rank {
            var dim: Dim = 1
            for shape in shapes where offset < shape.rank {
                let d = shape[shape.rank - 1 - offset]
                if d == 1 || d == dim { continue }
                if dim == 1 {
                    dim = d
                    continue
                }
                let names = listed(shapes.map(\.description))
                throw ShapeProblem(
                    "shapes \(names) cannot be broadcast: \(dim) vs \(d) at axis \(rank - 1 - offset) from the left",
                    hint: "reshape one side so the dimensions match or are 1")
            }
            result[rank - 1 - offset] = dim
        }
        return Shape(result)
    }

    static func matmulType(_ a: TensorType, _ b: TensorType, _ ta: Bool, _ tb: Bool) throws(ShapeProblem)
        -> TensorType
    {
        try requireFloat(a, "left operand")
        try requireFloat(b, "right operand")
        guard a.shape.rank == 2, b.shape.rank == 2 else {
            throw ShapeProblem("operands have shapes \(a.shape) and \(b.shape); expected rank 2 each",
                hint: "flatten first")
        }
        let (m, k1) = ta ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = tb ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k1 == k2 else {
            throw ShapeProblem(
                "inner dimensions differ: \(a.shape)\(ta ? "ᵀ" : "") · \(b.shape)\(tb ? "ᵀ" : "") (\(k1) ≠ \(k2))")
        }
        return TensorType([m, n])
    }

    static func groupedMatmulWeightGradType(_ a: TensorType, _ g: TensorType, _ labels: TensorType, _ classes: Int)
        throws(ShapeProblem) -> TensorType
    {
        try requireFloat(a, "input")
        try requireFloat(g, "gradient")
        try requireIndices(labels)
        guard a.shape.rank == 2, g.shape.rank == 2, a.shape[0] == g.shape[0], labels.shape[0] == a.shape[0] else {
            throw ShapeProblem("input \(a.shape), gradient \(g.shape) and labels \(labels.shape) differ in rows")
        }
        return TensorType([.fixed(classes), a.shape[1], g.shape[1]])
    }

    static func groupedMatmulType(_ x: TensorType, _ w: TensorType, _ labels: TensorType, _ transposeWeights: Bool)
        throws(ShapeProblem) -> TensorType
    {
        try requireFloat(x, "input")
        try requireFloat(w, "weights")
        try requireIndices(labels)
        guard x.shape.rank == 2, w.shape.rank == 3 else {
            throw ShapeProblem("input \(x.shape) and weights \(w.shape); expected ranks 2 and 3 ([classes, in, out])")
        }
        let (k, n) = transposeWeights ? (w.shape[2], w.shape[1]) : (w.shape[1], w.shape[2])
        guard x.shape[1] == k else {
            throw ShapeProblem("input has \(x.shape[1]) features \(x.shape); weights \(w.shape) expect \(k)")
        }
        guard labels.shape[0] == x.shape[0] else {
            throw ShapeProblem("labels \(labels.shape) and input \(x.shape) differ in rows")
        }
        return TensorType([x.shape[0], n])
    }

    static func reduceType(_ t: TensorType, axes: [Int], keepDims: Bool) throws(ShapeProblem) -> TensorType {
        try requireFloat(t, "operand")
        guard Set(axes).count == axes.count, axes.allSatisfy({ $0 >= 0 && $0 < t.shape.rank }) else {
            throw ShapeProblem("axes \(axes) are not distinct axes of \(t.shape)")
        }
        var dims: [Dim] = []
        for (i, d) in t.shape.enumerated() {
            if axes.contains(i) {
                if keepDims { dims.append(1) }
            } else {
                dims.append(d)
            }
        }
        return TensorType(Shape(dims))
    }

    static func reshapeType(_ t: TensorType, _ target: Shape) throws(ShapeProblem) -> TensorType {
        guard t.shape.batchCount == target.batchCount, t.shape.fixedElementCount == target.fixedElementCount,
            target.allSatisfy({ ($0.fixedSize ?? 1) > 0 })
        else {
            throw ShapeProblem(
                "cannot reshape \(t.shape) (\(t.shape.fixedElementCount) elements\(t.shape.hasBatch ? " per batch item" : "")) to \(target) (\(target.fixedElementCount)\(target.hasBatch ? " per batch item" : ""))")
        }
        return TensorType(target, t.dtype)
    }

    static func sliceType(_ t: TensorType, axis: Int, start: Int, end: Int) throws(ShapeProblem) -> TensorType {
        guard axis >= 0, axis < t.shape.rank else {
            throw ShapeProblem("axis \(axis) is out of range for \(t.shape)")
        }
        guard let size = t.shape[axis].fixedSize else {
            throw ShapeProblem("cannot slice the batch axis of \(t.shape)", hint: "use gatherRows")
        }
        guard 0 <= start, start < end, end <= size else {
            throw ShapeProblem("range \(start)..<\(end) is outside axis \(axis) of \(t.shape) (size \(size))")
        }
        var dims = t.shape.dims
        dims[axis] = .fixed(end - start)
        return TensorType(Shape(dims), t.dtype)
    }

    static func concatType(_ ts: [TensorType], axis: Int) throws(ShapeProblem) -> TensorType {
        guard let first = ts.first else { throw ShapeProblem("needs at least one operand") }
        guard axis >= 0, axis < first.shape.rank else {
            throw ShapeProblem("axis \(axis) is out of range for \(first.shape)")
        }
        var total = 0
        for t in ts {
            let shapes = ts.map(\.shape.description).joined(separator: ", ")
            guard t.dtype == first.dtype, t.shape.rank == first.shape.rank,
                (0..<first.shape.rank).allSatisfy({ $0 == axis || t.shape[$0] == first.shape[$0] })
            else {
                throw ShapeProblem("shapes \(shapes) differ outside axis \(axis)")
            }
            guard let n = t.shape[axis].fixedSize else {
                throw ShapeProblem("cannot concatenate along the batch axis (\(shapes))")
            }
            total += n
        }
        var dims = first.shape.dims
        dims[axis] = .fixed(total)
        return TensorType(Shape(dims), first.dtype)
    }
}
