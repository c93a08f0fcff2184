import Experiments
import Models
import Foundation
import Testing

/// An n×n image of an elongated Gaussian blob: centre (cx, cy), long axis at `degrees`
/// counter-clockwise on screen (y down), standard deviations `long` and `short` px.
func blob(side n: Int, cx: Double, cy: Double, degrees: Double, long: Double = 3.5, short: Double = 1.2) -> [Float] {
    let a = degrees * .pi / 180
    return (0..<(n * n)).map { k in
        let (u, v) = (Double(k % n) - cx, Double(k / n) - cy)
        let along = u * cos(a) - v * sin(a), across = u * sin(a) + v * cos(a)
        return Float(exp(-0.5 * (along * along / (long * long) + across * across / (short * short))))
    }
}

@Suite struct PoseTests {
    @Test func momentsFindTheCentreAngleAndSpreadOfABlob() {
        let m = ImageMoments(blob(side: 40, cx: 17.3, cy: 21.6, degrees: 25)[...], channels: 1, height: 40, width: 40)
        #expect(abs(m.centreX - 17.3) < 1e-3 && abs(m.centreY - 21.6) < 1e-3)
        #expect(abs(m.angleDegrees - 25) < 0.01)
        #expect(abs(m.spread - (3.5 * 3.5 + 1.2 * 1.2).squareRoot()) < 1e-3)
        let turned = ImageMoments(blob(side: 40, cx: 20, cy: 20, degrees: -70)[...], channels: 1, height: 40, width: 40)
        #expect(abs(m.rotation(to: turned) - 85) < 0.01)  // −70 − 25 = −95 ≡ 85 (mod 180)
    }

    @Test func inverseAndCompositionAreTheMatrixAlgebra() {
        let theta = Affine2D([0.9, -0.3, 0.12, 0.25, 1.1, -0.07])
        let product = theta.composed(with: theta.inverted())
        for (got, want) in zip(product.values + theta.inverted().composed(with: theta).values, Affine2D.identity.values + Affine2D.identity.values) {
            #expect(abs(got - want) < 1e-6)
        }
        // A point: (self ∘ other)(p) = self(other(p)).
        func apply(_ t: Affine2D, _ p: (Float, Float)) -> (Float, Float) {
            let v = t.values
            return (v[0] * p.0 + v[1] * p.1 + v[2], v[3] * p.0 + v[4] * p.1 + v[5])
        }
        let other = Affine2D.rotating(degrees: 30).composed(with: .scaling(1.5))
        let p: (Float, Float) = (0.3, -0.6)
        let (a, b) = (apply(theta.composed(with: other), p), apply(theta, apply(other, p)))
        #expect(abs(a.0 - b.0) < 1e-6 && abs(a.1 - b.1) < 1e-6)
        // A singular transform is clamped like the graph's inverse: |det| ≥ 1e-3, no infinities.
        #expect(Affine2D([1, 2, 0, 2, 4, 0]).inverted().values.allSatisfy { $0.isFinite })
        #expect(Affine2D.moving(dx: 3, dy: -2, width: 29, height: 29).values == [1, 0, -6.0 / 28, 0, 1, 4.0 / 28])
    }
}

/// The prior the samples are drawn from: unit variance, zero mean, and the right shape (a
/// Laplace's kurtosis is 6, a Gaussian's 3); the same seed gives the same points.
@Suite struct PriorSampleTests {
    @Test(arguments: [ACEConfiguration.Sampling.gaussian, .laplace])
    func priorLatentsHaveTheirMoments(sampling: ACEConfiguration.Sampling) throws {
        var config = ACEConfiguration.mnist(.plain, symmetry: false)
        config.sampling = sampling
        let figures = Figures(try Renderer(config, batch: 1))
        let z = figures.priorLatents(40_000, seed: 3).map(Double.init)
        let mean = z.reduce(0, +) / Double(z.count)
        let variance = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(z.count)
        let kurtosis = z.map { pow($0 - mean, 4) }.reduce(0, +) / Double(z.count) / (variance * variance)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05, "mean \(mean), variance \(variance)")
        #expect(abs(kurtosis - (sampling == .gaussian ? 3 : 6)) < 0.6, "kurtosis \(kurtosis)")
        #expect(figures.priorLatents(5, seed: 3) == figures.priorLatents(5, seed: 3))
    }
}
