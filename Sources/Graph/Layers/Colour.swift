/// Colour symmetry statistics (the seed's open problem 3): 3×3 colour matrices that mix an
/// image's channels at every pixel, kept in SL(3, R) by the matrix exponential of a traceless
/// generator, with exact inverses and products. A matrix is `[batch, 9]`, row-major: output
/// channel i = Σⱼ m_ij · input channel j. Every piece is a composition of primitives (slices,
/// broadcast products, sums), so its gradient is the primitives' VJPs.
extension Tensor {
    /// Mixes the channels of `self [batch, C, H, W]` at every pixel by `matrix [batch, C·C]`.
    /// Linear, like the bilinear warp, so the two commute.
    public func colourTransformed(
        by matrix: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        guard !matrix.isPoisoned else { return matrix }
        return layer("colour", call: "colourTransformed(by:)") { b in
            guard rank == 4, let c = shape[1].fixedSize, let h = shape[2].fixedSize, let w = shape[3].fixedSize else {
                return b.fail(
                    "", ShapeProblem("image has shape \(shape); expected [batch, channels, height, width]"), at: at)
            }
            guard matrix.rank == 2, matrix.shape[1] == .fixed(c * c) else {
                return b.fail(
                    "", ShapeProblem("colour matrix has shape \(matrix.shape); expected [batch, \(c * c)] for \(c) channels"),
                    at: at)
            }
            return b.located(at) {
                // [B, 1, j, p] · [B, i, j, 1] summed over j → [B, i, p].
                let pixels = reshaped([shape[0], 1, .fixed(c), .fixed(h * w)])
                let mixed = (pixels * matrix.reshaped([matrix.shape[0], .fixed(c), .fixed(c), 1])).sum(axes: [2])
                return mixed.reshaped(shape)
            }
        }
    }
}

/// Row-major products `a · b` of 3×3 matrices `[batch, 9]` (either may have batch 1).
public func matrixProduct3x3(
    _ a: Tensor, _ b: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
    column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return a.layer("matrixProduct3x3", call: "matrixProduct3x3") { builder in
        guard a.rank == 2, a.shape[1] == 9, b.rank == 2, b.shape[1] == 9 else {
            return builder.fail(
                "", ShapeProblem("operands have shapes \(a.shape) and \(b.shape); expected [batch, 9] each"), at: at)
        }
        return builder.located(at) { product3x3(a, b) }
    }
}

/// [B, i, j, 1] · [B, 1, j, k] summed over j.
func product3x3(_ a: Tensor, _ b: Tensor) -> Tensor {
    let p = a.reshaped([a.shape[0], 3, 3, 1]) * b.reshaped([b.shape[0], 1, 3, 3])
    return p.sum(axes: [2]).reshaped([p.shape[0], 9])
}

/// exp(A) for traceless 3×3 matrices A given by `generator [batch, 8]` = (a11 a12 a13 a21 a22
/// a23 a31 a32), with a33 = −a11 − a22: an element of SL(3, R), since det exp(A) = e^{tr A} = 1,
/// and the identity at A = 0. Computed by scaling and squaring: a Taylor polynomial of
/// `terms` terms (Horner) at A / 2^`squarings`, squared `squarings` times. With the defaults
/// the truncation error is below float rounding for ‖A‖ ≲ 10 (‖A/16‖⁹/9! < 1e-7).
public func specialLinearExponential(
    _ generator: Tensor, squarings: Int = 4, terms: Int = 8, file: StaticString = #fileID,
    filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return generator.layer("sl3Exponential", call: "specialLinearExponential") { builder in
        guard generator.rank == 2, generator.shape[1] == 8, squarings >= 0, terms >= 1 else {
            return builder.fail(
                "", ShapeProblem("generator has shape \(generator.shape) (squarings \(squarings), terms \(terms)); expected [batch, 8], squarings ≥ 0, terms ≥ 1"),
                at: at)
        }
        return builder.located(at) {
            let g = generator * (1 / Float(1 << squarings))
            let entries = (0..<8).map { g.sliced(axis: 1, $0..<($0 + 1)) }
            let x = concat(entries + [-(entries[0] + entries[4])], axis: 1)
            let identity = constant([1, 0, 0, 0, 1, 0, 0, 0, 1]).reshaped([1, 9])
            var t = identity + x * (1 / Float(terms))
            for k in stride(from: terms - 1, through: 1, by: -1) { t = identity + product3x3(x, t) * (1 / Float(k)) }
            for _ in 0..<squarings { t = product3x3(t, t) }
            return t
        }
    }
}

/// The inverses of 3×3 matrices `[batch, 9]`: adjugate / determinant, exact up to rounding,
/// with |det| clamped to at least `minDeterminant` (sign kept) as `invertedAffine` does.
public func inverted3x3(
    _ matrix: Tensor, minDeterminant: Float = 1e-3, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return matrix.layer("invert3x3", call: "inverted3x3") { builder in
        guard matrix.rank == 2, matrix.shape[1] == 9 else {
            return builder.fail("", ShapeProblem("matrix has shape \(matrix.shape); expected [batch, 9]"), at: at)
        }
        return builder.located(at) {
            let m = (0..<9).map { matrix.sliced(axis: 1, $0..<($0 + 1)) }
            func minor(_ p: Int, _ q: Int, _ r: Int, _ s: Int) -> Tensor { m[p] * m[q] - m[r] * m[s] }
            // Cofactors of [[0 1 2] [3 4 5] [6 7 8]].
            let c11 = minor(4, 8, 5, 7), c12 = minor(5, 6, 3, 8), c13 = minor(3, 7, 4, 6)
            let c21 = minor(2, 7, 1, 8), c22 = minor(0, 8, 2, 6), c23 = minor(1, 6, 0, 7)
            let c31 = minor(1, 5, 2, 4), c32 = minor(2, 3, 0, 5), c33 = minor(0, 4, 1, 3)
            let det = m[0] * c11 + m[1] * c12 + m[2] * c13
            let adjugate = concat([c11, c21, c31, c12, c22, c32, c13, c23, c33], axis: 1)
            return adjugate / clampedAwayFromZero(det, minDeterminant)
        }
    }
}

/// `value` with |value| raised to at least `floor`, its sign kept (0 counts as positive).
func clampedAwayFromZero(_ value: Tensor, _ floor: Float) -> Tensor {
    select(value.compare(.greaterEqual, 0), value.combine(.max, floor), value.combine(.min, -floor))
}
