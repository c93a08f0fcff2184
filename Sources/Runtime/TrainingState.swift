import Graph

/// Values fed to a graph input.
public enum TensorData: Sendable {
    case float32([Float])
    case int32([Int32])
}

/// Everything a training run needs to continue: parameters, optimizer slots (Adam moments, SGD
/// momentum), the update count (also the random-number counter), the epoch and the seed. The
/// tensors live in memory owned here, outside any executor, and are updated in place by each
/// step. The state records its layout; a step of another layout refuses it with the differences.
public final class TrainingState: @unchecked Sendable {
    /// What the state holds: each tensor's name and shape, sorted by name.
    public let layout: StateLayout
    /// The tensors, in the layout's order.
    public let tensors: [StoredTensor]
    /// Updates done so far; random numbers of the next step are keyed by it.
    public var step: Int = 0
    /// The current epoch (a schedule may read it; the training loop advances it).
    public var epoch: Int = 0
    public var seed: UInt64
    /// Extra facts to keep with the state (e.g. a data cursor), saved as safetensors metadata.
    public var metadata: [String: String] = [:]

    /// Zeros for every tensor of a layout.
    init(layout: StateLayout, seed: UInt64) {
        self.layout = layout
        self.seed = seed
        tensors = layout.entries.map { StoredTensor(name: $0.name, shape: $0.shape) }
    }

    /// A copy of a stored tensor's values.
    public func values(_ name: String) -> [Float]? { tensors.first { $0.name == name }?.values }

    /// Overwrites a stored tensor.
    public func setValues(_ name: String, _ values: [Float]) throws(RuntimeError) {
        guard let t = tensors.first(where: { $0.name == name }) else { throw RuntimeError("no tensor named \"\(name)\"") }
        guard values.count == t.count else { throw RuntimeError("\(name) holds \(t.count) values; got \(values.count)") }
        values.withUnsafeBufferPointer { t.memory.update(from: $0.baseAddress!, count: t.count) }
    }

    /// The parameters alone (sharing this state's memory): for `Inference` or another step.
    public var parameters: Parameters {
        Parameters(zip(layout.entries, tensors).filter { $0.0.isParameter }.map(\.1))
    }

    /// Total bytes of the stored tensors.
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.count * 4 } }

    /// Saves as safetensors (atomically): one F32 tensor per parameter and optimizer slot, and
    /// `step`, `epoch`, `seed` and `metadata` in the header's `__metadata__`.
    public func save(to path: String) throws(CheckpointError) {
        var meta = metadata
        meta["gauge.step"] = String(step)
        meta["gauge.epoch"] = String(epoch)
        meta["gauge.seed"] = String(seed)
        meta["format"] = "pt"
        try SafeTensors.write(tensors, metadata: meta, to: path)
    }

    /// Replaces every tensor and counter with a file's. The file must hold exactly this layout:
    /// otherwise the error lists every tensor missing, unexpected or of another shape, and
    /// nothing is changed.
    func load(from path: String) throws(CheckpointError) {
        let meta = try SafeTensors.read(tensors, from: path, allowExtra: false, what: "this training step")
        step = meta["gauge.step"].flatMap { Int($0) } ?? 0
        epoch = meta["gauge.epoch"].flatMap { Int($0) } ?? 0
        seed = meta["gauge.seed"].flatMap { UInt64($0) } ?? seed
        metadata = meta.filter { !$0.key.hasPrefix("gauge.") && $0.key != "format" }
    }
}
