import Compiler
import Foundation
import GaugeTesting
import Graph
import Runtime
import Testing

/// The colour-statistics pieces (the seed's open problem 3): their gradients against central
/// differences, and their values against independent Float64 computations.
@Suite struct ColourTests {
    @Test func gradientsOfTheColourPieces() throws {
        let h = try Harness(batch: 2) {
            let g = Parameter("g", [8], initializer: .uniform(low: -0.6, high: 0.6)) + Input("base", [.batch, 8])
            let m = specialLinearExponential(g)
            let image = Input("image", [.batch, 3, 2, 3]) * Parameter("s", [3, 1, 1], initializer: .uniform(low: 0.5, high: 1.5))
            Loss(probe(image.colourTransformed(by: m)) + probe(inverted3x3(m)) + probe(matrixProduct3x3(m, m.square())))
        }
        try checkGradients(h, step: 1e-2, tolerance: 2e-2)
    }

    /// exp(A) by scaling and squaring against its Taylor series in Float64 (60 terms, no
    /// scaling); det exp(A) = 1; inverted3x3 · M = I; colourTransformed mixes each pixel by M.
    @Test func valuesAgainstFloat64() throws {
        let batch = 3
        let generators = pseudoRandom(batch * 8, seed: 11, low: -1.2, high: 1.2)
        let pixels = pseudoRandom(batch * 3 * 4, seed: 12, low: 0, high: 1)
        let model = try Model("colour") {
            let m = specialLinearExponential(Input("g", [.batch, 8]))
            Output("m", m)
            Output("inverse", inverted3x3(m))
            Output("image", Input("image", [.batch, 3, 2, 2]).colourTransformed(by: m))
        }
        let out = try Self.run(model, batch: batch, ["g": generators, "image": pixels])
        let (m, inverse, image) = (out["m"]!, out["inverse"]!, out["image"]!)
        for b in 0..<batch {
            let g = generators[(b * 8)..<((b + 1) * 8)].map(Double.init)
            let a = [g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], -g[0] - g[4]]
            let expected = Self.exponential(a)
            for k in 0..<9 { #expect(abs(Double(m[b * 9 + k]) - expected[k]) < 2e-5, "M[\(b)][\(k)]") }
            let mb = (0..<9).map { Double(m[b * 9 + $0]) }
            #expect(abs(Self.determinant(mb) - 1) < 1e-5)
            let product = Self.product(mb, (0..<9).map { Double(inverse[b * 9 + $0]) })
            for k in 0..<9 { #expect(abs(product[k] - (k % 4 == 0 ? 1 : 0)) < 1e-5, "(M·M⁻¹)[\(k)]") }
            for p in 0..<4 {
                for i in 0..<3 {
                    let mixed = (0..<3).reduce(0.0) { $0 + mb[i * 3 + $1] * Double(pixels[(b * 3 + $1) * 4 + p]) }
                    #expect(abs(Double(image[(b * 3 + i) * 4 + p]) - mixed) < 1e-5)
                }
            }
        }
    }

    /// A zero generator is exactly the identity, and its inverse exactly the identity.
    @Test func zeroGeneratorIsExactlyTheIdentity() throws {
        let model = try Model("identity") {
            let m = specialLinearExponential(Input("g", [.batch, 8]))
            Output("m", m)
            Output("inverse", inverted3x3(m))
        }
        let out = try Self.run(model, batch: 2, ["g": .init(repeating: 0, count: 16)])
        let identity: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        #expect(out["m"]! == identity + identity)
        #expect(out["inverse"]! == identity + identity)
    }

    @Test func shapeErrorsNameTheCall() throws {
        #expect(throws: ModelError.self) {
            try Model("bad") { Output("y", Input("x", [.batch, 1, 4, 4]).colourTransformed(by: Input("m", [.batch, 9]))) }
        }
        do {
            _ = try Model("bad") { Output("y", specialLinearExponential(Input("g", [.batch, 9]))) }
            Issue.record("expected a shape error")
        } catch {
            #expect("\(error)".contains("generator has shape [batch, 9] (squarings 4, terms 8); expected [batch, 8]"), "\(error)")
        }
    }

    /// Every output of a parameterless model.
    static func run(_ model: Model, batch: Int, _ inputs: [String: [Float]]) throws -> [String: [Float]] {
        let executor = Executor(Plan(model.graph, batch: batch), seed: 1)
        for (name, values) in inputs { try executor.setInput(name, values) }
        try executor.run()
        return try Dictionary(uniqueKeysWithValues: model.graph.outputs.map { ($0.name, try executor.values(named: $0.name)) })
    }

    static func product(_ a: [Double], _ b: [Double]) -> [Double] {
        (0..<9).map { (k: Int) -> Double in
            let (i, j) = (k / 3, k % 3)
            var sum = 0.0
            for t in 0..<3 { sum += a[i * 3 + t] * b[t * 3 + j] }
            return sum
        }
    }

    static func determinant(_ m: [Double]) -> Double {
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    }

    /// Σₖ Aᵏ/k!, 60 terms.
    static func exponential(_ a: [Double]) -> [Double] {
        var term: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        var sum = term
        for k in 1..<60 {
            term = product(term, a).map { $0 / Double(k) }
            for i in 0..<9 { sum[i] += term[i] }
        }
        return sum
    }
}
