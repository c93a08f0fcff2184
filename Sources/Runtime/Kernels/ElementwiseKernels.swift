#if canImport(Glibc)
    import Glibc
#endif
import CKernels
import Graph

/// Element-wise kernels: one function of one argument, two with broadcasting, three (select).
enum ElementwiseKernels {
    /// `y = f(x)`. exp, log, tanh, sigmoid and softplus go to the vector functions of
    /// `CKernels/VectorMath.c` (8 lanes, within 3 ulp; several times faster than glibc's
    /// scalar calls), which fall back to the scalar formulas (sigmoid as 1/(1 + e^−x) or eˣ/(1 + eˣ) by
    /// sign; softplus as max(x, 0) + log1p(e^−|x|)) where a CPU lacks AVX2 and FMA.
    static func unary(_ f: UnaryFunction, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch f {
        case .neg: for i in 0..<n { y[i] = UnaryFunction.neg.value(x[i]) }
        case .exp: gauge_vector_exp(x, y, n)
        case .log: gauge_vector_log(x, y, n)
        case .tanh: gauge_vector_tanh(x, y, n)
        case .sigmoid: gauge_vector_sigmoid(x, y, n)
        case .relu: for i in 0..<n { y[i] = UnaryFunction.relu.value(x[i]) }
        case .softplus: gauge_vector_softplus(x, y, n)
        case .abs: for i in 0..<n { y[i] = UnaryFunction.abs.value(x[i]) }
        case .sqrt: for i in 0..<n { y[i] = UnaryFunction.sqrt.value(x[i]) }
        case .square: for i in 0..<n { y[i] = UnaryFunction.square.value(x[i]) }
        }
    }

    /// `out = f(a, b)` with broadcasting; `f` is specialised per call site. Operands are float32,
    /// or int32 for comparisons of labels.
    @inline(__always)
    static func broadcast2<E>(
        _ a: UnsafePointer<E>, _ aShape: [Int], _ b: UnsafePointer<E>, _ bShape: [Int],
        _ out: UnsafeMutablePointer<Float>, _ outShape: [Int], _ f: (E, E) -> Float
    ) {
        let n = outShape.reduce(1, *)
        let na = aShape.reduce(1, *)
        let nb = bShape.reduce(1, *)
        if na == n && nb == n {
            for i in 0..<n { out[i] = f(a[i], b[i]) }
        } else if nb == 1 && na == n {
            let s = b[0]
            for i in 0..<n { out[i] = f(a[i], s) }
        } else if na == 1 && nb == n {
            let s = a[0]
            for i in 0..<n { out[i] = f(s, b[i]) }
        } else {
            let sa = broadcastStrides(aShape, to: outShape)
            let sb = broadcastStrides(bShape, to: outShape)
            let so = broadcastStrides(outShape, to: outShape)
            let inner = outShape.last ?? 1
            let ia = sa.last ?? 0
            let ib = sb.last ?? 0
            forEachRow(outShape, StrideSets(sa, sb, so)) { o in
                for j in 0..<inner { out[o[2] + j] = f(a[o[0] + j * ia], b[o[1] + j * ib]) }
            }
        }
    }

    static func binary(
        _ f: BinaryFunction, _ a: UnsafePointer<Float>, _ aShape: [Int], _ b: UnsafePointer<Float>,
        _ bShape: [Int], _ out: UnsafeMutablePointer<Float>, _ outShape: [Int]
    ) {
        switch f {
        case .add: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.add.value($0, $1) }
        case .sub: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.sub.value($0, $1) }
        case .mul: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.mul.value($0, $1) }
        case .div: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.div.value($0, $1) }
        case .max: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.max.value($0, $1) }
        case .min: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.min.value($0, $1) }
        case .pow: broadcast2(a, aShape, b, bShape, out, outShape) { BinaryFunction.pow.value($0, $1) }
        }
    }

    static func compare<E: Comparable>(
        _ c: Comparison, _ a: UnsafePointer<E>, _ aShape: [Int], _ b: UnsafePointer<E>, _ bShape: [Int],
        _ out: UnsafeMutablePointer<Float>, _ outShape: [Int]
    ) {
        withComparison(c) { f in broadcast2(a, aShape, b, bShape, out, outShape, f) }
    }

    /// Runs `loop` with the comparison `c` as a 0/1 function chosen once, outside the element
    /// loop (a switch per element stops vectorisation). Both the primitive and the fused
    /// comparison go through here.
    @inline(__always)
    static func withComparison<E: Comparable>(_ c: Comparison, _ loop: ((E, E) -> Float) -> Void) {
        switch c {
        case .less: loop { Comparison.less.holds($0, $1) ? 1 : 0 }
        case .lessEqual: loop { Comparison.lessEqual.holds($0, $1) ? 1 : 0 }
        case .greater: loop { Comparison.greater.holds($0, $1) ? 1 : 0 }
        case .greaterEqual: loop { Comparison.greaterEqual.holds($0, $1) ? 1 : 0 }
        case .equal: loop { Comparison.equal.holds($0, $1) ? 1 : 0 }
        case .notEqual: loop { Comparison.notEqual.holds($0, $1) ? 1 : 0 }
        }
    }

    /// `out = mask ≠ 0 ? a : b` with broadcasting of all three.
    static func select(
        _ m: UnsafePointer<Float>, _ mShape: [Int], _ a: UnsafePointer<Float>, _ aShape: [Int],
        _ b: UnsafePointer<Float>, _ bShape: [Int], _ out: UnsafeMutablePointer<Float>, _ outShape: [Int]
    ) {
        let strides = StrideSets(
            broadcastStrides(mShape, to: outShape), broadcastStrides(aShape, to: outShape),
            broadcastStrides(bShape, to: outShape), broadcastStrides(outShape, to: outShape))
        let inner = outShape.last ?? 1
        let (im, ia, ib) = (strides[0].last ?? 0, strides[1].last ?? 0, strides[2].last ?? 0)
        forEachRow(outShape, strides) { o in
            for j in 0..<inner {
                out[o[3] + j] = m[o[0] + j * im] != 0 ? a[o[1] + j * ia] : b[o[2] + j * ib]
            }
        }
    }

    /// Copies `x` broadcast to `outShape`.
    static func broadcast(_ x: UnsafePointer<Float>, _ xShape: [Int], _ out: UnsafeMutablePointer<Float>, _ outShape: [Int]) {
        let sx = broadcastStrides(xShape, to: outShape)
        let so = broadcastStrides(outShape, to: outShape)
        let inner = outShape.last ?? 1
        let ix = sx.last ?? 0
        forEachRow(outShape, StrideSets(sx, so)) { o in
            for j in 0..<inner { out[o[1] + j] = x[o[0] + j * ix] }
        }
    }
}
