import Graph

/// Appends nodes to a graph, inferring each node's type with its shape rule. Passes that make
/// nodes (autodiff, the optimizer) use it, so everything they add is type-checked as it is made.
public struct GraphEditor {
    public private(set) var graph: Graph
    /// Scope, DSL call and source location given to the nodes made next.
    public var scope: [String] = []
    public var call: String = ""
    public var location: SourceLocation = .generated
    private var nameCounts: [String: Int] = [:]

    public init(_ graph: Graph) {
        self.graph = graph
        for node in graph.nodes { nameCounts[node.name, default: 0] += 1 }
    }

    /// Adds `op` over `inputs` and returns the new node's id.
    public mutating func add(_ op: Op, _ inputs: [NodeID], name: String? = nil) throws(CompilerError) -> NodeID {
        let type: TensorType
        do {
            type = try op.inferType(inputs.map { graph[$0].type })
        } catch {
            throw CompilerError(
                "\(op.name) made for \(call.isEmpty ? "?" : call) does not type-check: \(error); operands \(inputs.map { graph[$0].type })",
                location: location)
        }
        return graph.append(
            op, inputs: inputs, type: type, name: uniqueName(name ?? op.name), scope: scope, call: call,
            location: location)
    }

    /// Adds a leaf with a declared type.
    public mutating func addLeaf(_ op: Op, type: TensorType, name: String) -> NodeID {
        graph.append(op, inputs: [], type: type, name: uniqueName(name), scope: scope, call: call, location: location)
    }

    private mutating func uniqueName(_ base: String) -> String {
        let full = (scope + [base]).joined(separator: "/")
        let count = nameCounts[full, default: 0]
        nameCounts[full] = count + 1
        return count == 0 ? full : "\(full)_\(count)"
    }

    public func type(_ id: NodeID) -> TensorType { graph[id].type }
    public func shape(_ id: NodeID) -> Shape { graph[id].shape }

    // MARK: Shorthands used by the rules

    public mutating func constant(_ value: Float) throws(CompilerError) -> NodeID { try add(.constant(value), []) }
    public mutating func unary(_ f: UnaryFunction, _ a: NodeID) throws(CompilerError) -> NodeID { try add(.unary(f), [a]) }
    public mutating func binary(_ f: BinaryFunction, _ a: NodeID, _ b: NodeID) throws(CompilerError) -> NodeID {
        try add(.binary(f), [a, b])
    }
    public mutating func mul(_ a: NodeID, _ b: NodeID) throws(CompilerError) -> NodeID { try binary(.mul, a, b) }
    public mutating func mul(_ a: NodeID, _ b: Float) throws(CompilerError) -> NodeID { try binary(.mul, a, constant(b)) }
    public mutating func add(_ a: NodeID, _ b: NodeID) throws(CompilerError) -> NodeID { try binary(.add, a, b) }
    public mutating func sub(_ a: NodeID, _ b: NodeID) throws(CompilerError) -> NodeID { try binary(.sub, a, b) }
    public mutating func div(_ a: NodeID, _ b: NodeID) throws(CompilerError) -> NodeID { try binary(.div, a, b) }
    public mutating func neg(_ a: NodeID) throws(CompilerError) -> NodeID { try unary(.neg, a) }
    public mutating func mask(_ c: Comparison, _ a: NodeID, _ b: NodeID) throws(CompilerError) -> NodeID {
        try add(.compare(c), [a, b])
    }

    /// A tensor of zeros of a shape (a broadcast scalar).
    public mutating func zeros(_ shape: Shape) throws(CompilerError) -> NodeID {
        let zero = try constant(0)
        return shape.rank == 0 ? zero : try add(.broadcast(shape), [zero])
    }

    /// Sums `g` down to `target` (the inverse of NumPy broadcasting).
    public mutating func unbroadcast(_ g: NodeID, to target: Shape) throws(CompilerError) -> NodeID {
        let source = shape(g)
        if source == target { return g }
        let lead = source.rank - target.rank
        var axes = Array(0..<max(lead, 0))
        for i in 0..<target.rank where target[i] == 1 && source[lead + i] != 1 { axes.append(lead + i) }
        var result = g
        if !axes.isEmpty { result = try add(.reduce(.sum, axes: axes, keepDims: false), [g]) }
        if shape(result) != target { result = try add(.reshape(target), [result]) }
        return result
    }

    /// Broadcasts a reduced gradient back over the reduced axes of `inputShape`.
    public mutating func expand(_ g: NodeID, axes: [Int], keepDims: Bool, to inputShape: Shape) throws(CompilerError)
        -> NodeID
    {
        var result = g
        if !keepDims {
            let kept = Shape(inputShape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element })
            result = try add(.reshape(kept), [g])
        }
        return shape(result) == inputShape ? result : try add(.broadcast(inputShape), [result])
    }

    /// The number of elements over `axes` of `shape`, as a scalar node (computed at run time
    /// when one of the axes is the batch).
    public mutating func count(axes: [Int], of inputShape: Shape) throws(CompilerError) -> NodeID {
        let fixed = axes.reduce(1) { $0 * (inputShape[$1].fixedSize ?? 1) }
        guard axes.contains(where: { inputShape[$0] == .batch }) else { return try constant(Float(fixed)) }
        let ones = try add(.broadcast([.batch]), [constant(1)])
        let batch = try add(.reduce(.sum, axes: [0], keepDims: false), [ones])
        return fixed == 1 ? batch : try mul(batch, Float(fixed))
    }
}

/// A compiler failure: a pass made or met a graph it cannot handle — with the node it concerns
/// and that node's line in the user's source, when there is one.
public struct CompilerError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The node's name (`encoder/dense_1/matmul`) and its DSL call's location.
    public var node: String?
    public var location: SourceLocation?

    public init(_ message: String, node: String? = nil, location: SourceLocation? = nil) {
        self.message = message
        self.node = node
        self.location = location
    }

    /// `File.swift:12:5: encoder/dense_1/matmul: message` (the parts that are known).
    public var description: String {
        let place = location.flatMap { $0 == .generated ? nil : "\($0): " } ?? ""
        return place + (node.map { "\($0): " } ?? "") + message
    }

    /// The same error placed at `node`, unless it already has a place.
    func located(at node: Node) -> CompilerError {
        guard self.node == nil && location == nil else { return self }
        return CompilerError(message, node: node.name, location: node.location)
    }
}
