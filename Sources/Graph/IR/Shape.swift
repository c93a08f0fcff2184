/// One dimension of a tensor shape: a fixed size, or the symbolic batch size.
///
/// Shapes are static except `batch`; a plan is specialised for a concrete batch later.
public enum Dim: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    case batch
    case fixed(Int)

    public init(integerLiteral value: Int) { self = .fixed(value) }

    /// The size for a concrete batch size.
    public func resolved(batch: Int) -> Int {
        switch self {
        case .batch: return batch
        case .fixed(let n): return n
        }
    }

    /// The fixed size, or nil for `batch`.
    public var fixedSize: Int? {
        if case .fixed(let n) = self { return n }
        return nil
    }

    public var description: String {
        switch self {
        case .batch: return "batch"
        case .fixed(let n): return String(n)
        }
    }
}

/// The shape of a tensor: an ordered list of dimensions, outermost first (NCHW for images).
public struct Shape: Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible,
    RandomAccessCollection
{
    public var dims: [Dim]

    public init(_ dims: [Dim]) { self.dims = dims }
    public init(arrayLiteral elements: Dim...) { self.dims = elements }

    /// The shape of a scalar.
    public static let scalar = Shape([])

    public var rank: Int { dims.count }
    public var startIndex: Int { dims.startIndex }
    public var endIndex: Int { dims.endIndex }
    public subscript(position: Int) -> Dim { dims[position] }

    /// True when one of the dimensions is the symbolic batch.
    public var hasBatch: Bool { dims.contains(.batch) }

    /// Number of `batch` dimensions.
    public var batchCount: Int { dims.filter { $0 == .batch }.count }

    /// Product of the fixed dimensions (the element count per batch item when one dim is `batch`).
    public var fixedElementCount: Int {
        dims.reduce(1) { $0 * ($1.fixedSize ?? 1) }
    }

    /// Concrete dimensions for a batch size.
    public func resolved(batch: Int) -> [Int] { dims.map { $0.resolved(batch: batch) } }

    /// Number of elements for a batch size.
    /// Without an array: inputs are counted at every step (`Executor.setInput`).
    public func elementCount(batch: Int) -> Int { dims.reduce(1) { $0 * $1.resolved(batch: batch) } }

    public var description: String { "[" + dims.map(\.description).joined(separator: ", ") + "]" }
}

/// Element type of a tensor.
public enum DType: String, Hashable, Sendable, CustomStringConvertible {
    case float32
    case int32

    /// Size of one element in bytes.
    public var byteSize: Int { 4 }

    /// Short name used in DOT labels and summaries.
    public var shortName: String {
        switch self {
        case .float32: return "f32"
        case .int32: return "i32"
        }
    }

    public var description: String { rawValue }
}

/// The static type of a value in the graph: its shape and element type.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var shape: Shape
    public var dtype: DType

    public init(_ shape: Shape, _ dtype: DType = .float32) {
        self.shape = shape
        self.dtype = dtype
    }

    public var description: String {
        dtype == .float32 ? shape.description : "\(shape) \(dtype)"
    }
}

extension Shape {
    /// The highest rank Gauge's kernels take (their strides and offsets are held inline).
    public static let maxRank = 8

    /// What is wrong with a shape given by hand (an input, a parameter, random numbers): sizes
    /// that are not positive, more than one batch dimension, or a rank above the limit.
    public var declarationProblem: ShapeProblem? {
        if batchCount > 1 || contains(where: { ($0.fixedSize ?? 1) <= 0 }) {
            return ShapeProblem("shape \(self) needs positive sizes and at most one batch dimension")
        }
        return rank > Self.maxRank ? Self.rankProblem(self) : nil
    }

    public static func rankProblem(_ shape: Shape) -> ShapeProblem {
        ShapeProblem("shape \(shape) has rank \(shape.rank), above Gauge's limit of \(maxRank)", hint: "merge dimensions with reshape")
    }
}
