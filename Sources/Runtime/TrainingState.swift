import Graph

/// Values fed to a graph input.
public enum TensorData: Sendable {
    case float32([Float])
    case int32([Int32])
}

/// Everything a training run needs to continue: parameters, optimizer variables (Adam moments),
/// the update count (also the random-number counter), the epoch and the seed. The tensors live
/// in memory owned here, outside any executor, and are updated in place by each step.
public final class TrainingState: @unchecked Sendable {
    /// One stored tensor: a parameter or optimizer variable of the step graph.
    public struct Tensor: @unchecked Sendable {
        public let name: String
        public let shape: [Int]
        let node: NodeID
        let memory: UnsafeMutablePointer<Float>
        var count: Int { shape.reduce(1, *) }
    }

    public private(set) var tensors: [Tensor]
    /// Updates done so far; random numbers of the next step are keyed by it.
    public var step: Int = 0
    /// The current epoch (the learning-rate schedule reads it; the training loop advances it).
    public var epoch: Int = 0
    public var seed: UInt64
    /// Extra facts to keep with the state (e.g. a data cursor), saved as safetensors metadata.
    public var metadata: [String: String] = [:]

    init(graph: Graph, seed: UInt64) {
        self.seed = seed
        tensors = graph.nodes.compactMap { node in
            switch node.op {
            case .parameter(let name, _), .variable(let name):
                let shape = node.shape.resolved(batch: 1)
                let memory = UnsafeMutablePointer<Float>.allocate(capacity: max(shape.reduce(1, *), 1))
                HugePages.advise(UnsafeMutableRawPointer(memory), bytes: shape.reduce(1, *) * 4)
                memory.initialize(repeating: 0, count: max(shape.reduce(1, *), 1))
                return Tensor(name: name, shape: shape, node: node.id, memory: memory)
            default:
                return nil
            }
        }
    }

    deinit { for t in tensors { t.memory.deallocate() } }

    /// A copy of a stored tensor's values.
    public func values(_ name: String) -> [Float]? {
        tensors.first { $0.name == name }.map { Array(UnsafeBufferPointer(start: $0.memory, count: $0.count)) }
    }

    /// Overwrites a stored tensor.
    public func setValues(_ name: String, _ values: [Float]) throws(RuntimeError) {
        guard let t = tensors.first(where: { $0.name == name }) else { throw RuntimeError("no tensor named \"\(name)\"") }
        guard values.count == t.count else { throw RuntimeError("\(name) holds \(t.count) values; got \(values.count)") }
        values.withUnsafeBufferPointer { t.memory.update(from: $0.baseAddress!, count: t.count) }
    }

    /// Total bytes of the stored tensors.
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.count * 4 } }

    /// Saves as safetensors (atomically): one F32 tensor per parameter and Adam moment, and
    /// `step`, `epoch`, `seed` and `metadata` in the header's `__metadata__`.
    public func save(to path: String) throws(CheckpointError) {
        var meta = metadata
        meta["gauge.step"] = String(step)
        meta["gauge.epoch"] = String(epoch)
        meta["gauge.seed"] = String(seed)
        meta["format"] = "pt"
        try SafeTensors.write(
            tensors.map { ($0.name, $0.shape, UnsafeBufferPointer(start: $0.memory, count: $0.count)) }, metadata: meta,
            to: path)
    }

    /// Replaces every tensor and counter with a file's; the file must hold every tensor with its shape.
    func load(from path: String) throws(CheckpointError) {
        let (entries, meta, dataStart) = try SafeTensors.readHeader(path)
        var byName: [String: SafeTensors.Entry] = [:]
        for e in entries { byName[e.name] = e }
        for t in tensors {
            guard let entry = byName[t.name] else { throw .missingTensor(path: path, tensor: t.name) }
            guard entry.shape == t.shape else { throw .wrongShape(tensor: t.name, expected: t.shape, found: entry.shape) }
        }
        for t in tensors {
            try SafeTensors.read(byName[t.name]!, from: path, dataStart: dataStart, into: t.memory, count: t.count)
        }
        step = meta["gauge.step"].flatMap { Int($0) } ?? 0
        epoch = meta["gauge.epoch"].flatMap { Int($0) } ?? 0
        seed = meta["gauge.seed"].flatMap { UInt64($0) } ?? seed
        metadata = meta.filter { !$0.key.hasPrefix("gauge.") && $0.key != "format" }
    }
}
