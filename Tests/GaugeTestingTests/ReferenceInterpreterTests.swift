import Compiler
import Foundation
import GaugeTesting
import Graph
import Testing

/// The reference interpreter against values worked by hand, identities that tie its rules
/// together, and central differences of its own forward pass (so the VJP rules are checked in
/// Float64, away from every kernel).
@Suite struct ReferenceInterpreterTests {
    /// Evaluates `body`'s output "y" at batch 1 from the given leaves.
    func evaluate(_ leaves: [String: [Double]], @ModelBuilder _ body: () -> [ModelStatement]) throws -> [Double] {
        let model = try Model("case", body)
        return try #require(ReferenceInterpreter(model.graph, batch: 1).results(leaves)["output y"])
    }

    @Test func convolutionWithSamePaddingCountsTheTapsInside() throws {
        let y = try evaluate(["x": [Double](repeating: 1, count: 9), "f": [Double](repeating: 1, count: 9)]) {
            Output("y", Input("x", [1, 1, 3, 3]).convolved(with: Input("f", [1, 1, 3, 3])))
        }
        #expect(y == [4, 6, 4, 6, 9, 6, 4, 6, 4])
    }

    @Test func samplerReadsCornersAndCentresWithAlignedCorners() throws {
        // Image [[1, 2], [3, 4]]; points (x, y) = (−1, −1), (1, 1), (0, 0), (1, −1), (2, 0) (outside: half a pixel of 0).
        let y = try evaluate(["image": [1, 2, 3, 4], "grid": [-1, -1, 1, 1, 0, 0, 1, -1, 3, 0]]) {
            Output("y", Input("image", [1, 1, 2, 2]).sampled(at: Input("grid", [1, 1, 5, 2])))
        }
        #expect(y == [1, 4, 2.5, 2, 0])
    }

    @Test func logSoftmaxAndMaxPoolByHand() throws {
        let y = try evaluate(["x": [0, 1, 5, 2, 3, 4, 8, 7, 6, 0, 0, 9, 1, 1, 1, 1]]) {
            Output("y", Input("x", [1, 1, 4, 4]).maxPool(2).reshaped([1, 4]).logSoftmax(axis: 1))
        }
        // Windows (0, 1, 3, 4), (5, 2, 8, 7), (6, 0, 1, 1), (0, 9, 1, 1) pool to 4, 8, 6, 9.
        let total = [4.0, 8, 6, 9].map { Foundation.exp($0) }.reduce(0, +)
        #expect(zip(y, [4.0, 8, 6, 9]).allSatisfy { Swift.abs($0 - ($1 - Foundation.log(total))) < 1e-12 })
    }

    /// The transposed convolution is the adjoint of the convolution: ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩.
    @Test(arguments: [(1, Padding.same), (2, .same), (2, .valid)])
    func transposedConvolutionIsTheAdjoint(_ stride: Int, _ padding: Padding) throws {
        let x = pseudoRandom(2 * 5 * 7, seed: 3).map(Double.init)
        let f = pseudoRandom(3 * 2 * 3 * 3, seed: 4).map(Double.init)
        let (oh, ow) = (Op.windowOutputSize(5, kernel: 3, stride: stride, padding: padding), Op.windowOutputSize(7, kernel: 3, stride: stride, padding: padding))
        let y = pseudoRandom(3 * oh * ow, seed: 5).map(Double.init)
        let forward = try evaluate(["x": x, "f": f]) {
            Output("y", Input("x", [1, 2, 5, 7]).convolved(with: Input("f", [3, 2, 3, 3]), stride: stride, padding: padding))
        }
        let back = try evaluate(["g": y, "f": f]) {
            Output("y", Input("g", [1, 3, .fixed(oh), .fixed(ow)]).transposedConvolved(with: Input("f", [3, 2, 3, 3]), stride: stride, padding: padding, height: 5, width: 7))
        }
        let left = zip(forward, y).reduce(0.0) { $0 + $1.0 * $1.1 }
        let right = zip(x, back).reduce(0.0) { $0 + $1.0 * $1.1 }
        #expect(Swift.abs(left - right) <= 1e-12 * Swift.max(1, Swift.abs(left)))
    }

