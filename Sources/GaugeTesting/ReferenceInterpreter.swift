import Graph

/// A Float64 tensor of the reference interpreter: row-major values and their concrete sizes.
public struct ReferenceTensor: Sendable, Equatable {
    public var dims: [Int]
    public var values: [Double]

    public init(_ dims: [Int], _ values: [Double]) {
        self.dims = dims
        self.values = values
    }

    public init(zeros dims: [Int]) { self.init(dims, [Double](repeating: 0, count: dims.reduce(1, *))) }

    /// Row-major strides of `dims`.
    static func strides(_ dims: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        for axis in stride(from: dims.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * dims[axis + 1] }
        return strides
    }
}

/// Why the reference interpreter could not evaluate a graph: the node (name and source
/// location) and what was wrong.
public struct ReferenceError: Error, CustomStringConvertible, Equatable {
    public var node: String
    public var location: SourceLocation
    public var message: String

    public var description: String { "\(location): \(node): \(message)" }
}

/// An independent evaluator of Gauge graphs for tests: every primitive written again from its
/// definition (the doc comments of `Op`, the shape rules), in Float64, with plain loops, none of
/// the runtime's kernels, no fusion, no memory planning. What the runtime computes in Float32
/// with its optimised kernels after every compiler pass should agree with it to Float32
/// rounding; the gradients it computes from the autodiff graph should agree with its own
/// central differences to Float64 rounding.
///
/// ```swift
/// let reference = ReferenceInterpreter(graph, batch: 2, seed: 5)
/// let results = try reference.results(leaves)   // "output NAME" / "updated NAME" → values
/// ```
///
/// Leaves are given by name: inputs by their input name, parameters and optimizer variables by
/// node name. Random nodes and dropout draw the same Philox 4×32-10 numbers as the runtime —
/// the counter-based generator is part of their definition — from `seed` and `step`.
public struct ReferenceInterpreter: Sendable {
    public let graph: Graph
    public let batch: Int
    public let seed: UInt64
    public let step: UInt64
    /// Rounds every node's values to Float32 (the operations stay in Float64): how far apart
    /// rounding alone puts two evaluations, to tell it from a wrong rule.
    public var roundsToFloat32 = false

    public init(_ graph: Graph, batch: Int, seed: UInt64 = 0, step: UInt64 = 0, roundsToFloat32: Bool = false) {
        self.graph = graph
        self.batch = batch
        self.seed = seed
        self.step = step
        self.roundsToFloat32 = roundsToFloat32
    }

    /// The graph's outputs and losses (keyed `output NAME`) and its updates' new values (keyed
    /// `updated NAME` by the updated leaf), in Float64.
    public func results(_ leaves: [String: [Double]]) throws(ReferenceError) -> [String: [Double]] {
        let values = try evaluate(leaves)
        var result: [String: [Double]] = [:]
        for o in graph.outputs + graph.losses { result["output " + o.name] = values[o.node]!.values }
        for u in graph.updates { result["updated " + graph[u.target].name] = values[u.value]!.values }
        return result
    }

    /// Every value the outputs, losses and updates need; values no later node uses are dropped
    /// as the evaluation passes them, except the requested ones.
    public func evaluate(_ leaves: [String: [Double]]) throws(ReferenceError) -> [NodeID: ReferenceTensor] {
        let wanted = Set(graph.outputs.map(\.node) + graph.losses.map(\.node) + graph.updates.map(\.value))
        var needed = [Bool](repeating: false, count: graph.nodes.count)
        var lastUse = [Int](repeating: -1, count: graph.nodes.count)
        for id in wanted { needed[id.index] = true }
        for node in graph.nodes.reversed() where needed[node.id.index] {
            for input in node.inputs {
                needed[input.index] = true
                lastUse[input.index] = max(lastUse[input.index], node.id.index)
            }
        }
        var values: [NodeID: ReferenceTensor] = [:]
        for node in graph.nodes where needed[node.id.index] {
            let operands = node.inputs.map { values[$0]! }
            let dims = node.shape.resolved(batch: batch)
            var value = try evaluate(node, operands, dims, leaves)
            if roundsToFloat32 { value.values = value.values.map { Double(Float($0)) } }
            guard value.dims == dims, value.values.count == dims.reduce(1, *) else {
                throw error(node, "the reference made \(value.dims) for the type \(dims)")
            }
            values[node.id] = value
            for input in node.inputs where lastUse[input.index] == node.id.index && !wanted.contains(input) {
                values[input] = nil
            }
        }
        return values
    }

    func error(_ node: Node, _ message: String) -> ReferenceError {
        ReferenceError(node: node.name, location: node.location, message: message)
    }

