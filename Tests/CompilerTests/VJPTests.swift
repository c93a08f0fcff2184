import Compiler
import GaugeTesting
import Graph
import Runtime
import Testing

/// Every VJP rule against central finite differences (float32, step 1e-2, 1 % tolerance),
/// at points away from kinks.
@Suite struct VJPTests {
    @Test(arguments: UnaryFunction.allCases)
    func unary(_ f: UnaryFunction) throws {
        // log and sqrt need positive inputs; the others take values in (−2, 2).
        let positive = f == .log || f == .sqrt
        let h = try Harness(batch: 3) {
            let w = Parameter("w", [4], initializer: positive ? .uniform(low: 0.5, high: 2) : .uniform(low: -2, high: 2))
            Loss(probe((Input("x", [.batch, 4]) * 0.1 + w).map(f)))
        }
        try checkGradients(h)
    }

    @Test(arguments: BinaryFunction.allCases)
    func binaryWithBroadcasting(_ f: BinaryFunction) throws {
        let h = try Harness(batch: 2) {
            let a = Parameter("a", [3, 1, 4], initializer: .uniform(low: 0.5, high: 2))
            let b = Parameter("b", [5, 1], initializer: .uniform(low: 0.5, high: 2))
            Loss(probe(a.combine(f, b)))
        }
        try checkGradients(h)
    }

    @Test func selectAndCompare() throws {
        let h = try Harness(batch: 2) {
            let a = Parameter("a", [2, 3], initializer: .uniform(low: -1, high: 1))
            let b = Parameter("b", [3], initializer: .uniform(low: -1, high: 1))
            Loss(probe(select(a.compare(.greater, b), a * 2, b)))
        }
        try checkGradients(h)
    }

    @Test func reductions() throws {
        let h = try Harness(batch: 3) {
            let w = Parameter("w", [4, 5], initializer: .uniform(low: -1, high: 1))
            let x = Input("x", [.batch, 4, 5]) + w
            Loss(probe(x.sum(axes: [1])) + probe(x.mean(axes: [0, 2], keepDims: true)) + probe(x.max(axes: [2])))
        }
        try checkGradients(h)
    }

    @Test func meanOverTheBatchUsesTheRunTimeBatchSize() throws {
        let h = try Harness(batch: 5) {
            let w = Parameter("w", [3], initializer: .uniform(low: -1, high: 1))
            Loss((Input("x", [.batch, 3]) * w).mean())
        }
        try checkGradients(h)
    }

    @Test func layoutOps() throws {
        let h = try Harness(batch: 2) {
            let w = Parameter("w", [2, 3, 4], initializer: .uniform(low: -1, high: 1))
            let v = Parameter("v", [1, 2], initializer: .uniform(low: -1, high: 1))
            let t = w.transposed([2, 0, 1]).reshaped([4, 6])
            let s = t.sliced(axis: 1, 1..<3)
            let c = concat([s, v.broadcast(to: [4, 2]), t], axis: 1)
            Loss(probe(c))
        }
        try checkGradients(h)
    }

