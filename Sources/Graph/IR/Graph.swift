/// A static computation graph: nodes in topological order (every input precedes its user),
/// named outputs, and scalar losses.
///
/// A value type: compiler passes take a graph and return a new one, never mutating their input.
public struct Graph: Hashable, Sendable {
    /// A named result of the graph.
    public struct Output: Hashable, Sendable {
        public var name: String
        public var node: NodeID
        public init(name: String, node: NodeID) {
            self.name = name
            self.node = node
        }
    }

    /// A value written back into a leaf (a parameter or optimizer variable) after each run:
    /// how a training step's optimizer update is expressed in a static graph.
    public struct Update: Hashable, Sendable {
        public var target: NodeID
        public var value: NodeID
        public init(target: NodeID, value: NodeID) {
            self.target = target
            self.value = value
        }
    }

    public var name: String
    public var nodes: [Node]
    public var outputs: [Output]
    /// Scalar loss terms; training minimises their sum.
    public var losses: [Output]
    /// Leaf updates applied after a run (empty for a model's forward graph).
    public var updates: [Update]

    public init(
        name: String, nodes: [Node] = [], outputs: [Output] = [], losses: [Output] = [], updates: [Update] = []
    ) {
        self.name = name
        self.nodes = nodes
        self.outputs = outputs
        self.losses = losses
        self.updates = updates
    }

    public subscript(id: NodeID) -> Node { nodes[id.index] }

    /// Run-time inputs, in order of creation.
    public var inputs: [Node] { nodes.filter(\.isInput) }

    /// Trainable parameters, in order of creation.
    public var parameters: [Node] { nodes.filter(\.isParameter) }

    /// Optimizer variables (not trained), in order of creation.
    public var variables: [Node] {
        nodes.filter {
            if case .variable = $0.op { return true }
            return false
        }
    }

    /// Number of trainable scalars.
    public var parameterCount: Int {
        parameters.reduce(0) { $0 + $1.shape.fixedElementCount }
    }

    /// The node with this name, if any.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// For each node, the nodes that use it (in node order; a node using a value twice appears twice).
    public func users() -> [[NodeID]] {
        var result = Array(repeating: [NodeID](), count: nodes.count)
        for node in nodes {
            for input in node.inputs { result[input.index].append(node.id) }
        }
        return result
    }

    /// Appends a node, giving it the next id, and returns that id.
    @discardableResult
    public mutating func append(
        _ op: Op, inputs: [NodeID], type: TensorType, name: String, scope: [String] = [],
        call: String = "", location: SourceLocation = .generated
    ) -> NodeID {
        let id = NodeID(nodes.count)
        nodes.append(
            Node(
                id: id, op: op, inputs: inputs, type: type, name: name, scope: scope, call: call,
                location: location))
        return id
    }
}
