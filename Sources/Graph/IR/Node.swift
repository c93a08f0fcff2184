/// Identifies a node within its graph: its index in `Graph.nodes`.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.index < b.index }
    public var description: String { "%\(index)" }
}

/// One value in the graph: a primitive applied to earlier nodes (SSA: defined once).
public struct Node: Hashable, Sendable {
    public var id: NodeID
    public var op: Op
    public var inputs: [NodeID]
    /// Shape and element type of the value this node produces.
    public var type: TensorType
    /// Unique name within the graph, scope-qualified (`ssn/dense_1/matmul`).
    public var name: String
    /// Enclosing named scopes, outermost first (`["ace", "ssn"]`).
    public var scope: [String]
    /// The DSL call that made the node (`dense(128)`); a layer's primitives share it.
    public var call: String
    /// Where the DSL call is in the user's source.
    public var location: SourceLocation

    public init(
        id: NodeID, op: Op, inputs: [NodeID], type: TensorType, name: String,
        scope: [String] = [], call: String = "", location: SourceLocation = .generated
    ) {
        self.id = id
        self.op = op
        self.inputs = inputs
        self.type = type
        self.name = name
        self.scope = scope
        self.call = call.isEmpty ? op.name : call
        self.location = location
    }

    public var shape: Shape { type.shape }
    public var dtype: DType { type.dtype }

    /// True for trainable parameters.
    public var isParameter: Bool {
        if case .parameter = op { return true }
        return false
    }

    /// The scope path, its scopes joined by "/" and cut at each "/" (the optimizer's scope
    /// `decoder/denseByClass/weight` inside `adam` gives adam, decoder, denseByClass, weight).
    public var scopePath: [Substring] { scope.joined(separator: "/").split(separator: "/") }

    /// True for values fed at run time.
    public var isInput: Bool {
        if case .input = op { return true }
        return false
    }
}