    @Test func gatherScatterLogSoftmax() throws {
        let h = try Harness(batch: 4, labels: ["i": [2, 0, 2, 1]]) {
            let table = Parameter("table", [3, 5], initializer: .uniform(low: -1, high: 1))
            let i = Input("i", [.batch], dtype: .int32)
            let rows = table.gatherRows(i)
            let back = rows.scatterAddRows(i, rows: 3)
            Loss(probe(rows.logSoftmax()) + probe(back))
        }
        try checkGradients(h)
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmul(_ transposes: (Bool, Bool)) throws {
        let h = try Harness(batch: 1) {
            let a = Parameter("a", transposes.0 ? [4, 3] : [3, 4], initializer: .uniform(low: -1, high: 1))
            let b = Parameter("b", transposes.1 ? [5, 4] : [4, 5], initializer: .uniform(low: -1, high: 1))
            Loss(probe(a.matmul(b, transposeSelf: transposes.0, transposeOther: transposes.1)))
        }
        try checkGradients(h)
    }

    @Test func groupedMatmul() throws {
        let h = try Harness(batch: 5, labels: ["c": [1, 0, 1, 2, 1]]) {
            let c = Input("c", [.batch], dtype: .int32)
            let w = Parameter("w", [4, 3, 2], initializer: .uniform(low: -1, high: 1))  // class 3 unused
            let x = Input("x", [.batch, 3]) + Parameter("b", [3], initializer: .uniform(low: -1, high: 1))
            Loss(probe(x.groupedMatmul(w, labels: c).tanh().denseByClass(3, classes: 4, labels: c)))
        }
        try checkGradients(h)
    }

    @Test(arguments: [(1, Padding.same), (2, Padding.same), (1, Padding.valid), (2, Padding.valid)])
    func conv2d(_ config: (Int, Padding)) throws {
        let h = try Harness(batch: 2) {
            let x = Input("x", [.batch, 2, 7, 6]) + Parameter("b", [2, 7, 6], initializer: .uniform(low: -1, high: 1))
            let f = Parameter("f", [3, 2, 3, 3], initializer: .uniform(low: -1, high: 1))
            Loss(probe(x.convolved(with: f, stride: config.0, padding: config.1)))
        }
        try checkGradients(h)
    }

    @Test(arguments: [(2, Padding.same), (1, Padding.valid), (2, Padding.valid)])
    func transposedConv2d(_ config: (Int, Padding)) throws {
        let h = try Harness(batch: 2) {
            let x = Input("x", [.batch, 3, 4, 3]) + Parameter("b", [3, 4, 3], initializer: .uniform(low: -1, high: 1))
            Loss(probe(x.transposedConv2d(2, kernel: 3, stride: config.0, padding: config.1)))
        }
        try checkGradients(h)
    }

    /// Per-class filters (class 3 unused: its gradient must stay zero, which the difference
    /// check sees as well).
    @Test(arguments: [(1, Padding.same), (2, Padding.same), (2, Padding.valid)])
    func perClassConv2d(_ config: (Int, Padding)) throws {
        let h = try Harness(batch: 4, labels: ["c": [1, 0, 2, 1]]) {
            let c = Input("c", [.batch], dtype: .int32)
            let x = Input("x", [.batch, 2, 7, 6]) + Parameter("b", [2, 7, 6], initializer: .uniform(low: -1, high: 1))
            let f = Parameter("f", [4, 3, 2, 3, 3], initializer: .uniform(low: -1, high: 1))
            Loss(probe(x.convolved(with: f, stride: config.0, padding: config.1, labels: c)))
        }
        try checkGradients(h)
    }

    @Test(arguments: [(2, Padding.same), (1, Padding.valid), (2, Padding.valid)])
    func perClassTransposedConv2d(_ config: (Int, Padding)) throws {
        let h = try Harness(batch: 4, labels: ["c": [2, 0, 2, 1]]) {
            let c = Input("c", [.batch], dtype: .int32)
            let x = Input("x", [.batch, 3, 4, 3]) + Parameter("b", [3, 4, 3], initializer: .uniform(low: -1, high: 1))
            Loss(probe(x.transposedConv2dByClass(2, kernel: 3, stride: config.0, padding: config.1, classes: 4, labels: c)))
        }
        try checkGradients(h)
    }

    @Test func maxPool() throws {
        let h = try Harness(batch: 2) {
            let x = Input("x", [.batch, 2, 6, 7]) * 0.01 + Parameter("b", [2, 6, 7], initializer: .uniform(low: -1, high: 1))
            Loss(probe(x.maxPool(2) + x.maxPool(3, stride: 2).sum()))
        }
        try checkGradients(h, step: 1e-3)
    }

    /// The sampler's θ-gradient, at non-integer sample points: these θ keep every sample at least
    /// 0.013 px from the pixel lattice in both coordinate conventions (checked offline), farther than
    /// the finite-difference step moves them, so no kink lies inside a difference.
    @Test(arguments: [true, false])
    func affineGridAndBilinearSample(_ alignCorners: Bool) throws {
        let h = try Harness(batch: 2) {
            let image = Input("image", [.batch, 2, 6, 5]) + Parameter("u", [2, 6, 5], initializer: .uniform(low: 0, high: 1))
            let theta = Parameter("theta", [6], initializer: .constant(0)) + Input("base", [.batch, 6])
            Loss(probe(image.warped(by: theta, height: 4, width: 7, alignCorners: alignCorners)))
        }
        try h.executor.setInput("base", [0.853, -0.356, 0.038, 0.295, 0.863, -0.17, 1.121, 0.218, -0.256, -0.206, 0.783, 0.096])
        try checkGradients(h, step: 1e-3, tolerance: 1e-2)
    }

    @Test func invertedAndComposedAffine() throws {
        let h = try Harness(batch: 2) {
            let theta = Parameter("t", [6], initializer: .uniform(low: -0.3, high: 0.3)) + Input("base", [.batch, 6])
            Loss(probe(invertedAffine(theta)) + probe(composedAffine(theta, theta.square())))
        }
        try h.executor.setInput("base", [1, 0, 0, 0, 1, 0, 0.9, 0.1, 0.2, -0.1, 1.2, 0.3])
        try checkGradients(h)
    }

    @Test func dropoutAppliesTheSameMaskToTheGradient() throws {
        let h = try Harness(batch: 4) {
            let w = Parameter("w", [6], initializer: .uniform(low: -1, high: 1))
            Loss(probe((Input("x", [.batch, 6]) + w).dropout(0.5)))
        }
        try checkGradients(h)
    }

    @Test func lossesAndSamplers() throws {
        let h = try Harness(batch: 3, labels: ["y": [0, 2, 1]]) {
            let w = Parameter("w", [4, 3], initializer: .uniform(low: -1, high: 1))
            let h = Input("x", [.batch, 4]).matmul(w)
            let mean = h.sliced(axis: 1, 0..<2)
            let logScale = h.sliced(axis: 1, 1..<3) * 0.5
            let z = sampleGaussian(mean: mean, logScale: logScale) + sampleLaplace(mean: mean, logScale: logScale)
            let target = Input("t", [.batch, 3]) * 0.4 + 0.5
            Loss(gaussianKL(mean, logScale) + laplaceKL(mean, logScale) + probe(z))
            Loss(bernoulliCrossEntropy(logits: h, target: target), name: "bce logits")
            Loss(bernoulliCrossEntropy(probabilities: h.sigmoid(), target: target), name: "bce probabilities")
            Loss(softmaxCrossEntropy(logits: h, labels: Input("y", [.batch], dtype: .int32)), name: "ce")
        }
        try checkGradients(h)
    }

    @Test func fanOutSumsGradients() throws {
        let h = try Harness(batch: 2) {
            let w = Parameter("w", [3], initializer: .uniform(low: -1, high: 1))
            let x = Input("x", [.batch, 3]) * w
            Loss(probe(x * x + x.tanh() + x))
        }
        try checkGradients(h)
    }

    /// stopGradient: d/dw Σ stop(x·w)·w·p = Σ_b x·w·p, not the 2·x·w·p a full derivative gives.
    @Test func stopGradientBlocksTheGradient() throws {
        let h = try Harness(batch: 2, inputs: ["x": [1, 2, 3, 4, 5, 6], "probe": [1, 1, 1, 1, 1, 1]]) {
            let w = Parameter("w", [3], initializer: .constant(2))
            let x = Input("x", [.batch, 3])
            Loss(((x * w).stopGradient() * w * Input("probe", [.batch, 3])).sum())
        }
        _ = try h.loss()
        #expect(h.executor.values(of: h.result.gradients[0].gradient) == [10, 14, 18])
    }
}
