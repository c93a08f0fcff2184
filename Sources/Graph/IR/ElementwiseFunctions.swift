import Foundation

// Each element-wise function's value on one float: the one Swift statement of its formula.
// Constant folding (`Simplify.fold`) computes with these; the runtime's Swift kernels and fused
// programs run them (each call site names its function, so the switch folds away); the C vector
// versions of exp, log, tanh, sigmoid and softplus (`CKernels/VectorMath.c`, whose scalar
// fallbacks are these formulas in C) are tested against them (`VectorMathTests`).

extension UnaryFunction {
    /// f(x). Sigmoid as 1/(1 + e^−x) for x ≥ 0 and eˣ/(1 + eˣ) below (no overflow, full relative
    /// accuracy in the tail); softplus as max(x, 0) + log1p(e^−|x|).
    @inlinable @inline(__always)
    public func value(_ x: Float) -> Float {
        switch self {
        case .neg: return -x
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid:
            if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
            let e = Foundation.exp(x)
            return e / (1 + e)
        case .relu: return Swift.max(x, 0)
        case .softplus: return Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
        case .abs: return Swift.abs(x)
        case .sqrt: return x.squareRoot()
        case .square: return x * x
        }
    }
}

extension BinaryFunction {
    /// f(a, b).
    @inlinable @inline(__always)
    public func value(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        case .max: return Swift.max(a, b)
        case .min: return Swift.min(a, b)
        case .pow: return Foundation.pow(a, b)
        }
    }
}

extension Comparison {
    /// Whether `a c b` holds (the mask's 1).
    @inlinable @inline(__always)
    public func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .less: return a < b
        case .lessEqual: return a <= b
        case .greater: return a > b
        case .greaterEqual: return a >= b
        case .equal: return a == b
        case .notEqual: return a != b
        }
    }
}
