/// One DSL method per primitive. Each records the caller's source location (Swift's magic
/// literals as default arguments), so a shape error points at the user's line.
extension Tensor {
    func apply(
        _ op: Op, _ others: [Tensor] = [], call: String? = nil, name: String? = nil, at location: SourceLocation
    ) -> Tensor {
        builder.apply(op, [self] + others, call: call, name: name, at: location)
    }

    func scalar(_ value: Float, at location: SourceLocation) -> Tensor {
        builder.apply(.constant(value), [], name: "constant", at: location)
    }

    /// Normalises a possibly negative axis; nil when out of range.
    func axis(_ a: Int) -> Int? {
        let n = a < 0 ? a + rank : a
        return n >= 0 && n < rank ? n : nil
    }

    // MARK: Element-wise

    /// An element-wise function of one argument.
    public func map(
        _ f: UnaryFunction, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.unary(f), at: SourceLocation(file, filePath, line, column))
    }

    public func neg(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.neg, file: file, filePath: filePath, line: line, column: column) }
    public func exp(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.exp, file: file, filePath: filePath, line: line, column: column) }
    public func log(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.log, file: file, filePath: filePath, line: line, column: column) }
    public func tanh(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.tanh, file: file, filePath: filePath, line: line, column: column) }
    public func sigmoid(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.sigmoid, file: file, filePath: filePath, line: line, column: column) }
    public func relu(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.relu, file: file, filePath: filePath, line: line, column: column) }
    public func softplus(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.softplus, file: file, filePath: filePath, line: line, column: column) }
    public func abs(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.abs, file: file, filePath: filePath, line: line, column: column) }
    public func sqrt(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.sqrt, file: file, filePath: filePath, line: line, column: column) }
    public func square(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { map(.square, file: file, filePath: filePath, line: line, column: column) }

    /// An element-wise function of two arguments, with NumPy broadcasting.
    public func combine(
        _ f: BinaryFunction, _ other: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(.binary(f), [other], at: SourceLocation(file, filePath, line, column))
    }

    /// The same with a scalar right operand.
    public func combine(
        _ f: BinaryFunction, _ value: Float, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        return apply(.binary(f), [scalar(value, at: at)], at: at)
    }

    /// An element-wise comparison giving a float mask of 0s and 1s.
    public func compare(
        _ c: Comparison, _ other: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(.compare(c), [other], at: SourceLocation(file, filePath, line, column))
    }

    /// The same with a scalar right operand.
    public func compare(
        _ c: Comparison, _ value: Float, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        return apply(.compare(c), [scalar(value, at: at)], at: at)
    }

    // MARK: Linear algebra

    /// `self · other` on rank-2 tensors, each optionally transposed.
    public func matmul(
        _ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false, file: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(
            .matmul(transposeA: transposeSelf, transposeB: transposeOther), [other],
            at: SourceLocation(file, filePath, line, column))
    }

    /// Row `b` times `weights[labels[b]]`: `self [B, K]`, `weights [C, K, N]`, `labels [B] int32` → `[B, N]`
    /// (with `transposeWeights`, `weights [C, N, K]` and `weights[labels[b]]ᵀ`).
    public func groupedMatmul(
        _ weights: Tensor, labels: Tensor, transposeWeights: Bool = false, file: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(
            .groupedMatmul(transposeWeights: transposeWeights), [weights, labels],
            at: SourceLocation(file, filePath, line, column))
    }

    // MARK: Reductions

    /// Reduces over `axes` (all axes when nil; negative axes count from the end).
    public func reduce(
        _ r: Reduction, axes: [Int]? = nil, keepDims: Bool = false, file: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        let normalized = (axes ?? Array(0..<rank)).map { axis($0) ?? Int.min }
        if normalized.contains(Int.min), !isPoisoned {
            return builder.fail(
                r.rawValue, ShapeProblem("axes \(axes ?? []) are out of range for \(shape)"), at: at)
        }
        return apply(.reduce(r, axes: normalized, keepDims: keepDims), call: r.rawValue, at: at)
    }

    public func sum(axes: [Int]? = nil, keepDims: Bool = false, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { reduce(.sum, axes: axes, keepDims: keepDims, file: file, filePath: filePath, line: line, column: column) }
    public func mean(axes: [Int]? = nil, keepDims: Bool = false, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { reduce(.mean, axes: axes, keepDims: keepDims, file: file, filePath: filePath, line: line, column: column) }
    public func max(axes: [Int]? = nil, keepDims: Bool = false, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Tensor { reduce(.max, axes: axes, keepDims: keepDims, file: file, filePath: filePath, line: line, column: column) }

    /// Log-softmax along `axis` (default: the last).
    public func logSoftmax(
        axis a: Int = -1, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.logSoftmax(axis: axis(a) ?? a), at: SourceLocation(file, filePath, line, column))
    }

    // MARK: Layout

    public func reshaped(
        _ target: Shape, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.reshape(target), call: "reshaped(\(target))", at: SourceLocation(file, filePath, line, column))
    }

    /// Keeps the first axis and flattens the rest: `[batch, 3, 32, 32]` → `[batch, 3072]`.
    public func flattened(
        file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        guard let first = shape.first else {
            return isPoisoned ? self : builder.fail("flattened()", ShapeProblem("cannot flatten a scalar"), at: at)
        }
        let rest = Shape(Array(shape.dropFirst())).fixedElementCount
        return apply(.reshape([first, .fixed(rest)]), call: "flattened()", at: at)
    }

    public func transposed(
        _ permutation: [Int], file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.transpose(permutation: permutation), at: SourceLocation(file, filePath, line, column))
    }

    public func broadcast(
        to target: Shape, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.broadcast(target), at: SourceLocation(file, filePath, line, column))
    }

    /// Elements `range` along `axis`.
    public func sliced(
        axis a: Int, _ range: Range<Int>, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(
            .slice(axis: axis(a) ?? a, start: range.lowerBound, end: range.upperBound),
            at: SourceLocation(file, filePath, line, column))
    }

    /// Rows of `self` picked by `indices [M] int32`.
    public func gatherRows(
        _ indices: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.gatherRows, [indices], at: SourceLocation(file, filePath, line, column))
    }

    /// Sums row `i` of `self` into row `indices[i]` of a `[rows, …]` result.
    public func scatterAddRows(
        _ indices: Tensor, rows: Int, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(.scatterAddRows(rows: rows), [indices], at: SourceLocation(file, filePath, line, column))
    }

    /// `[M] int32` labels → `[M, classes]` float one-hot rows.
    public func oneHot(
        _ classes: Int, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.oneHot(classes: classes), at: SourceLocation(file, filePath, line, column))
    }

    // MARK: Randomness and gradients

    /// Zeroes each element with probability `rate` (scaling the rest), as in training.
    public func dropout(
        _ rate: Float, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        apply(.dropout(rate: rate, stream: builder.newStream()), at: SourceLocation(file, filePath, line, column))
    }

    /// The same values, with no gradient flowing back.
    public func stopGradient(
        file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(.stopGradient, at: SourceLocation(file, filePath, line, column))
    }
}

