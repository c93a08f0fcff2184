/// Element-wise functions of one argument.
public enum UnaryFunction: String, Hashable, Sendable, CaseIterable {
    case neg, exp, log, tanh, sigmoid, relu, softplus, abs, sqrt, square
}

/// Element-wise functions of two arguments, with NumPy broadcasting.
public enum BinaryFunction: String, Hashable, Sendable, CaseIterable {
    case add, sub, mul, div, max, min, pow
}

/// Element-wise comparisons; the result is a float32 mask of 0s and 1s.
public enum Comparison: String, Hashable, Sendable, CaseIterable {
    case less, lessEqual, greater, greaterEqual, equal, notEqual
}

/// Reductions over a set of axes.
public enum Reduction: String, Hashable, Sendable, CaseIterable {
    case sum, mean, max
}

/// Convolution padding: `same` keeps ⌈size / stride⌉, `valid` uses only full windows.
public enum Padding: String, Hashable, Sendable {
    case same, valid
}

/// Distributions of the counter-based random ops (standard forms; scale with ordinary ops).
public enum Distribution: String, Hashable, Sendable {
    /// N(0, 1).
    case normal
    /// U(0, 1), open at both ends.
    case uniform
    /// Laplace(0, 1): density ½·exp(−|x|).
    case laplace
}

/// The closed set of primitives. Every case has a shape rule (`Op.inferType`), and later a VJP
/// rule and a kernel; exhaustive switches make the compiler point at each place a new case needs.
/// Layers (`dense`, `conv2d` with bias, `warp(by:)`) are compositions of these.
public enum Op: Hashable, Sendable {
    /// A value fed at run time (images, labels).
    case input(name: String)
    /// A trainable parameter with its initializer.
    case parameter(name: String, initializer: Initializer)
    /// A scalar constant; broadcasting gives it any shape.
    case constant(Float)

    /// `a · b` on rank-2 operands, each optionally transposed.
    case matmul(transposeA: Bool, transposeB: Bool)
    /// Per-row weights chosen by a class label: `x [B, K]`, `w [C, K, N]`, `labels [B] int32`
    /// give `y[b] = x[b] · w[labels[b]]` (with `transposeWeights`, `w [C, N, K]` and
    /// `x[b] · w[labels[b]]ᵀ`). One decoder per class without running all of them.
    case groupedMatmul(transposeWeights: Bool)

    case unary(UnaryFunction)
    case binary(BinaryFunction)
    case compare(Comparison)
    /// `select(mask, a, b)`: `a` where `mask ≠ 0`, else `b`, broadcasting all three.
    case select

    case reduce(Reduction, axes: [Int], keepDims: Bool)
    case reshape(Shape)
    case transpose(permutation: [Int])
    case broadcast(Shape)
    /// Elements `start..<end` along `axis`.
    case slice(axis: Int, start: Int, end: Int)
    case concat(axis: Int)

    /// `table [N, …]`, `indices [M] int32` → `[M, …]`.
    case gatherRows
    /// `values [M, …]`, `indices [M] int32` → `[rows, …]`, summing rows with the same index.
    case scatterAddRows(rows: Int)
    /// `indices [M] int32` → `[M, classes]` float32.
    case oneHot(classes: Int)
    case logSoftmax(axis: Int)

    /// `input [N, C, H, W]`, `filter [O, C, kh, kw]` → `[N, O, H', W']`.
    ///
    /// With `classes`, one filter per class chosen by a label, like `groupedMatmul`: operands
    /// `input`, `filter [classes, O, C, kh, kw]`, `labels [N] int32`; image n uses
    /// `filter[labels[n]]`. The same holds for `transposedConv2d` and `conv2dFilterGrad`.
    case conv2d(stride: Int, padding: Padding, classes: Int? = nil)
    /// The adjoint of `conv2d(stride, padding)` ("deconvolution"): `input [N, C, h, w]`,
    /// `filter [C, O, kh, kw]` → `[N, O, height, width]`, where a `conv2d` with the same
    /// stride and padding maps `height × width` back to `h × w`. With `classes`, a third operand
    /// `labels [N]` picks each image's filter from `[classes, C, O, kh, kw]`.
    case transposedConv2d(stride: Int, padding: Padding, height: Int, width: Int, classes: Int? = nil)
    /// Max over `window × window` patches every `stride` pixels (floor; no padding).
    case maxPool(window: Int, stride: Int)

    /// `theta [B, 2, 3]` → sampling grid `[B, height, width, 2]` of (x, y) in [−1, 1].
    case affineGrid(height: Int, width: Int, alignCorners: Bool)
    /// `image [B, C, H, W]`, `grid [B, H', W', 2]` → `[B, C, H', W']`, zero outside the image.
    case bilinearSample(alignCorners: Bool)

    /// Counter-based random numbers of the given shape. `stream` is unique per node, so two
    /// random nodes never merge, and values depend on (seed, step, stream, element) only.
    case random(Distribution, shape: Shape, stream: Int)
    /// Zeroes each element with probability `rate`, scales the rest by 1 / (1 − rate).
    case dropout(rate: Float, stream: Int)
    /// Identity forward; no gradient flows back through it.
    case stopGradient

    // Gradient primitives: the VJPs of the primitives above that are not compositions.