    /// One node's value from its operands' (`dims`: its type's sizes at this batch).
    func evaluate(_ node: Node, _ x: [ReferenceTensor], _ dims: [Int], _ leaves: [String: [Double]]) throws(ReferenceError)
        -> ReferenceTensor
    {
        switch node.op {
        case .input(let name): return try leaf(node, name, dims, leaves)
        case .parameter, .variable: return try leaf(node, node.name, dims, leaves)
        case .constant(let c): return ReferenceTensor([], [Double(c)])
        case .matmul(let ta, let tb): return Reference.matmul(x[0], x[1], ta, tb)
        case .groupedMatmul(let transposed): return try labelled(node) { try Reference.groupedMatmul(x[0], x[1], x[2], transposed) }
        case .groupedMatmulWeightGrad(let classes):
            return try labelled(node) { try Reference.groupedMatmulWeightGrad(x[0], x[1], x[2], classes) }
        case .unary(let f): return Reference.map(x[0]) { Reference.apply(f, $0) }
        case .binary(let f): return Reference.zip(dims, x) { Reference.apply(f, $0[0], $0[1]) }
        case .compare(let c): return Reference.zip(dims, x) { Reference.apply(c, $0[0], $0[1]) ? 1 : 0 }
        case .select: return Reference.zip(dims, x) { $0[0] != 0 ? $0[1] : $0[2] }
        case .reduce(let r, let axes, _): return Reference.reduce(x[0], r, axes: axes, dims)
        case .reshape: return ReferenceTensor(dims, x[0].values)
        case .transpose(let permutation): return Reference.transpose(x[0], permutation)
        case .broadcast: return Reference.zip(dims, x) { $0[0] }
        case .slice(let axis, let start, let end): return Reference.slice(x[0], axis: axis, start: start, end: end)
        case .concat(let axis): return Reference.concat(x, axis: axis)
        case .gatherRows: return try labelled(node) { try Reference.gatherRows(x[0], x[1]) }
        case .scatterAddRows(let rows): return try labelled(node) { try Reference.scatterAddRows(x[0], x[1], rows: rows) }
        case .oneHot(let classes): return try labelled(node) { try Reference.oneHot(x[0], classes: classes) }
        case .logSoftmax(let axis): return Reference.logSoftmax(x[0], axis: axis)
        case .conv2d(let stride, let padding, let classes):
            return try labelled(node) { try Reference.conv2d(x, stride: stride, padding: padding, classes: classes) }
        case .transposedConv2d(let stride, let padding, let height, let width, let classes):
            return try labelled(node) {
                try Reference.transposedConv2d(x, stride: stride, padding: padding, size: (height, width), classes: classes)
            }
        case .conv2dFilterGrad(let stride, let padding, let kh, let kw, let classes):
            return try labelled(node) {
                try Reference.conv2dFilterGrad(x, stride: stride, padding: padding, kernel: (kh, kw), classes: classes)
            }
        case .maxPool(let window, let stride): return Reference.maxPool(x[0], window: window, stride: stride, dims)
        case .maxPoolGrad(let window, let stride): return Reference.maxPoolGrad(x[0], x[1], window: window, stride: stride)
        case .affineGrid(let height, let width, let align): return Reference.affineGrid(x[0], height, width, align)
        case .affineGridGrad(let align): return Reference.affineGridGrad(x[0], align)
        case .bilinearSample(let align): return Reference.bilinearSample(x[0], x[1], align)
        case .bilinearSampleImageGrad(let align, let height, let width):
            return Reference.bilinearSampleImageGrad(x[0], x[1], align, height, width)
        case .bilinearSampleGridGrad(let align): return Reference.bilinearSampleGridGrad(x[0], x[1], x[2], align)
        case .random(let distribution, _, let stream):
            return ReferenceTensor(dims, ReferencePhilox(seed: seed).draw(distribution, step: step, stream: stream, count: dims.reduce(1, *)))
        case .dropout(let rate, let stream): return Reference.dropout(x[0], rate: rate, ReferencePhilox(seed: seed), step: step, stream: stream)
        case .stopGradient: return x[0]
        }
    }

    func leaf(_ node: Node, _ name: String, _ dims: [Int], _ leaves: [String: [Double]]) throws(ReferenceError) -> ReferenceTensor {
        guard let values = leaves[name] else { throw error(node, "no value was given for the leaf '\(name)'") }
        guard values.count == dims.reduce(1, *) else {
            throw error(node, "'\(name)' needs \(dims.reduce(1, *)) values for \(dims); \(values.count) were given")
        }
        return ReferenceTensor(dims, values)
    }

    /// Runs an op that reads indices, turning a bad index into a located error.
    func labelled(_ node: Node, _ body: () throws -> ReferenceTensor) throws(ReferenceError) -> ReferenceTensor {
        do {
            return try body()
        } catch let bad as Reference.BadIndex {
            throw self.error(node, "index \(bad.value) is outside 0..<\(bad.limit)")
        } catch {
            throw self.error(node, "\(error)")
        }
    }
}
