import Compiler
import Foundation
import GaugeTesting
import Graph
import Runtime
import Testing

/// Runs a model's forward graph once and returns output "y".
func runForward(
    batch: Int = 1, inputs: [String: [Float]] = [:], labels: [String: [Int32]] = [:], seed: UInt64 = 7,
    @ModelBuilder _ body: () -> [ModelStatement]
) throws -> [Float] {
    let model = try Model("kernel", body)
    let executor = Executor(Plan(model.graph, batch: batch), seed: seed)
    executor.initializeParameters(seed: seed)
    for (name, values) in inputs { try executor.setInput(name, values) }
    for (name, values) in labels { try executor.setInput(name, values) }
    try executor.run()
    return try executor.values(named: "y")
}

func expectClose(
    _ a: [Float], _ b: [Double], tolerance: Double = 1e-4, sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let difference = abs(Double(x) - y) / max(1, abs(y))
        worst = difference.isNaN ? .infinity : max(worst, difference)  // a NaN is never close
    }
    #expect(worst <= tolerance, "worst relative difference \(worst)", sourceLocation: sourceLocation)
}

/// Each kernel against a straightforward reference loop on random inputs, with odd sizes,
/// strides, paddings and transposes.
@Suite struct KernelTests {
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmul(_ t: (Bool, Bool)) throws {
        let (m, k, n) = (7, 13, 5)
        let a = pseudoRandom(m * k, seed: 1)
        let b = pseudoRandom(k * n, seed: 2)
        let y = try runForward(inputs: ["a": a, "b": b]) {
            let a = Input("a", t.0 ? [13, 7] : [7, 13])
            let b = Input("b", t.1 ? [5, 13] : [13, 5])
            Output("y", a.matmul(b, transposeSelf: t.0, transposeOther: t.1))
        }
        var reference = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let av = t.0 ? a[p * m + i] : a[i * k + p]
                    let bv = t.1 ? b[j * k + p] : b[p * n + j]
                    reference[i * n + j] += Double(av) * Double(bv)
                }
            }
        }
        expectClose(y, reference)
    }

    /// GEMMs large enough to be split among workers: by columns (n = 700, uneven against 512)
    /// and by rows (a narrow n = 100; and m = 700 over n = 300 when a is transposed, as in a
    /// weight gradient), every transpose, against a reference.
    @Test(
        arguments: [(40, 100, 700), (600, 40, 100), (700, 40, 300)],
        [(false, false), (true, true), (true, false), (false, true)])
    func splitMatmul(_ size: (Int, Int, Int), _ t: (Bool, Bool)) throws {
        let (m, k, n) = size
        let a = pseudoRandom(m * k, seed: 21)
        let b = pseudoRandom(k * n, seed: 22)
        let y = try runForward(inputs: ["a": a, "b": b]) {
            let a = Input("a", t.0 ? [.fixed(k), .fixed(m)] : [.fixed(m), .fixed(k)])
            let b = Input("b", t.1 ? [.fixed(n), .fixed(k)] : [.fixed(k), .fixed(n)])
            Output("y", a.matmul(b, transposeSelf: t.0, transposeOther: t.1))
        }
        var reference = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let av = Double(t.0 ? a[p * m + i] : a[i * k + p])
                for j in 0..<n { reference[i * n + j] += av * Double(t.1 ? b[j * k + p] : b[p * n + j]) }
            }
        }
        expectClose(y, reference)
    }

    @Test(arguments: [false, true])
    func groupedMatmul(_ transposeWeights: Bool) throws {
        let (rows, k, n, classes) = (9, 4, 3, 4)
        let x = pseudoRandom(rows * k, seed: 3)
        let w = pseudoRandom(classes * k * n, seed: 4)
        let labels: [Int32] = [2, 0, 2, 3, 1, 1, 2, 0, 3]
        let y = try runForward(batch: rows, inputs: ["x": x, "w": w], labels: ["c": labels]) {
            let weights = Input("w", transposeWeights ? [4, 3, 4] : [4, 4, 3])
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 4]).groupedMatmul(weights, labels: c, transposeWeights: transposeWeights))
        }
        expectClose(y, groupedReference(x, w, labels, k: k, n: n, transposeWeights: transposeWeights))
    }

    /// `y[r] = x[r] · w[labels[r]]` (or `· w[labels[r]]ᵀ`) in Double.
    func groupedReference(_ x: [Float], _ w: [Float], _ labels: [Int32], k: Int, n: Int, transposeWeights: Bool) -> [Double] {
        var reference = [Double](repeating: 0, count: labels.count * n)
        for (r, label) in labels.enumerated() {
            let c = Int(label)
            for j in 0..<n {
                for p in 0..<k {
                    let wv = transposeWeights ? w[(c * n + j) * k + p] : w[(c * k + p) * n + j]
                    reference[r * n + j] += Double(x[r * k + p]) * Double(wv)
                }
            }
        }
        return reference
    }

    /// Per-class products on sizes off every tile: 29 rows in classes of 10, 10 and 9 (class 3 of 4
    /// empty), k = 37 (four 8-lane steps and a masked 5), n = 13 (three 4-row tiles of w and
    /// one of 1); with transposed weights (the AVX2 kernel's case) the same bits on 1, 2 or 3
    /// threads.
    @Test(arguments: [false, true])
    func groupedMatmulOffTheTiles(_ transposeWeights: Bool) throws {
        try checkGroupedMatmul(k: 37, n: 13, transposeWeights: transposeWeights)
    }

    /// The same with products large enough to be cut into column blocks (each class's
    /// [12, 200]·[200, 1040] GEMM in 3 blocks, the last edge off 512): all classes' blocks are
    /// one job the workers share.
    @Test(arguments: [false, true])
    func groupedMatmulInColumnBlocks(_ transposeWeights: Bool) throws {
        try checkGroupedMatmul(k: 200, n: 1040, transposeWeights: transposeWeights)
    }

    func checkGroupedMatmul(k: Int, n: Int, transposeWeights: Bool) throws {
        let (rows, classes) = (29, 4)
        let x = pseudoRandom(rows * k, seed: 5)
        let w = pseudoRandom(classes * k * n, seed: 6)
        let labels = (0..<rows).map { Int32($0 % 3) }
        func run(threads: Int) throws -> [Float] {
            try withThreads(threads) {
                return try runForward(batch: rows, inputs: ["x": x, "w": w], labels: ["c": labels]) {
                    let weights = Input("w", Shape((transposeWeights ? [classes, n, k] : [classes, k, n]).map { Dim.fixed($0) }))
                    let c = Input("c", [.batch], dtype: .int32)
                    Output("y", Input("x", [.batch, .fixed(k)]).groupedMatmul(weights, labels: c, transposeWeights: transposeWeights))
                }
            }
        }
        let one = try run(threads: 1)
        expectClose(one, groupedReference(x, w, labels, k: k, n: n, transposeWeights: transposeWeights), tolerance: 1e-5)
        for threads in [2, 3] { #expect(try run(threads: threads).map(\.bitPattern) == one.map(\.bitPattern), "\(threads) threads") }
    }

    /// conv2d reference: y[n,o,oy,ox] = Σ x[n,c,oy·s+i−pt, ox·s+j−pl]·w[o,c,i,j].
    func referenceConv(
        _ x: [Float], _ xs: [Int], _ w: [Float], _ ws: [Int], stride: Int, padding: Padding
    ) -> ([Double], [Int]) {
        let (batch, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (o, kh, kw) = (ws[0], ws[2], ws[3])
        let oh = Op.windowOutputSize(h, kernel: kh, stride: stride, padding: padding)
        let ow = Op.windowOutputSize(wd, kernel: kw, stride: stride, padding: padding)
        let pt = padding == .same ? Op.samePaddingTotal(h, kernel: kh, stride: stride) / 2 : 0
        let pl = padding == .same ? Op.samePaddingTotal(wd, kernel: kw, stride: stride) / 2 : 0
        var y = [Double](repeating: 0, count: batch * o * oh * ow)
        for n in 0..<batch {
            for oc in 0..<o {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var s = 0.0
                        for ic in 0..<c {
                            for i in 0..<kh {
                                for j in 0..<kw {
                                    let yy = oy * stride + i - pt
                                    let xx = ox * stride + j - pl
                                    guard yy >= 0, yy < h, xx >= 0, xx < wd else { continue }
                                    s += Double(x[((n * c + ic) * h + yy) * wd + xx]) * Double(w[((oc * c + ic) * kh + i) * kw + j])
                                }
                            }
                        }
                        y[((n * o + oc) * oh + oy) * ow + ox] = s
                    }
                }
            }
        }
        return (y, [batch, o, oh, ow])
    }

    @Test(arguments: [(1, Padding.same), (2, Padding.same), (3, Padding.same), (1, Padding.valid), (2, Padding.valid)])
    func conv2d(_ config: (Int, Padding)) throws {
        let xs = [2, 3, 9, 8]
        let ws = [4, 3, 3, 2]
        let x = pseudoRandom(xs.reduce(1, *), seed: 5)
        let w = pseudoRandom(ws.reduce(1, *), seed: 6)
        let y = try runForward(batch: 2, inputs: ["x": x, "w": w]) {
            Output("y", Input("x", [.batch, 3, 9, 8]).convolved(with: Input("w", [4, 3, 3, 2]), stride: config.0, padding: config.1))
        }
        expectClose(y, referenceConv(x, xs, w, ws, stride: config.0, padding: config.1).0)
    }

    /// The transposed convolution is the adjoint of conv2d: ⟨conv(u), v⟩ = ⟨u, convᵀ(v)⟩.
    @Test(arguments: [(1, Padding.same), (2, Padding.same), (2, Padding.valid), (3, Padding.valid)])
    func transposedConv2dIsTheAdjointOfConv2d(_ config: (Int, Padding)) throws {
        let (height, width) = (9, 7)
        let ws = [4, 3, 3, 3]  // conv: 3 → 4 channels; transposed: 4 → 3
        let u = pseudoRandom(2 * 3 * height * width, seed: 7)
        let w = pseudoRandom(ws.reduce(1, *), seed: 8)
        let (cu, cshape) = referenceConv(u, [2, 3, height, width], w, ws, stride: config.0, padding: config.1)
        let v = pseudoRandom(cshape.reduce(1, *), seed: 9)
        let tv = try runForward(batch: 2, inputs: ["v": v, "w": w]) {
            let input = Input("v", [.batch, 4, .fixed(cshape[2]), .fixed(cshape[3])])
            Output("y", input.transposedConvolved(with: Input("w", [4, 3, 3, 3]), stride: config.0, padding: config.1, height: height, width: width))
        }
        let left = zip(cu, v).reduce(0.0) { $0 + $1.0 * Double($1.1) }
        let right = zip(u, tv).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) <= 1e-4 * max(1, abs(left)), "⟨conv u, v⟩ = \(left), ⟨u, convᵀ v⟩ = \(right)")
    }

    /// 3×3, stride-1, same-padded convolutions with their own kernels: by Winograd's F(2×2, 3×3)
    /// (≥ 16 channels on both sides) and summed directly (≤ 4 image channels), both for widths
    /// that are multiples of 8. The forward against the direct sum, the transposed one against its
    /// own direct sum dx[c, y, x] = Σ v[o, y − i + 1, x − j + 1]·w[o, c, i, j], and the filter
    /// gradient against its direct sum (the same bits on 1, 2 or 3 threads).
    /// Winograd: 8×8 puts blocks of two block rows in one vector, 6×16 has 8 blocks a row.
    /// Direct: 3 → 20 channels take output planes in pairs and RGB gradients in triples; 24 and 8
    /// pixel rows are not whole runs of 4 vectors; 7 and 5 planes leave one over.
    @Test(arguments: [(16, 24, 8, 8), (17, 19, 6, 16), (3, 20, 6, 16), (1, 7, 5, 24), (4, 3, 4, 8), (2, 5, 3, 32)])
    func fastConvolutionsMatchTheDirectSums(_ config: (Int, Int, Int, Int)) throws {
        let (c, o, h, w) = config
        let batch = 3
        let xs = [batch, c, h, w], ws = [o, c, 3, 3]
        let x = pseudoRandom(xs.reduce(1, *), seed: 21)
        let filter = pseudoRandom(ws.reduce(1, *), seed: 22)
        let y = try runForward(batch: batch, inputs: ["x": x, "w": filter]) {
            let image = Input("x", [.batch, .fixed(c), .fixed(h), .fixed(w)])
            Output("y", image.convolved(with: Input("w", [.fixed(o), .fixed(c), 3, 3]), stride: 1, padding: .same))
        }
        expectClose(y, referenceConv(x, xs, filter, ws, stride: 1, padding: .same).0, tolerance: 1e-5)
        // The adjoint: o channels in, c out (the forward filter's channels swapped, turned 180°).
        let v = pseudoRandom(batch * o * h * w, seed: 23)
        let dx = try runForward(batch: batch, inputs: ["v": v, "w": filter]) {
            let input = Input("v", [.batch, .fixed(o), .fixed(h), .fixed(w)])
            Output("y", input.transposedConvolved(with: Input("w", [.fixed(o), .fixed(c), 3, 3]), stride: 1, padding: .same, height: h, width: w))
        }
        var reference = [Double](repeating: 0, count: batch * c * h * w)
        for n in 0..<batch {
            for ci in 0..<c {
                for py in 0..<h {
                    for px in 0..<w {
                        var sum = 0.0
                        for oi in 0..<o {
                            for i in 0..<3 {
                                for j in 0..<3 {
                                    let (qy, qx) = (py - i + 1, px - j + 1)
                                    guard qy >= 0, qy < h, qx >= 0, qx < w else { continue }
                                    sum += Double(v[((n * o + oi) * h + qy) * w + qx]) * Double(filter[((oi * c + ci) * 3 + i) * 3 + j])
                                }
                            }
                        }
                        reference[((n * c + ci) * h + py) * w + px] = sum
                    }
                }
            }
        }
        expectClose(dx, reference, tolerance: 1e-5)
        // The filter gradient of Σ conv(x, w)·v: dw[o, c, i, j] = Σ v[n, o, y, x]·x[n, c, y + i − 1, x + j − 1].
        let model = try Model("winograd-filter") {
            let weights = Parameter("w", [.fixed(o), .fixed(c), 3, 3], initializer: .zeros)
            let image = Input("x", [.batch, .fixed(c), .fixed(h), .fixed(w)])
            Loss((image.convolved(with: weights, stride: 1, padding: .same) * Input("v", [.batch, .fixed(o), .fixed(h), .fixed(w)])).sum())
        }
        let result = try Autodiff.differentiate(model.graph)
        let gradient = try #require(result.gradients.first)
        func filterGradient(threads: Int) throws -> [Float] {
            try withThreads(threads) {
                let executor = Executor(Plan(result.graph, batch: batch))
                try executor.setInput("x", x)
                try executor.setInput("v", v)
                try executor.run()
                return executor.values(of: gradient.gradient)
            }
        }
        let one = try filterGradient(threads: 1)
        for threads in [2, 3] {
            #expect(try filterGradient(threads: threads).map(\.bitPattern) == one.map(\.bitPattern), "\(threads) threads")
        }
        var dw = [Double](repeating: 0, count: ws.reduce(1, *))
        for n in 0..<batch {
            for oi in 0..<o {
                for ci in 0..<c {
                    for i in 0..<3 {
                        for j in 0..<3 {
                            var sum = 0.0
                            for py in 0..<h {
                                for px in 0..<w {
                                    let (qy, qx) = (py + i - 1, px + j - 1)
                                    guard qy >= 0, qy < h, qx >= 0, qx < w else { continue }
                                    sum += Double(v[((n * o + oi) * h + py) * w + px]) * Double(x[((n * c + ci) * h + qy) * w + qx])
                                }
                            }
                            dw[((oi * c + ci) * 3 + i) * 3 + j] += sum
                        }
                    }
                }
            }
        }
        expectClose(one, dw, tolerance: 1e-5)
    }

    /// Per-class filters: each image's output equals the plain convolution with its label's filter,
    /// and the per-class transposed convolution is its adjoint image by image.
    @Test(arguments: [(1, Padding.same), (2, Padding.same), (2, Padding.valid)])
    func perClassConv2dAndItsAdjoint(_ config: (Int, Padding)) throws {
        let (batch, classes, height, width) = (5, 4, 9, 7)
        let labels: [Int32] = [2, 0, 2, 3, 0]  // class 1 unused
        let ws = [4, 3, 3, 3]
        let filterSize = ws.reduce(1, *)
        let x = pseudoRandom(batch * 3 * height * width, seed: 11)
        let w = pseudoRandom(classes * filterSize, seed: 12)
        let y = try runForward(batch: batch, inputs: ["x": x, "w": w], labels: ["c": labels]) {
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 3, 9, 7]).convolved(with: Input("w", [4, 4, 3, 3, 3]), stride: config.0, padding: config.1, labels: c))
        }
        var reference: [Double] = []
        var outShape: [Int] = []
        let image = 3 * height * width
        for n in 0..<batch {
            let filter = Array(w[Int(labels[n]) * filterSize..<(Int(labels[n]) + 1) * filterSize])
            let (one, shape) = referenceConv(
                Array(x[n * image..<(n + 1) * image]), [1, 3, height, width], filter, ws, stride: config.0, padding: config.1)
            reference += one
            outShape = shape
        }
        expectClose(y, reference)

        let v = pseudoRandom(reference.count, seed: 13)
        let tv = try runForward(batch: batch, inputs: ["v": v, "w": w], labels: ["c": labels]) {
            let c = Input("c", [.batch], dtype: .int32)
            let input = Input("v", [.batch, 4, .fixed(outShape[2]), .fixed(outShape[3])])
            Output("y", input.transposedConvolved(with: Input("w", [4, 4, 3, 3, 3]), stride: config.0, padding: config.1, height: height, width: width, labels: c))
        }
        let out = reference.count / batch
        for n in 0..<batch {  // ⟨conv_c(u_n), v_n⟩ = ⟨u_n, conv_cᵀ(v_n)⟩ per image
            let left = (0..<out).reduce(0.0) { $0 + reference[n * out + $1] * Double(v[n * out + $1]) }
            let right = (0..<image).reduce(0.0) { $0 + Double(x[n * image + $1]) * Double(tv[n * image + $1]) }
            #expect(abs(left - right) <= 1e-4 * max(1, abs(left)), "image \(n): \(left) vs \(right)")
        }
    }

    /// Comparisons of int32 labels, read in place (no float copies), with broadcasting.
    @Test(arguments: [Comparison.equal, .less, .greaterEqual])
    func int32Compare(_ c: Comparison) throws {
        let a: [Int32] = [3, -1, 7, 0, 2, 2]
        let b: [Int32] = [2, 0, 7]
        let y = try runForward(batch: 2, labels: ["a": a, "b": b]) {
            Output("y", Input("a", [.batch, 3], dtype: .int32).compare(c, Input("b", [3], dtype: .int32)))
        }
        let reference = a.indices.map { k -> Double in
            let (p, q) = (a[k], b[k % 3])
            switch c {
            case .equal: return p == q ? 1 : 0
            case .less: return p < q ? 1 : 0
            default: return p >= q ? 1 : 0
            }
        }
        expectClose(y, reference, tolerance: 0)
    }

    @Test func perClassConv2dRejectsALabelOutsideItsClasses() throws {
        #expect {
            _ = try runForward(batch: 2, inputs: ["x": pseudoRandom(2 * 16, seed: 1), "w": pseudoRandom(3 * 2 * 9, seed: 2)], labels: ["c": [1, 3]]) {
                let c = Input("c", [.batch], dtype: .int32)
                Output("y", Input("x", [.batch, 1, 4, 4]).convolved(with: Input("w", [3, 2, 1, 3, 3]), labels: c))
            }
        } throws: { error in
            "\(error)".contains("a label is outside 0..<3")
        }
    }

    @Test func maxPool() throws {
        let x = pseudoRandom(2 * 7 * 9, seed: 10)
        let y = try runForward(inputs: ["x": x]) { Output("y", Input("x", [1, 2, 7, 9]).maxPool(3, stride: 2)) }
        var reference: [Double] = []
        for c in 0..<2 {
            for oy in 0..<3 {
                for ox in 0..<4 {
                    var m = -Double.infinity
                    for i in 0..<3 { for j in 0..<3 { m = max(m, Double(x[(c * 7 + oy * 2 + i) * 9 + ox * 2 + j])) } }
                    reference.append(m)
                }
            }
        }
        expectClose(y, reference, tolerance: 0)
    }

    /// The 2×2 pool's fast paths with ties, on odd sizes (an uncovered last row and column: the
    /// general gradient loop) and even ones (windows tiling the plane: the branch-free gradient),
    /// narrow (fewer than 8 windows a row: the scalar loop of CKernels/MaxPool.c) and wide (two
    /// 8-window vectors and a scalar tail): the maximum, and the gradient routed to the first
    /// maximum in window order, 0 elsewhere.
    @Test(arguments: [(7, 9), (8, 10), (7, 35), (6, 34)])
    func maxPool2x2AndItsGradientWithTies(_ h: Int, _ w: Int) throws {
        let (oh, ow) = (h / 2, w / 2)
        let x = pseudoRandom(2 * h * w, seed: 14).map { ($0 * 2).rounded() / 2 }  // a coarse lattice: ties
        let weights = pseudoRandom(2 * oh * ow, seed: 15)
        let model = try Model("pool") {
            let image = Parameter("x", [1, 2, .fixed(h), .fixed(w)], initializer: .zeros)
            let pooled = image.maxPool(2)
            Output("y", pooled)
            Loss((pooled * Input("w", [1, 2, .fixed(oh), .fixed(ow)])).sum())
        }
        let result = try Autodiff.differentiate(model.graph)
        let executor = Executor(Plan(result.graph, batch: 1))
        let parameter = try #require(result.gradients.first)
        try executor.setValues(of: parameter.parameter, x)
        try executor.setInput("w", weights)
        // Garbage where the gradient goes (an arena buffer holds old values): every element must be written.
        try executor.setValues(of: parameter.gradient, Array(repeating: .nan, count: x.count))
        try executor.run()
        var pooled: [Double] = []
        var gradient = [Double](repeating: 0, count: x.count)
        for c in 0..<2 {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var (peak, at) = (-Double.infinity, 0)
                    for i in 0..<2 {
                        for j in 0..<2 {
                            let k = (c * h + 2 * oy + i) * w + 2 * ox + j
                            if Double(x[k]) > peak { (peak, at) = (Double(x[k]), k) }
                        }
                    }
                    pooled.append(peak)
                    gradient[at] += Double(weights[(c * oh + oy) * ow + ox])
                }
            }
        }
        expectClose(try executor.values(named: "y"), pooled, tolerance: 0)
        expectClose(executor.values(of: parameter.gradient), gradient, tolerance: 0)
    }

    /// Bilinear sampling against STN eq. 5 taken literally: V = Σ_nm U_nm·max(0, 1−|x−m|)·max(0, 1−|y−n|).
    @Test(arguments: [true, false])
    func bilinearSampleMatchesTheSTNSum(_ alignCorners: Bool) throws {
        let (h, w, oh, ow) = (5, 6, 4, 3)
        let image = pseudoRandom(2 * h * w, seed: 11)
        let grid = pseudoRandom(oh * ow * 2, seed: 12, low: -1.3, high: 1.3)
        let y = try runForward(inputs: ["u": image, "g": grid]) {
            Output("y", Input("u", [1, 2, 5, 6]).sampled(at: Input("g", [1, 4, 3, 2]), alignCorners: alignCorners))
        }
        var reference: [Double] = []
        for c in 0..<2 {
            for p in 0..<(oh * ow) {
                let gx = Double(grid[2 * p])
                let gy = Double(grid[2 * p + 1])
                let px = alignCorners ? (gx + 1) * Double(w - 1) / 2 : ((gx + 1) * Double(w) - 1) / 2
                let py = alignCorners ? (gy + 1) * Double(h - 1) / 2 : ((gy + 1) * Double(h) - 1) / 2
                var v = 0.0
                for n in 0..<h {
                    for m in 0..<w {
                        v += Double(image[(c * h + n) * w + m]) * max(0, 1 - abs(px - Double(m))) * max(0, 1 - abs(py - Double(n)))
                    }
                }
                reference.append(v)
            }
        }
        expectClose(y, reference, tolerance: 1e-5)
    }

    /// The sampler's vector path (whole groups of 8 points, C with AVX2) gives the bits of its
    /// scalar loop (the rest): of 15 points, the last 7 repeat the first 7 — past the edge, on
    /// it, straddling it, inside, a NaN — and their samples and grid gradients agree bit for bit.
    @Test(arguments: [true, false])
    func bilinearSamplerVectorAndScalarPathsGiveTheSameBits(_ alignCorners: Bool) throws {
        let head: [Float] = [-1.2, 0.3, 0.95, -0.97, 0.1, 0.2, -0.99, 1.05, 0.5, -0.5, 1.0, -1.0, .nan, 0.1, 0.37, 0.61]
        let grid = head + Array(head.prefix(14))
        let w = (0..<2).flatMap { c in
            let row = pseudoRandom(8, seed: 40 + UInt64(c))
            return row + Array(row.prefix(7))
        }
        let model = try Model("sampler-paths") {
            let g = Input("g", [1, 1, 15, 2]) + Parameter("d", [1, 1, 15, 2], initializer: .constant(0))
            let sampled = Input("u", [1, 2, 5, 6]).sampled(at: g, alignCorners: alignCorners)
            Output("y", sampled)
            Loss((sampled * Input("w", [1, 2, 1, 15])).sum())
        }
        let graph = try gradientGraph(model)
        let executor = Executor(Plan(graph, batch: 1))
        executor.initializeParameters(seed: 1)
        try executor.setInput("u", pseudoRandom(60, seed: 39))
        try executor.setInput("g", grid)
        try executor.setInput("w", w)
        try executor.run()
        func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }
        let y = try executor.values(named: "y")
        let dg = executor.values(of: try #require(graph.outputs.first { $0.name == "∂d" }).node)
        for p in 0..<7 {
            for c in 0..<2 { #expect(same(y[c * 15 + p], y[c * 15 + p + 8]), "sample \(p), channel \(c)") }
            for axis in 0..<2 { #expect(same(dg[p * 2 + axis], dg[(p + 8) * 2 + axis]), "gradient \(p), axis \(axis)") }
        }
        #expect(y[6].isNaN && !y[2].isNaN && dg[4] != 0 && dg[5] != 0)  // point 6 is the NaN, 2 is inside
    }

    /// A diverged transform's grid (NaN, infinite or huge coordinates) samples NaN where a
    /// coordinate is not finite and 0 where a finite point is past the image, instead of trapping.
    @Test func bilinearSampleOfNonFiniteCoordinatesIsNaNOrZero() throws {
        let grid: [Float] = [.nan, 0, 0, .infinity, -1e30, 0.2, 0.1, -0.3]
        let y = try runForward(inputs: ["u": pseudoRandom(2 * 30, seed: 4), "g": grid]) {
            Output("y", Input("u", [1, 2, 5, 6]).sampled(at: Input("g", [1, 2, 2, 2])))
        }
        for c in 0..<2 {
            #expect(y[c * 4].isNaN && y[c * 4 + 1].isNaN && y[c * 4 + 2] == 0 && y[c * 4 + 3].isFinite, "\(y)")
        }
    }

    @Test func affineGridOfTheIdentityIsTheBaseGrid() throws {
        let y = try runForward(batch: 1, inputs: ["t": [1, 0, 0, 0, 1, 0]]) {
            Output("y", affineGrid(Input("t", [.batch, 2, 3]), height: 2, width: 3))
        }
        expectClose(y, [-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1], tolerance: 0)
    }

    @Test func reductionsBroadcastTransposeLogSoftmax() throws {
        let x: [Float] = [1, 2, 3, 4, 5, 6]  // [2, 3]
        #expect(try runForward(inputs: ["x": x]) { Output("y", Input("x", [2, 3]).sum(axes: [0])) } == [5, 7, 9])
        #expect(try runForward(inputs: ["x": x]) { Output("y", Input("x", [2, 3]).mean(axes: [1])) } == [2, 5])
        #expect(try runForward(inputs: ["x": x]) { Output("y", Input("x", [2, 3]).max()) } == [6])
        #expect(try runForward(inputs: ["x": x]) { Output("y", Input("x", [2, 3]).transposed([1, 0])) } == [1, 4, 2, 5, 3, 6])
        #expect(try runForward(inputs: ["x": [1, 2]]) { Output("y", Input("x", [2, 1]).broadcast(to: [2, 3])) } == [1, 1, 1, 2, 2, 2])
        #expect(try runForward(inputs: ["x": x]) { Output("y", Input("x", [2, 3]).sliced(axis: 1, 1..<3)) } == [2, 3, 5, 6])
        let ls = try runForward(inputs: ["x": x]) { Output("y", Input("x", [2, 3]).logSoftmax(axis: 0)) }
        let l = log(1 + exp(3.0))
        expectClose(ls, [-l, -l, -l, 3 - l, 3 - l, 3 - l], tolerance: 1e-6)
        let big = try runForward(inputs: ["x": [1000, 0]]) { Output("y", Input("x", [1, 2]).logSoftmax()) }
        expectClose(big, [0, -1000], tolerance: 1e-6)
    }

    /// Sums over trailing runs big enough to be split among the workers by output (a bias
    /// gradient over N, H, W, and runs whose outputs skip a reduced axis in between; and a small
    /// one with runs of 25): against a Double reference, and the same bits on 1, 2 and 3 threads.
    /// A bias gradient's sums are also the documented float chains: each run in 8 lanes from +0,
    /// the lanes in order, the tail, added to its channel's total image by image.
    @Test(arguments: [([9, 5, 160, 160], [0, 2, 3]), ([4, 6, 7, 6400], [1, 3]), ([3, 7, 5, 5], [0, 2, 3])])
    func largeRunSumsSplitAmongWorkers(_ config: ([Int], [Int])) throws {
        let (shape, axes) = config
        let x = pseudoRandom(shape.reduce(1, *), seed: 31)
        func run(threads: Int) throws -> [Float] {
            try withThreads(threads) {
                return try runForward(inputs: ["x": x]) {
                    Output("y", Input("x", Shape(shape.map { Dim.fixed($0) })).sum(axes: axes))
                }
            }
        }
        var kept = shape
        for axis in axes { kept[axis] = 1 }
        var reference = [Double](repeating: 0, count: kept.reduce(1, *))
        for (i, value) in x.enumerated() {
            var rest = i, o = 0, scale = 1
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                let index = rest % shape[axis]
                rest /= shape[axis]
                if kept[axis] != 1 { o += index * scale }
                scale *= kept[axis]
            }
            reference[o] += Double(value)
        }
        let one = try run(threads: 1)
        expectClose(one, reference, tolerance: 1e-4)  // float sums of up to 230,400 terms
        if axes == [0, 2, 3] {
            let (images, channels, run) = (shape[0], shape[1], shape[2] * shape[3])
            var chains = [Float](repeating: 0, count: channels)
            for n in 0..<images {
                for c in 0..<channels {
                    let start = (n * channels + c) * run
                    var lanes = [Float](repeating: 0, count: 8)
                    var i = 0
                    while i + 8 <= run {
                        for j in 0..<8 { lanes[j] += x[start + i + j] }
                        i += 8
                    }
                    var total = lanes[0]
                    for j in 1..<8 { total += lanes[j] }
                    for t in i..<run { total += x[start + t] }
                    chains[c] += total
                }
            }
            #expect(one.map(\.bitPattern) == chains.map(\.bitPattern))
        }
        for threads in [2, 3] { #expect(try run(threads: threads).map(\.bitPattern) == one.map(\.bitPattern), "\(threads) threads") }
    }

    @Test func elementwiseFunctionsAreStable() throws {
        let x: [Float] = [-100, -1, 0, 1, 100]
        expectClose(try runForward(inputs: ["x": x]) { Output("y", Input("x", [5]).softplus()) }, x.map { max(Double($0), 0) + log1p(exp(-abs(Double($0)))) }, tolerance: 1e-6)
        expectClose(try runForward(inputs: ["x": x]) { Output("y", Input("x", [5]).sigmoid()) }, x.map { 1 / (1 + exp(-Double($0))) }, tolerance: 1e-6)
    }

    @Test func gatherScatterOneHot() throws {
        let table: [Float] = [0, 1, 10, 11, 20, 21]  // [3, 2]
        let idx: [Int32] = [2, 0, 2]
        #expect(try runForward(batch: 3, inputs: ["t": table], labels: ["i": idx]) {
            Output("y", Input("t", [3, 2]).gatherRows(Input("i", [.batch], dtype: .int32)))
        } == [20, 21, 0, 1, 20, 21])
        #expect(try runForward(batch: 3, inputs: ["v": [1, 2, 3, 4, 5, 6]], labels: ["i": idx]) {
            Output("y", Input("v", [.batch, 2]).scatterAddRows(Input("i", [.batch], dtype: .int32), rows: 3))
        } == [3, 4, 0, 0, 6, 8])
        #expect(try runForward(batch: 3, labels: ["i": idx]) { Output("y", Input("i", [.batch], dtype: .int32).oneHot(3)) } == [0, 0, 1, 1, 0, 0, 0, 0, 1])
    }

    @Test func outOfRangeLabelsAreATypedErrorAtTheUsersLine() throws {
        do {
            _ = try runForward(batch: 2, labels: ["i": [0, 7]]) { Output("y", Input("i", [.batch], dtype: .int32).oneHot(3)) }
            Issue.record("expected an error")
        } catch let error as RuntimeError {
            #expect(error.description == "RuntimeTests/KernelTests.swift:\(#line - 3):121: error: oneHot: index 7 is outside 0..<3")
        }
    }

    @Test func wrongInputSizesAreATypedError() throws {
        #expect {
            _ = try runForward(batch: 2, inputs: ["x": [1, 2, 3]]) { Output("y", Input("x", [.batch, 2]).tanh()) }
        } throws: { error in
            (error as? RuntimeError)?.message == "x takes 4 float32 values ([batch, 2] at batch 2); got 3 float32"
        }
    }
}
