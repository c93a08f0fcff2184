/// Kinds of ops that several passes ask about, answered in one place.
extension Op {
    /// Leaves hold values from outside the graph's computation: inputs, parameters, optimizer variables.
    public var isLeaf: Bool {
        switch self {
        case .input, .parameter, .variable: return true
        default: return false
        }
    }

    /// Views move no data: their value is their operand's memory (`reshape`, `stopGradient`).
    public var isView: Bool {
        switch self {
        case .reshape, .stopGradient: return true
        default: return false
        }
    }

    /// The name of an input, or nil for other ops.
    public var inputName: String? {
        if case .input(let name) = self { return name }
        return nil
    }
}

extension Graph {
    /// The node whose memory holds `id`'s value: `id` itself, or the operand under its views.
    public func viewRoot(_ id: NodeID) -> NodeID {
        var r = id
        while self[r].op.isView { r = self[r].inputs[0] }
        return r
    }
}
