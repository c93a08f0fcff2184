import Datasets
import Foundation
import Models
import Runtime

extension Figures {
    /// `count` latent values from the prior the model was trained with, reproducibly from
    /// `seed`: N(0, 1), or the unit-variance Laplace (scale √½) for Laplacian sampling.
    public func priorLatents(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        func uniform() -> Double { (Double(random.next() >> 11) + 0.5) / Double(1 << 53) }  // in (0, 1)
        return (0..<count).map { _ in
            switch configuration.sampling {
            case .gaussian:
                return Float((-2 * Foundation.log(uniform())).squareRoot() * cos(2 * .pi * uniform()))
            case .laplace:
                let u = uniform() - 0.5
                return Float(-(0.5.squareRoot()) * (u < 0 ? -1 : 1) * Foundation.log(1 - 2 * Swift.abs(u)))
            }
        }
    }

    /// Dreamed-up samples (the creative regime, PAPER.md §1.4): one row per class of `perClass`
    /// latent points drawn from the prior (the same points every time for the same `seed`), each
    /// decoded by its class's decoder and drawn in the pose `pose(class, k)` — the identity for
    /// the canonical "style" frame, or symmetry statistics the SSN produced on training images of
    /// that class — and, with colour statistics, coloured by `colour(class, k)` (identity: the
    /// canonical colours).
    public func samplesSheet(
        perClass: Int = 10, seed: UInt64, pose: (_ label: Int, _ k: Int) -> Affine2D = { _, _ in .identity },
        colour: (_ label: Int, _ k: Int) -> ColourMatrix = { _, _ in .identity }
    ) -> Sheet {
        let c = configuration
        let z = priorLatents(c.classes * perClass * c.latentPerClass, seed: seed)
        var requests: [Renderer.Request] = []
        for label in 0..<c.classes {
            for k in 0..<perClass {
                let at = (label * perClass + k) * c.latentPerClass
                requests.append(
                    .init(
                        latent: Array(z[at..<(at + c.latentPerClass)]), label: label, pose: pose(label, k),
                        colour: colour(label, k)))
            }
        }
        return Sheet(requests: requests, columns: perClass)
    }

    /// `samplesSheet` drawn.
    public func samples(
        _ state: TrainingState, perClass: Int = 10, seed: UInt64, scale: Int = 2,
        pose: (_ label: Int, _ k: Int) -> Affine2D = { _, _ in .identity }
    ) throws -> Picture {
        try draw(samplesSheet(perClass: perClass, seed: seed, pose: pose), state, scale: scale).picture
    }
}
