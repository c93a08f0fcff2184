/// Spatial-transformer pieces (PAPER.md §5): the affine grid, bilinear warping and the
/// closed-form inverse of an affine transform, all with θ mapping output → input coordinates.
extension Tensor {
    /// Samples `self [batch, C, H, W]` at `theta`'s affine grid (`[batch, 6]` or `[batch, 2, 3]`,
    /// rows (θ11 θ12 θ13), (θ21 θ22 θ23)); output size defaults to the input's. Zero outside.
    public func warped(
        by theta: Tensor, height: Int? = nil, width: Int? = nil, alignCorners: Bool = true,
        file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        guard !theta.isPoisoned else { return theta }
        return layer("warp", call: "warped(by:)") { b in
            guard rank == 4, let h = shape[2].fixedSize, let w = shape[3].fixedSize else {
                return b.fail(
                    "", ShapeProblem("image has shape \(shape); expected [batch, channels, height, width]"), at: at)
            }
            let matrix = theta.rank == 2 ? theta.apply(.reshape([theta.shape[0], 2, 3]), at: at) : theta
            let grid = matrix.apply(
                .affineGrid(height: height ?? h, width: width ?? w, alignCorners: alignCorners), at: at)
            return apply(.bilinearSample(alignCorners: alignCorners), [grid], at: at)
        }
    }
}

/// The inverse of affine transforms `theta [batch, 6]`: [A⁻¹ | −A⁻¹t] (PAPER.md §5.4), with
/// |det A| clamped to at least `minDeterminant` (sign kept) so it never divides by ~0.
public func invertedAffine(
    _ theta: Tensor, minDeterminant: Float = 1e-3, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return theta.layer("invertAffine", call: "invertedAffine") { b in
        guard theta.rank == 2, theta.shape[1] == 6 else {
            return b.fail("", ShapeProblem("theta has shape \(theta.shape); expected [batch, 6]"), at: at)
        }
        func column(_ i: Int) -> Tensor { theta.apply(.slice(axis: 1, start: i, end: i + 1), at: at) }
        func mul(_ x: Tensor, _ y: Tensor) -> Tensor { x.apply(.binary(.mul), [y], at: at) }
        func sub(_ x: Tensor, _ y: Tensor) -> Tensor { x.apply(.binary(.sub), [y], at: at) }
        let (a, bb, e, c, d, f) = (column(0), column(1), column(2), column(3), column(4), column(5))
        let det = sub(mul(a, d), mul(bb, c))
        let clamped = b.located(at) { clampedAwayFromZero(det, minDeterminant) }
        let neg = { (x: Tensor) in x.apply(.unary(.neg), at: at) }
        let entries = [d, neg(bb), sub(mul(bb, f), mul(d, e)), neg(c), a, sub(mul(c, e), mul(a, f))]
        let joined = b.apply(.concat(axis: 1), entries, at: at)
        return joined.apply(.binary(.div), [clamped], at: at)
    }
}

/// Composes affine transforms `[batch, 6]` as 3×3 homogeneous matrices: `first ∘ second`, i.e.
/// the transform that applies `second` then `first` to a point (PAPER.md §5.5).
public func composedAffine(
    _ first: Tensor, _ second: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return first.layer("composeAffine", call: "composedAffine") { b in
        guard first.rank == 2, first.shape[1] == 6, second.rank == 2, second.shape[1] == 6 else {
            return b.fail(
                "", ShapeProblem("operands have shapes \(first.shape) and \(second.shape); expected [batch, 6] each"),
                at: at)
        }
        func col(_ t: Tensor, _ i: Int) -> Tensor { t.apply(.slice(axis: 1, start: i, end: i + 1), at: at) }
        func madd(_ terms: [(Tensor, Tensor)], plus: Tensor? = nil) -> Tensor {
            var sum = plus
            for (x, y) in terms {
                let p = x.apply(.binary(.mul), [y], at: at)
                sum = sum.map { $0.apply(.binary(.add), [p], at: at) } ?? p
            }
            return sum!
        }
        // first = [[p0 p1 p2] [p3 p4 p5]], second = [[q0 q1 q2] [q3 q4 q5]].
        let p = (0..<6).map { col(first, $0) }
        let q = (0..<6).map { col(second, $0) }
        let entries = [
            madd([(p[0], q[0]), (p[1], q[3])]), madd([(p[0], q[1]), (p[1], q[4])]),
            madd([(p[0], q[2]), (p[1], q[5])], plus: p[2]),
            madd([(p[3], q[0]), (p[4], q[3])]), madd([(p[3], q[1]), (p[4], q[4])]),
            madd([(p[3], q[2]), (p[4], q[5])], plus: p[5]),
        ]
        return b.apply(.concat(axis: 1), entries, at: at)
    }
}
