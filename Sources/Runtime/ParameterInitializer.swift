#if canImport(Glibc)
    import Glibc
#endif
import Graph

/// First values of parameters, by their initializer, reproducibly from a seed: parameter k
/// draws from Philox stream `k` at step 0, so its values do not depend on the others (random
/// nodes draw from streams with `RandomKernels.nodeStreams` set, so never the same uniforms).
enum ParameterInitializer {
    /// Initialises every parameter of `graph` (the k-th from stream k) and zeroes every variable.
    static func initialize(_ graph: Graph, seed: UInt64, memory: (NodeID) -> UnsafeMutablePointer<Float>) {
        var stream = 0
        for node in graph.nodes {
            if case .parameter(_, let initializer) = node.op {
                fill(initializer, shape: node.shape.resolved(batch: 1), seed: seed, stream: stream, memory(node.id))
                stream += 1
            } else if case .variable = node.op {
                memory(node.id).update(repeating: 0, count: node.shape.fixedElementCount)
            }
        }
    }

    static func fill(
        _ initializer: Initializer, shape: [Int], seed: UInt64, stream: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        let n = shape.reduce(1, *)
        func normal(_ scale: Float) {
            RandomKernels.fill(.normal, seed: seed, step: 0, stream: stream, out, n)
            for i in 0..<n { out[i] *= scale }
        }
        func fans(_ a: Int, _ b: Int) -> Float { 1 / (sqrtf(Float(a)) + sqrtf(Float(b))) }
        switch initializer {
        case .zeros: out.update(repeating: 0, count: n)
        case .constant(let v): out.update(repeating: v, count: n)
        case .normal(let std): normal(std)
        case .uniform(let low, let high):
            RandomKernels.fill(.uniform, seed: seed, step: 0, stream: stream, out, n)
            for i in 0..<n { out[i] = low + (high - low) * out[i] }
        case .svAdjustedNormal(let sigma):
            // Each trailing matrix [fan_in, fan_out]; rank 1 uses σ/√n (the author's rule).
            normal(shape.count >= 2 ? sigma * fans(shape[shape.count - 2], shape[shape.count - 1]) : sigma / sqrtf(Float(n)))
        case .svAdjustedNormalLeadingDims(let sigma):
            normal(shape.count >= 2 ? sigma * fans(shape[0], shape[1]) : sigma / sqrtf(Float(n)))
        case .convUniform:
            RandomKernels.fill(.uniform, seed: seed, step: 0, stream: stream, out, n)
            // One filter's size: per-class filters [classes, a, b, kh, kw] each get their own.
            let scale = 1 / sqrtf(Float(shape.suffix(4).reduce(1, *)))
            for i in 0..<n { out[i] = (2 * out[i] - 1) * scale }
        case .identityAffine:
            let identity: [Float] = [1, 0, 0, 0, 1, 0]
            for i in 0..<n { out[i] = identity[i % 6] }
        }
    }
}

extension Parameters {
    /// The values an executor of `graph` starts from with `initializeParameters(seed:)`: every
    /// parameter's (the k-th from Philox stream k) and every optimizer variable's zeros, by node
    /// name — for a reference evaluation of the same graph outside the runtime.
    public static func initialValues(of graph: Graph, seed: UInt64) -> [String: [Float]] {
        var memory: [NodeID: UnsafeMutableBufferPointer<Float>] = [:]
        for node in graph.nodes where node.isParameter || graph.variables.contains(node) {
            memory[node.id] = .allocate(capacity: node.shape.fixedElementCount)
        }
        defer { memory.values.forEach { $0.deallocate() } }
        ParameterInitializer.initialize(graph, seed: seed) { memory[$0]!.baseAddress! }
        return Dictionary(uniqueKeysWithValues: memory.map { (graph[$0.key].name, Array($0.value)) })
    }
}