    /// Philox 4×32-10's published known answers (Random123's kat_vectors).
    @Test func philoxGivesThePublishedKnownAnswers() {
        #expect(ReferencePhilox.block((0, 0, 0, 0), key: (0, 0)) == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        #expect(
            ReferencePhilox.block((0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), key: (0xffff_ffff, 0xffff_ffff))
                == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        #expect(
            ReferencePhilox.block((0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
                == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    /// Every primitive's VJP rule, in Float64: autodiff against central differences.
    @Test func everyPrimitiveGradientMatchesCentralDifferencesInFloat64() throws {
        let mismatches = try referenceGradientMismatches(everyPrimitiveModel(), batch: 3, step: 1e-6, tolerance: 1e-6)
        #expect(mismatches.isEmpty, "\(Set(mismatches.map(\.parameter)).sorted()) \(mismatches.prefix(4))")
    }

    /// The every-primitive model's training graph holds every primitive (a new `Op` case
    /// belongs in it, so the tests above and the runtime agreement tests cover it).
    /// One primitive (or a few) at a time, in Float64: autodiff against central differences.
    @Test(arguments: 0..<24)
    func singlePrimitiveGradientsInFloat64(_ k: Int) throws {
        let model = try Model("op") {
            let p = Parameter("p", [3, 4], initializer: .uniform(low: -1, high: 1))
            let q = Parameter("q", [3, 4], initializer: .uniform(low: -1, high: 1))
            let label = Input("label", [3], dtype: .int32)
            let y: Tensor = switch k {
            case 0: p.logSoftmax(axis: 1)
            case 1: p.max(axes: [1])
            case 2: p.sliced(axis: 1, 1..<3)
            case 3: p.transposed([1, 0])
            case 4: concat([p, q], axis: 1)
            case 5: p.scatterAddRows(label, rows: 3)
            case 6: p.gatherRows(label)
            case 7: select(p.compare(.greater, q), p, q * 0.5)
            case 8: (p.abs() + 0.5).combine(.pow, q.sigmoid())
            case 9: p / (q.square() + 1)
            case 10: p.combine(.max, q) + p.combine(.min, q)
            case 11: p.softplus() + p.sigmoid() + p.exp() + p.relu() + p.tanh()
            case 12: (p.abs() + 1).sqrt().log()
            case 13: p.mean(axes: [0])
            case 14: p.broadcast(to: [2, 3, 4])
            case 15: p.dropout(0.25)
            case 16: p + random(.normal, [3, 4])
            case 17: p.max(axes: [0, 1])
            case 18: p.reshaped([2, 6]).logSoftmax(axis: 0)
            case 19: p.logSoftmax(axis: 1).sliced(axis: 1, 0..<3) * label.oneHot(3)
            case 20: -p + (-(-q))
            case 21: concat([p, p], axis: 1).max(axes: [1])  // ties: d max(x, x)/dx = 1
            case 22: p.leakyRelu(0.2)
            default: p.sum(axes: [1], keepDims: true) * q
            }
            Loss((y * y).sum(), name: "l")
        }
        let mismatches = try referenceGradientMismatches(model, batch: 3, step: 1e-6, tolerance: 1e-6)
        #expect(mismatches.isEmpty, "case \(k): \(mismatches.prefix(2))")
    }

    @Test func everyPrimitiveModelHoldsEveryPrimitive() throws {
        let names = Set(try gradientGraph(everyPrimitiveModel()).nodes.map(\.op.name))
        let all = [
            "input", "parameter", "constant", "matmul", "groupedMatmul", "groupedMatmulWeightGrad", "conv2dFilterGrad",
            "maxPoolGrad", "affineGridGrad", "bilinearSampleImageGrad", "bilinearSampleGridGrad", "select", "reduceSum",
            "reduceMean", "reduceMax", "reshape", "transpose", "broadcast", "slice", "concat", "gatherRows", "scatterAddRows",
            "oneHot", "logSoftmax", "conv2d", "transposedConv2d", "maxPool", "affineGrid", "bilinearSample",
            "dropout", "stopGradient",
        ] + UnaryFunction.allCases.map(\.rawValue) + BinaryFunction.allCases.map(\.rawValue) + ["greater", "randomNormal", "randomLaplace", "randomUniform"]
        #expect(Set(all).subtracting(names).isEmpty, "missing: \(Set(all).subtracting(names).sorted())")
    }

    @Test func aMissingLeafIsALocatedError() throws {
        let model = try Model("case") { Output("y", Input("x", [2]).exp()) }
        #expect(throws: ReferenceError.self) { try ReferenceInterpreter(model.graph, batch: 1).results([:]) }
        do {
            _ = try ReferenceInterpreter(model.graph, batch: 1).results(["x": [1]])
            Issue.record("a leaf of the wrong size was taken")
        } catch {
            #expect(error.message == "'x' needs 2 values for [2]; 1 were given")
            #expect(error.description.contains("ReferenceInterpreterTests.swift"))
        }
    }
}
