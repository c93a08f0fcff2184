import Graph

/// The body of a fused element-wise kernel: steps over one index, read from full-size,
/// trailing-broadcast or scalar operands, with several outputs. One pass over memory computes
/// a whole chain or DAG of element-wise primitives.
public struct ElementwiseProgram: Hashable, Sendable, CustomStringConvertible {
    public enum Operand: Hashable, Sendable {
        /// Input k, with as many elements as the output.
        case full(Int)
        /// Input k, repeating along leading axes (a bias row): element i reads i mod its size.
        case suffix(Int)
        /// Input k, one element.
        case scalar(Int)
        /// Input k, repeating over blocks of `inner` elements (a per-channel bias `[C, 1, 1]` on
        /// NCHW): element i reads (i / inner) mod size.
        case blocks(Int, inner: Int, size: Int)
        /// Input k, one value per run of `inner` elements, as many runs as the output holds (a
        /// per-image channel value `[N, C, 1, 1]` on NCHW, such as a per-class layer's gathered
        /// bias): element i reads i / inner.
        case runs(Int, inner: Int)
        case constant(Float)
        /// The result of an earlier step.
        case step(Int)
    }

    public enum Step: Hashable, Sendable {
        case unary(UnaryFunction, Operand)
        case binary(BinaryFunction, Operand, Operand)
        case compare(Comparison, Operand, Operand)
        case select(Operand, Operand, Operand)
    }

    public var steps: [Step]
    /// The step whose value each output stores.
    public var outputs: [Int]

    public init(steps: [Step], outputs: [Int]) {
        self.steps = steps
        self.outputs = outputs
    }

    public var description: String {
        func name(_ o: Operand) -> String {
            switch o {
            case .full(let k): return "in\(k)"
            case .suffix(let k): return "in\(k)[i mod n]"
            case .scalar(let k): return "in\(k)[0]"
            case .blocks(let k, let inner, let size): return "in\(k)[i / \(inner) mod \(size)]"
            case .runs(let k, let inner): return "in\(k)[i / \(inner)]"
            case .constant(let v): return "\(v)"
            case .step(let s): return "t\(s)"
            }
        }
        return steps.enumerated().map { i, step in
            switch step {
            case .unary(let f, let a): return "t\(i) = \(f.rawValue)(\(name(a)))"
            case .binary(let f, let a, let b): return "t\(i) = \(f.rawValue)(\(name(a)), \(name(b)))"
            case .compare(let c, let a, let b): return "t\(i) = \(c.rawValue)(\(name(a)), \(name(b)))"
            case .select(let m, let a, let b): return "t\(i) = select(\(name(m)), \(name(a)), \(name(b)))"
            }
        }.joined(separator: "; ") + "; out = " + outputs.map { "t\($0)" }.joined(separator: ", ")
    }
}
