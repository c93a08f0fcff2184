/// A value in a model being built: a handle to one node of the graph.
///
/// Tensors exist only inside a `Model { … }` body. A tensor whose shape rule failed carries no
/// node; operations on it make nothing and add no second error.
public struct Tensor: Sendable {
    let builder: GraphBuilder
    /// The node this tensor stands for, or nil when an earlier shape error poisoned it.
    public let id: NodeID?

    init(builder: GraphBuilder, id: NodeID?) {
        self.builder = builder
        self.id = id
    }

    /// The static type, or nil after a shape error.
    public var type: TensorType? { id.map { builder.graph[$0].type } }

    /// The static shape (`[]` after a shape error, which the model will already report).
    public var shape: Shape { type?.shape ?? .scalar }

    /// The element type.
    public var dtype: DType { type?.dtype ?? .float32 }

    /// Rank of the shape.
    public var rank: Int { shape.rank }

    /// True when an earlier shape error made this tensor unusable.
    public var isPoisoned: Bool { id == nil }
}
