import Graph

/// Trained parameters by name, without optimizer slots: what inference and sampling need, and
/// what fine-tuning with another optimizer starts from.
///
/// ```swift
/// let parameters = try Parameters.load("runs/cvae/checkpoint.safetensors", for: sampler)
/// let images = try Inference(sampler, batch: 100).run(parameters, feeding: ["label": .int32(labels)])
/// ```
public final class Parameters: @unchecked Sendable {
    /// Sorted by name.
    public let tensors: [StoredTensor]

    init(_ tensors: [StoredTensor]) { self.tensors = tensors.sorted { $0.name < $1.name } }

    /// Each parameter's name and shape.
    public var layout: StateLayout { StateLayout(entries: tensors.map { .init(name: $0.name, shape: $0.shape) }) }

    /// A copy of a parameter's values.
    public func values(_ name: String) -> [Float]? { tensors.first { $0.name == name }?.values }

    /// Reads the parameters `model` declares from a safetensors file (a training checkpoint or a
    /// parameters file), each checked by name and shape; optimizer slots and any other tensors
    /// in the file are skipped. Reads nothing when a parameter is missing or has another shape:
    /// the error lists every such difference.
    public static func load(_ path: String, for model: Model) throws -> Parameters {
        let tensors = StateLayout(model.graph, parametersOnly: true).entries.map { StoredTensor(name: $0.name, shape: $0.shape) }
        _ = try SafeTensors.read(tensors, from: path, allowExtra: true, what: "model \"\(model.name)\"")
        return Parameters(tensors)
    }

    /// Saves the parameters alone as safetensors (atomically), with `metadata` in the header
    /// (`SafeTensors.readHeader` reads it back).
    public func save(to path: String, metadata: [String: String] = [:]) throws(CheckpointError) {
        try SafeTensors.write(tensors, metadata: metadata.merging(["format": "pt"]) { _, fixed in fixed }, to: path)
    }
}
