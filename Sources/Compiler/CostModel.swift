import Graph

/// Counts forward floating-point operations, for summaries and GFLOP/s figures.
///
/// A multiply-add counts 2 (GEMMs and convolutions: 2·M·K·N); every other element-wise op
/// counts 1 per output element, whatever its cost in cycles; pure data movement (reshape,
/// transpose, slice, concat, gather) counts 0.
public enum CostModel {
    /// FLOPs of one node for a concrete batch size.
    public static func flops(_ node: Node, in graph: Graph, batch: Int) -> Int {
        let out = node.shape.elementCount(batch: batch)
        func operand(_ i: Int) -> [Int] { graph[node.inputs[i]].shape.resolved(batch: batch) }
        switch node.op {
        case .input, .parameter, .variable, .constant, .reshape, .transpose, .broadcast, .slice, .concat, .gatherRows,
            .oneHot, .stopGradient:
            return 0
        case .matmul(let ta, _):
            let a = operand(0)
            return 2 * out * (ta ? a[0] : a[1])
        case .groupedMatmul:
            return 2 * out * operand(0)[1]
        case .groupedMatmulWeightGrad:
            return 2 * operand(0).reduce(1, *) * operand(1)[1]
        case .conv2dFilterGrad:
            let filter = node.shape.dims.suffix(3).compactMap(\.fixedSize)  // C, kh, kw (per class)
            return 2 * graph[node.inputs[1]].shape.elementCount(batch: batch) * filter.reduce(1, *)
        case .maxPoolGrad(let window, _):
            return graph[node.inputs[1]].shape.elementCount(batch: batch) * window * window
        case .affineGridGrad:
            return graph[node.inputs[0]].shape.elementCount(batch: batch) * 3
        case .bilinearSampleImageGrad:
            return graph[node.inputs[1]].shape.elementCount(batch: batch) * 8
        case .bilinearSampleGridGrad:
            return graph[node.inputs[2]].shape.elementCount(batch: batch) * 12
        case .unary, .binary, .compare, .select, .random, .dropout:
            return out
        case .reduce, .scatterAddRows:
            return graph[node.inputs[0]].shape.elementCount(batch: batch)
        case .logSoftmax:
            return 3 * out
        case .conv2d:
            let f = operand(1).suffix(3)  // C, kh, kw (per class when grouped)
            return 2 * out * f.reduce(1, *)
        case .transposedConv2d:
            let f = operand(1).suffix(3)  // O, kh, kw
            return 2 * graph[node.inputs[0]].shape.elementCount(batch: batch) * f.reduce(1, *)
        case .maxPool(let window, _):
            return out * window * window
        case .affineGrid:
            return out * 3
        case .bilinearSample:
            return out * 8
        }
    }

    /// Total forward FLOPs of a graph for a batch size.
    public static func flops(of graph: Graph, batch: Int) -> Int {
        graph.nodes.reduce(0) { $0 + flops($1, in: graph, batch: batch) }
    }
}
