/// A value in a model being built: a handle to one node of the graph.
///
/// Tensors exist only inside a `Model { … }` body. A tensor whose shape rule failed carries no
/// node; operations on it make nothing and add no second error.
public struct Tensor: Sendable {
    /// The builder whose graph holds the node.
    let origin: GraphBuilder
    /// The node this tensor stands for, or nil when an earlier shape error poisoned it.
    public let id: NodeID?

    init(builder: GraphBuilder, id: NodeID?) {
        self.origin = builder
        self.id = id
    }

    /// Where calls on this tensor add nodes: the model being built (so a tensor kept from
    /// another model's body is reported there, not silently added to the old graph).
    var builder: GraphBuilder { GraphBuilder.current ?? origin }

    /// The static type, or nil after a shape error.
    public var type: TensorType? { id.map { origin.graph[$0].type } }

    /// The static shape (`[]` after a shape error, which the model will already report).
    public var shape: Shape { type?.shape ?? .scalar }

    /// The element type.
    public var dtype: DType { type?.dtype ?? .float32 }

    /// Rank of the shape.
    public var rank: Int { shape.rank }

    /// True when an earlier shape error made this tensor unusable.
    public var isPoisoned: Bool { id == nil }
}
