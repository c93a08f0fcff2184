import Graph
import Models
import Runtime

/// Decodes chosen latent points with a chosen class's decoder and poses the result: the
/// creative regime, the style manifold and control (PAPER.md §1.4, §2.3), driven by a
/// training state's parameters. Any number of requests; they run in batches of `batch`.
public final class Renderer {
    public let configuration: ACEConfiguration
    public let batch: Int
    let inference: Inference

    public init(_ configuration: ACEConfiguration, batch: Int = 100) throws {
        self.configuration = configuration
        self.batch = batch
        inference = try Inference(ACE.renderer(configuration), batch: batch)
    }

    /// One image to render: a latent point, the class whose decoder draws it, the pose (θ,
    /// output → input) to warp the canonical drawing by, and — for models with colour
    /// statistics — the colour matrix applied to it first (M⁻¹ of an image's statistics
    /// gives that image's colours; ignored by models without them).
    public struct Request: Sendable {
        public var latent: [Float]
        public var label: Int
        public var pose: Affine2D
        public var colour: ColourMatrix

        public init(latent: [Float], label: Int, pose: Affine2D = .identity, colour: ColourMatrix = .identity) {
            self.latent = latent
            self.label = label
            self.pose = pose
            self.colour = colour
        }
    }

    /// The posed images `[requests.count, C, H, W]`, in request order.
    public func render(_ requests: [Request], state: TrainingState) throws -> [Float] {
        try render(requests, parameters: state.parameters, seed: state.seed)
    }

    /// The same from parameters alone (`Parameters.load(path, for: ACE.renderer(config))`: the
    /// decoder's, from a checkpoint, without a training step).
    public func render(_ requests: [Request], parameters: Parameters, seed: UInt64 = 0) throws -> [Float] {
        let pixels = configuration.pixels
        let latentSize = configuration.latentPerClass
        var result: [Float] = []
        result.reserveCapacity(requests.count * pixels)
        for start in stride(from: 0, to: requests.count, by: batch) {
            let chunk = requests[start..<min(start + batch, requests.count)]
            var latent = [Float](repeating: 0, count: batch * latentSize)
            var labels = [Int32](repeating: 0, count: batch)
            var poses = [Float](repeating: 0, count: batch * 6)
            var colours = [Float](repeating: 0, count: batch * 9)
            for k in 0..<batch {
                let request = chunk.count > k ? chunk[chunk.startIndex + k] : chunk[chunk.startIndex]
                guard request.latent.count == latentSize else {
                    throw ExperimentError("a latent point of \(configuration.name) has \(latentSize) values; request \(start + k) has \(request.latent.count)")
                }
                latent.replaceSubrange((k * latentSize)..<((k + 1) * latentSize), with: request.latent)
                labels[k] = Int32(request.label)
                poses.replaceSubrange((k * 6)..<((k + 1) * 6), with: request.pose.values)
                colours.replaceSubrange((k * 9)..<((k + 1) * 9), with: request.colour.values)
            }
            var feeds: [String: TensorData] = ["latent": .float32(latent), "label": .int32(labels), "pose": .float32(poses)]
            if configuration.colourNet != nil { feeds["colour"] = .float32(colours) }
            let out = try inference.run(parameters, feeding: feeds, seed: seed)
            result += out["image"]![0..<(chunk.count * pixels)]
        }
        return result
    }
}