    /// Σ over rows with label c of `a[b]ᵀ · g[b]`: `a [B, K]`, `g [B, N]`, `labels [B]` →
    /// `[classes, K, N]` (the weight gradient of `groupedMatmul`).
    case groupedMatmulWeightGrad(classes: Int)
    /// The filter gradient of `conv2d`: `input [N, C, H, W]`, `outputGrad [N, O, h, w]` →
    /// `[O, C, kernelHeight, kernelWidth]`. With `classes`, a third operand `labels [N]` and
    /// the result `[classes, O, C, kh, kw]`: class c sums over its own images only.
    case conv2dFilterGrad(stride: Int, padding: Padding, kernelHeight: Int, kernelWidth: Int, classes: Int? = nil)
    /// The input gradient of `maxPool`: `input`, `outputGrad` → input-shaped, routed to the
    /// first maximum of each window.
    case maxPoolGrad(window: Int, stride: Int)
    /// The θ gradient of `affineGrid`: `gridGrad [B, H, W, 2]` → `[B, 2, 3]`.
    case affineGridGrad(alignCorners: Bool)
    /// The image gradient of `bilinearSample`: `grid`, `outputGrad [B, C, H', W']` →
    /// `[B, C, height, width]`.
    case bilinearSampleImageGrad(alignCorners: Bool, height: Int, width: Int)
    /// The grid gradient of `bilinearSample`: `image`, `grid`, `outputGrad` → grid-shaped.
    case bilinearSampleGridGrad(alignCorners: Bool)

    /// Optimizer state that is not trained (Adam moments): a zero-initialised leaf that the
    /// step overwrites through `Graph.updates`.
    case variable(name: String)

    /// Short name of the primitive, as shown in summaries and DOT (`matmul`, `tanh`, `conv2d`).
    public var name: String {
        switch self {
        case .input: return "input"
        case .parameter: return "parameter"
        case .constant: return "constant"
        case .matmul: return "matmul"
        case .groupedMatmul: return "groupedMatmul"
        case .groupedMatmulWeightGrad: return "groupedMatmulWeightGrad"
        case .conv2dFilterGrad: return "conv2dFilterGrad"
        case .maxPoolGrad: return "maxPoolGrad"
        case .affineGridGrad: return "affineGridGrad"
        case .bilinearSampleImageGrad: return "bilinearSampleImageGrad"
        case .bilinearSampleGridGrad: return "bilinearSampleGridGrad"
        case .variable: return "variable"
        case .unary(let f): return f.rawValue
        case .binary(let f): return f.rawValue
        case .compare(let c): return c.rawValue
        case .select: return "select"
        case .reduce(let r, _, _): return "reduce\(r.rawValue.prefix(1).uppercased())\(r.rawValue.dropFirst())"
        case .reshape: return "reshape"
        case .transpose: return "transpose"
        case .broadcast: return "broadcast"
        case .slice: return "slice"
        case .concat: return "concat"
        case .gatherRows: return "gatherRows"
        case .scatterAddRows: return "scatterAddRows"
        case .oneHot: return "oneHot"
        case .logSoftmax: return "logSoftmax"
        case .conv2d: return "conv2d"
        case .transposedConv2d: return "transposedConv2d"
        case .maxPool: return "maxPool"
        case .affineGrid: return "affineGrid"
        case .bilinearSample: return "bilinearSample"
        case .random(let d, _, _): return "random\(d.rawValue.prefix(1).uppercased())\(d.rawValue.dropFirst())"
        case .dropout: return "dropout"
        case .stopGradient: return "stopGradient"
        }
    }

    /// The primitive with its attributes, for DOT labels (`matmul(Bᵀ)`, `conv2d(s2, same)`).
    public var detailedName: String {
        switch self {
        case .input(let n): return "input \"\(n)\""
        case .parameter(let n, _): return "param \"\(n)\""
        case .variable(let n): return "variable \"\(n)\""
        case .groupedMatmul(let t): return t ? "groupedMatmul(Wᵀ)" : "groupedMatmul"
        case .constant(let v): return "constant \(v)"
        case .matmul(let ta, let tb):
            let flags = [ta ? "Aᵀ" : nil, tb ? "Bᵀ" : nil].compactMap { $0 }
            return flags.isEmpty ? "matmul" : "matmul(\(flags.joined(separator: ", ")))"
        case .reduce(_, let axes, let keep):
            return "\(name)(axes: \(axes)\(keep ? ", keepDims" : ""))"
        case .reshape(let s): return "reshape \(s)"
        case .transpose(let p): return "transpose \(p)"
        case .broadcast(let s): return "broadcast \(s)"
        case .slice(let a, let s, let e): return "slice(axis \(a), \(s)..<\(e))"
        case .concat(let a): return "concat(axis \(a))"
        case .scatterAddRows(let r): return "scatterAddRows(\(r))"
        case .oneHot(let c): return "oneHot(\(c))"
        case .logSoftmax(let a): return "logSoftmax(axis \(a))"
        case .conv2d(let s, let p, let c): return "conv2d(stride \(s), \(p)\(Self.perClass(c)))"
        case .transposedConv2d(let s, let p, let h, let w, let c):
            return "transposedConv2d(stride \(s), \(p), \(h)×\(w)\(Self.perClass(c)))"
        case .conv2dFilterGrad(_, _, _, _, let c): return "conv2dFilterGrad\(c.map { "(\($0) classes)" } ?? "")"
        case .maxPool(let k, let s): return "maxPool(\(k), stride \(s))"
        case .affineGrid(let h, let w, let ac): return "affineGrid(\(h)×\(w)\(ac ? ", alignCorners" : ""))"
        case .bilinearSample(let ac): return "bilinearSample\(ac ? "(alignCorners)" : "")"
        case .dropout(let r, _): return "dropout(\(r))"
        // Their name says all: the function, or a primitive without attributes.
        case .unary, .binary, .compare, .select, .gatherRows, .random, .stopGradient, .groupedMatmulWeightGrad,
            .maxPoolGrad, .affineGridGrad, .bilinearSampleImageGrad, .bilinearSampleGridGrad:
            return name
        }
    }

    private static func perClass(_ classes: Int?) -> String { classes.map { ", \($0) classes" } ?? "" }
}
