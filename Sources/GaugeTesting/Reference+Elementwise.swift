import Foundation
import Graph

/// The reference definitions of Gauge's primitives, one function per primitive family.
enum Reference {
    /// An index operand outside its range: the value and the range's end.
    struct BadIndex: Error {
        var value: Int
        var limit: Int
    }

    static func map(_ x: ReferenceTensor, _ f: (Double) -> Double) -> ReferenceTensor {
        ReferenceTensor(x.dims, x.values.map(f))
    }

    /// An element-wise function of operands broadcast to `dims` (NumPy rules: sizes aligned at
    /// the right, a size of 1 or a missing axis repeated).
    static func zip(_ dims: [Int], _ operands: [ReferenceTensor], _ f: ([Double]) -> Double) -> ReferenceTensor {
        let count = dims.reduce(1, *)
        var walk = Odometer(dims, operands.map { broadcastStrides($0.dims, to: dims) })
        var out = [Double](repeating: 0, count: count)
        var arguments = [Double](repeating: 0, count: operands.count)
        for i in 0..<count {
            for k in operands.indices { arguments[k] = operands[k].values[walk.offsets[k]] }
            out[i] = f(arguments)
            walk.advance()
        }
        return ReferenceTensor(dims, out)
    }

    /// Strides that read `dims` as if it were broadcast to `target`: 0 along repeated axes.
    static func broadcastStrides(_ dims: [Int], to target: [Int]) -> [Int] {
        let own = ReferenceTensor.strides(dims)
        let shift = target.count - dims.count
        return target.indices.map { axis in
            let a = axis - shift
            return a < 0 || dims[a] == 1 ? 0 : own[a]
        }
    }

    static func apply(_ f: UnaryFunction, _ x: Double) -> Double {
        switch f {
        case .neg: return -x
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .relu: return x > 0 ? x : 0
        case .softplus: return Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
        case .abs: return Swift.abs(x)
        case .sqrt: return x.squareRoot()
        case .square: return x * x
        }
    }

    static func apply(_ f: BinaryFunction, _ a: Double, _ b: Double) -> Double {
        switch f {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        case .max: return Swift.max(a, b)
        case .min: return Swift.min(a, b)
        case .pow: return Foundation.pow(a, b)
        }
    }

    static func apply(_ c: Comparison, _ a: Double, _ b: Double) -> Bool {
        switch c {
        case .less: return a < b
        case .lessEqual: return a <= b
        case .greater: return a > b
        case .greaterEqual: return a >= b
        case .equal: return a == b
        case .notEqual: return a != b
        }
    }

    /// Each element kept when its uniform is at least `rate` (compared in Float32, as the
    /// definition draws them), then scaled by 1 / (1 − rate).
    static func dropout(_ x: ReferenceTensor, rate: Float, _ philox: ReferencePhilox, step: UInt64, stream: Int) -> ReferenceTensor {
        let uniforms = philox.uniforms(step: step, stream: stream, count: x.values.count)
        let scale = 1 / (1 - Double(rate))
        return ReferenceTensor(x.dims, Swift.zip(x.values, uniforms).map { v, u in u >= rate ? v * scale : 0 })
    }
}

/// Visits a tensor of `dims` in row-major order, keeping one flat offset per operand (each
/// with its own strides along those axes).
struct Odometer {
    let dims: [Int]
    let strides: [[Int]]
    var index: [Int]
    var offsets: [Int]

    init(_ dims: [Int], _ strides: [[Int]], start: [Int]? = nil) {
        self.dims = dims
        self.strides = strides
        index = [Int](repeating: 0, count: dims.count)
        offsets = start ?? [Int](repeating: 0, count: strides.count)
    }

    mutating func advance() {
        var axis = dims.count - 1
        while axis >= 0 {
            index[axis] += 1
            for k in offsets.indices { offsets[k] += strides[k][axis] }
            if index[axis] < dims[axis] { return }
            for k in offsets.indices { offsets[k] -= strides[k][axis] * dims[axis] }
            index[axis] = 0
            axis -= 1
        }
    }
}
