import Graph

/// A graph specialised for one batch size, as a list of kernel calls over numbered buffers.
///
/// This first planner gives every value its own buffer; `reshape` and `stopGradient` share their
/// operand's buffer (they move no data). Memory planning into one arena replaces it later.
public struct Plan: Sendable {
    /// One storage area: its element count and type.
    public struct Buffer: Hashable, Sendable {
        public var elements: Int
        public var dtype: DType
    }

    /// One kernel call: the node it computes, operand buffers and shapes, result buffer and shape.
    public struct Instruction: Sendable {
        public var node: NodeID
        public var op: Op
        public var inputs: [Int]
        public var inputShapes: [[Int]]
        public var output: Int
        public var outputShape: [Int]
    }

    public var graph: Graph
    public var batch: Int
    public var buffers: [Buffer]
    public var instructions: [Instruction]
    /// Buffer of each node.
    public var bufferOf: [Int]

    /// Plans `graph` for `batch`: one buffer per value, reshapes and stop-gradients aliased.
    public init(_ graph: Graph, batch: Int) {
        self.graph = graph
        self.batch = batch
        buffers = []
        instructions = []
        bufferOf = []
        for node in graph.nodes {
            let shape = node.shape.resolved(batch: batch)
            switch node.op {
            case .reshape, .stopGradient:
                bufferOf.append(bufferOf[node.inputs[0].index])
                continue
            default:
                bufferOf.append(buffers.count)
                buffers.append(Buffer(elements: shape.reduce(1, *), dtype: node.dtype))
            }
            switch node.op {
            case .input, .parameter, .variable: continue
            default: break
            }
            instructions.append(
                Instruction(
                    node: node.id, op: node.op, inputs: node.inputs.map { bufferOf[$0.index] },
                    inputShapes: node.inputs.map { graph[$0].shape.resolved(batch: batch) },
                    output: bufferOf[node.id.index], outputShape: shape))
        }
    }

    /// The buffer of a named input.
    public func inputBuffer(_ name: String) -> Int? {
        graph.nodes.first { $0.op == .input(name: name) }.map { bufferOf[$0.id.index] }
    }
}