/// `mask ≠ 0 ? a : b`, element-wise with broadcasting.
public func select(
    _ mask: Tensor, _ a: Tensor, _ b: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    mask.apply(.select, [a, b], at: SourceLocation(file, filePath, line, column))
}

/// Joins tensors along `axis`.
public func concat(
    _ tensors: [Tensor], axis: Int, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let builder = GraphBuilder.active("concat")
    let at = SourceLocation(file, filePath, line, column)
    guard let first = tensors.first else { return builder.fail("concat", ShapeProblem("needs at least one tensor"), at: at) }
    return builder.apply(.concat(axis: first.axis(axis) ?? axis), tensors, at: at)
}

/// Random numbers of a shape, from a counter-based generator (a fresh stream per call).
public func random(
    _ distribution: Distribution, _ shape: Shape, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let builder = GraphBuilder.active("random")
    return builder.apply(
        .random(distribution, shape: shape, stream: builder.newStream()), [],
        at: SourceLocation(file, filePath, line, column))
}

/// A scalar constant.
public func constant(
    _ value: Float, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
    column: UInt = #column
) -> Tensor {
    GraphBuilder.active("constant").apply(.constant(value), [], at: SourceLocation(file, filePath, line, column))
}

/// A constant vector `[values.count]`, one scalar constant per value joined along axis 0 (a
/// fixed pose or matrix: the identity affine transform `[1, 0, 0, 0, 1, 0]`).
public func constant(
    _ values: [Float], file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
    column: UInt = #column
) -> Tensor {
    concat(
        values.map {
            constant($0, file: file, filePath: filePath, line: line, column: column)
                .reshaped([1], file: file, filePath: filePath, line: line, column: column)
        }, axis: 0, file: file, filePath: filePath, line: line, column: column)
}
