import Datasets
import Foundation
import Models
import Runtime

extension BenchCommand {
    /// Generation throughput (the creative regime): the renderer of an ACE model — a class's
    /// decoder on latent points from the prior, then the pose warp — at batch 1, 100 and 1000,
    /// from the parameters of `state` (a fresh initialisation: the time does not depend on the
    /// values). Each batch runs once untimed, then until a second has passed (at least 3 runs).
    func benchSampling(_ state: TrainingState) throws {
        guard let config = ACEConfiguration.named(model) else {
            print("  sampling: \(model) is not an ACE model (\(ACEConfiguration.builtIn.map(\.name).joined(separator: ", ")))")
            return
        }
        var random = SplitMix64(seed: 7)
        var rows: [String] = []
        for b in Self.sampleBatches {
            let inference = try Inference(ACE.renderer(config), batch: b)
            let feeds: [String: TensorData] = [
                "latent": .float32((0..<(b * config.latentPerClass)).map { _ in Float(random.uniform(-2, 2)) }),
                "label": .int32((0..<b).map { _ in Int32(random.below(config.classes)) }),
                "pose": .float32((0..<b).flatMap { _ in [1, 0, 0, 0, 1, 0] as [Float] }),
            ]
            let parameters = state.parameters
            _ = try inference.run(parameters, feeding: feeds)
            var times: [Double] = []
            let started = Date()
            while times.count < 3 || Date().timeIntervalSince(started) < 1 {
                let start = Date()
                _ = try inference.run(parameters, feeding: feeds)
                times.append(Date().timeIntervalSince(start))
            }
            let median = Self.median(times)
            rows.append("batch \(b): \(round1(Double(b) / median)) images/s (\(ms(median)) ms a batch, median of \(times.count))")
            if json {
                print("{\"model\":\"\(model)\",\"sample_batch\":\(b),\"images_per_second\":\(round1(Double(b) / median)),\"median_ms\":\(ms(median)),\"runs\":\(times.count)}")
            }
        }
        guard !json else { return }
        print("  sampling (decoder and pose warp, \(Threads.count) thread\(Threads.count == 1 ? "" : "s")):")
        for row in rows { print("    " + row) }
    }

    static let sampleBatches = [1, 100, 1000]
}
