/// Arithmetic operators on tensors and scalars.
///
/// Swift operators cannot take the caller's `#line`, so an operator's node takes the source
/// location of its most recently made operand — or, inside `Located` (a helper forwarding its
/// caller's line), the caller's. Where the exact line matters, use the named form:
/// `a.combine(.add, b)`.
extension Tensor {
    static func binary(_ f: BinaryFunction, _ a: Tensor, _ b: Tensor) -> Tensor {
        a.builder.apply(.binary(f), [a, b], at: latestLocation(a, b))
    }

    static func binary(_ f: BinaryFunction, _ a: Tensor, _ b: Float) -> Tensor {
        let at = latestLocation(a, a)
        return a.builder.apply(.binary(f), [a, a.scalar(b, at: at)], at: at)
    }

    static func binary(_ f: BinaryFunction, _ a: Float, _ b: Tensor) -> Tensor {
        let at = latestLocation(b, b)
        return b.builder.apply(.binary(f), [b.scalar(a, at: at), b], at: at)
    }

    static func latestLocation(_ a: Tensor, _ b: Tensor) -> SourceLocation {
        let builder = a.builder
        let ids = [a, b].filter { $0.origin === builder }.compactMap(\.id)
        guard let latest = ids.max() else { return .generated }
        return builder.graph[latest].location
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { binary(.sub, a, b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { binary(.mul, a, b) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { binary(.div, a, b) }
    public static func + (a: Tensor, b: Float) -> Tensor { binary(.add, a, b) }
    public static func - (a: Tensor, b: Float) -> Tensor { binary(.sub, a, b) }
    public static func * (a: Tensor, b: Float) -> Tensor { binary(.mul, a, b) }
    public static func / (a: Tensor, b: Float) -> Tensor { binary(.div, a, b) }
    public static func + (a: Float, b: Tensor) -> Tensor { binary(.add, a, b) }
    public static func - (a: Float, b: Tensor) -> Tensor { binary(.sub, a, b) }
    public static func * (a: Float, b: Tensor) -> Tensor { binary(.mul, a, b) }
    public static func / (a: Float, b: Tensor) -> Tensor { binary(.div, a, b) }

    public static prefix func - (a: Tensor) -> Tensor {
        a.builder.apply(.unary(.neg), [a], at: latestLocation(a, a))
    }
}
