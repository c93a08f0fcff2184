import Foundation
import Graph
import Runtime
import Testing

/// exp, log, tanh, sigmoid and softplus (CKernels/VectorMath.c: 8 lanes, scalar for the lanes
/// outside each function's vector range) against Double references, in ulps of the float result.
@Suite struct VectorMathTests {
    /// Error of `y` in units of the last place of the reference rounded to float.
    static func ulps(_ y: Float, _ reference: Double) -> Double {
        if reference.isNaN { return y.isNaN ? 0 : .infinity }
        let rounded = Float(reference)
        if rounded.isInfinite { return y == rounded ? 0 : .infinity }
        return abs(Double(y) - reference) / Double(rounded == 0 ? Float.leastNonzeroMagnitude : rounded.ulp)
    }

    /// An odd count (a vector tail), spanning the range at three scales, plus special values
    /// scattered through it so that they share 8-lane groups with ordinary ones.
    static func samples(from lo: Double, to hi: Double, logarithmic: Bool = false) -> [Float] {
        let n = 100_003
        var x = (0..<n).map { i -> Float in
            let t = Double(i) / Double(n - 1)
            if logarithmic { return Float(exp(log(lo) + (log(hi) - log(lo)) * t)) }
            let v = lo + (hi - lo) * t
            return Float(i % 3 == 0 ? v * 1e-3 : i % 5 == 0 ? v * 1e-6 : v)
        }
        let special: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, .leastNormalMagnitude / 4, -.leastNormalMagnitude / 4, 88.5, -87.5, -100, 1, 9.2]
        for (k, s) in special.enumerated() { x[1 + k * 997] = s }
        return x
    }

    func worst(_ x: [Float], _ y: [Float], _ f: (Double) -> Double) -> (ulps: Double, at: Float) {
        var worst = (ulps: 0.0, at: Float(0))
        for (a, b) in zip(x, y) {
            let e = Self.ulps(b, f(Double(a)))
            if !(e <= worst.ulps) { worst = (e, a) }
        }
        return worst
    }

    /// A function, the range it is sampled over, and its Double reference.
    struct Case: Sendable, CustomTestStringConvertible {
        let f: UnaryFunction
        let lo: Double, hi: Double
        var logarithmic = false
        var testDescription: String { "\(f)" }

        func reference(_ x: Double) -> Double {
            switch f {
            case .exp: return Foundation.exp(x)
            case .log: return Foundation.log(x)
            case .tanh: return Foundation.tanh(x)
            case .sigmoid: return 1 / (1 + Foundation.exp(-x))
            default: return x.isNaN ? .nan : max(x, 0) + log1p(Foundation.exp(-Swift.abs(x)))
            }
        }
    }

    @Test(arguments: [
        Case(f: .exp, lo: -100, hi: 100), Case(f: .log, lo: 1e-30, hi: 1e30, logarithmic: true),
        Case(f: .tanh, lo: -20, hi: 20), Case(f: .sigmoid, lo: -110, hi: 110), Case(f: .softplus, lo: -110, hi: 110),
    ])
    func withinThreeUlps(_ c: Case) throws {
        let x = Self.samples(from: c.lo, to: c.hi, logarithmic: c.logarithmic)
        let y = try runForward(inputs: ["x": x]) { Output("y", Input("x", [.fixed(x.count)]).map(c.f)) }
        let w = worst(x, y, c.reference)
        #expect(w.ulps <= 3, "\(c.f): \(w.ulps) ulp at x = \(w.at)")
    }

    /// The Swift statement of each formula (`UnaryFunction.value`, what constant folding and
    /// the scalar kernels compute, and what the C fallbacks restate) is itself within 2 ulp of
    /// the Double reference, and the C vector versions within 3 ulp of it: the three agree.
    @Test(arguments: [
        Case(f: .exp, lo: -100, hi: 100), Case(f: .log, lo: 1e-30, hi: 1e30, logarithmic: true),
        Case(f: .tanh, lo: -20, hi: 20), Case(f: .sigmoid, lo: -110, hi: 110), Case(f: .softplus, lo: -110, hi: 110),
    ])
    func theVectorVersionsAgreeWithTheSwiftDefinition(_ c: Case) throws {
        let x = Self.samples(from: c.lo, to: c.hi, logarithmic: c.logarithmic)
        let definition = x.map(c.f.value)
        let exact = worst(x, definition, c.reference)
        #expect(exact.ulps <= 2, "Swift's \(c.f): \(exact.ulps) ulp at x = \(exact.at)")
        let y = try runForward(inputs: ["x": x]) { Output("y", Input("x", [.fixed(x.count)]).map(c.f)) }
        var worstUlps = (ulps: 0.0, at: Float(0))
        for (i, (a, b)) in zip(y, definition).enumerated() {
            let e = Self.ulps(a, Double(b))
            if !(e <= worstUlps.ulps) { worstUlps = (e, x[i]) }
        }
        #expect(worstUlps.ulps <= 3, "\(c.f): vector \(worstUlps.ulps) ulp from the Swift definition at x = \(worstUlps.at)")
    }

    @Test func logOfNonPositiveAndSpecialValues() throws {
        let x: [Float] = [0, -0.0, -1, -.infinity, .infinity, .nan, 1, 2, 0.5, .leastNormalMagnitude / 4, .greatestFiniteMagnitude]
        let y = try runForward(inputs: ["x": x]) { Output("y", Input("x", [.fixed(x.count)]).map(.log)) }
        #expect(y[0] == -.infinity && y[1] == -.infinity)
        #expect(y[2].isNaN && y[3].isNaN && y[5].isNaN)
        #expect(y[4] == .infinity && y[6] == 0)
        for i in 7..<x.count { #expect(Self.ulps(y[i], log(Double(x[i]))) <= 3, "log(\(x[i])) = \(y[i])" as Comment) }
    }
}
