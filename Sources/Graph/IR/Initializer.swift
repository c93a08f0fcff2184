/// How a parameter gets its first value.
///
/// The paper's two rules (PAPER.md §1.5, §3.1) are here by name, so a model states the rule
/// it uses rather than a computed number.
public enum Initializer: Hashable, Sendable, CustomStringConvertible {
    case zeros
    case constant(Float)
    /// N(0, σ²).
    case normal(std: Float)
    /// U(low, high).
    case uniform(low: Float, high: Float)
    /// Georgiev's "sv-adjusted" rule: N(0, 1)·σ / (√fan_in + √fan_out), with fan_in and
    /// fan_out the last two dimensions (per-class or per-piece matrices each get their own).
    case svAdjustedNormal(sigma: Float)
    /// The literal rule of the author's Theano code for rank-3 tensors: N(0, 1)·σ /
    /// (√shape[0] + √shape[1]). Offered for fidelity; not the default (PAPER.md §1.5).
    case svAdjustedNormalLeadingDims(sigma: Float)
    /// The paper's conv rule: U(−1, 1) / √(product of all filter dimensions); a rank-5
    /// per-class filter `[classes, …]` uses one class's filter (its last four dimensions).
    case convUniform
    /// Identity affine transform (1, 0, 0, 0, 1, 0), repeated over leading dimensions:
    /// the bias of the symmetry-statistics net's last layer.
    case identityAffine

    public var description: String {
        switch self {
        case .zeros: return "zeros"
        case .constant(let v): return "constant(\(v))"
        case .normal(let s): return "normal(σ=\(s))"
        case .uniform(let a, let b): return "uniform(\(a), \(b))"
        case .svAdjustedNormal(let s): return "N(0,\(s))/(√fan_in+√fan_out)"
        case .svAdjustedNormalLeadingDims(let s): return "N(0,\(s))/(√d0+√d1)"
        case .convUniform: return "U(-1,1)/√(∏ filter dims)"
        case .identityAffine: return "identity affine"
        }
    }

    /// Why a shape cannot take this initializer, or nil when it can.
    public func problem(for shape: Shape) -> String? {
        if shape.hasBatch { return "a parameter cannot have the batch dimension" }
        switch self {
        case .svAdjustedNormal, .svAdjustedNormalLeadingDims:
            return shape.rank >= 2 || shape.rank == 1 ? nil : "needs rank ≥ 1, got a scalar"
        case .convUniform:
            return shape.rank >= 1 ? nil : "needs rank ≥ 1, got a scalar"
        case .identityAffine:
            return shape.last?.fixedSize == 6 || (shape.rank >= 2 && shape.dims.suffix(2) == [2, 3])
                ? nil : "needs the last dimension 6 or the last two [2, 3], got \(shape)"
        case .zeros, .constant, .normal, .uniform:
            return nil
        }
    }
}
