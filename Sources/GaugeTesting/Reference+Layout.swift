import Foundation
import Graph

extension Reference {
    /// Sum, mean or max over `axes`; `dims` is the result's (with or without kept axes).
    static func reduce(_ x: ReferenceTensor, _ r: Reduction, axes: [Int], _ dims: [Int]) -> ReferenceTensor {
        let kept = x.dims.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let keptStrides = ReferenceTensor.strides(kept)
        let toOut = x.dims.indices.map { axes.contains($0) ? 0 : keptStrides[$0] }
        var out = [Double](repeating: r == .max ? -.infinity : 0, count: kept.reduce(1, *))
        var walk = Odometer(x.dims, [toOut])
        for v in x.values {
            let o = walk.offsets[0]
            out[o] = r == .max ? (v > out[o] || v.isNaN ? v : out[o]) : out[o] + v
            walk.advance()
        }
        if r == .mean {
            let n = Double(axes.reduce(1) { $0 * x.dims[$1] })
            out = out.map { $0 / n }
        }
        return ReferenceTensor(dims, out)
    }

    /// `y.dims[i] = x.dims[permutation[i]]`.
    static func transpose(_ x: ReferenceTensor, _ permutation: [Int]) -> ReferenceTensor {
        let strides = ReferenceTensor.strides(x.dims)
        let dims = permutation.map { x.dims[$0] }
        var walk = Odometer(dims, [permutation.map { strides[$0] }])
        var out = [Double](repeating: 0, count: x.values.count)
        for i in out.indices {
            out[i] = x.values[walk.offsets[0]]
            walk.advance()
        }
        return ReferenceTensor(dims, out)
    }

    static func slice(_ x: ReferenceTensor, axis: Int, start: Int, end: Int) -> ReferenceTensor {
        let strides = ReferenceTensor.strides(x.dims)
        var dims = x.dims
        dims[axis] = end - start
        var walk = Odometer(dims, [strides], start: [start * strides[axis]])
        var out = [Double](repeating: 0, count: dims.reduce(1, *))
        for i in out.indices {
            out[i] = x.values[walk.offsets[0]]
            walk.advance()
        }
        return ReferenceTensor(dims, out)
    }

    static func concat(_ parts: [ReferenceTensor], axis: Int) -> ReferenceTensor {
        var dims = parts[0].dims
        dims[axis] = parts.reduce(0) { $0 + $1.dims[axis] }
        let outer = dims[..<axis].reduce(1, *)
        var out: [Double] = []
        out.reserveCapacity(dims.reduce(1, *))
        for o in 0..<outer {
            for part in parts {
                let chunk = part.dims[axis...].reduce(1, *)
                out += part.values[(o * chunk)..<((o + 1) * chunk)]
            }
        }
        return ReferenceTensor(dims, out)
    }

    /// `y[i] = table[indices[i]]`.
    static func gatherRows(_ table: ReferenceTensor, _ indices: ReferenceTensor) throws(BadIndex) -> ReferenceTensor {
        let rows = table.dims[0]
        let size = table.dims.dropFirst().reduce(1, *)
        var out: [Double] = []
        for v in indices.values {
            let r = Int(v)
            guard r >= 0 && r < rows else { throw BadIndex(value: r, limit: rows) }
            out += table.values[(r * size)..<((r + 1) * size)]
        }
        return ReferenceTensor([indices.values.count] + table.dims.dropFirst(), out)
    }

    /// `y = 0; y[indices[i]] += values[i]`.
    static func scatterAddRows(_ values: ReferenceTensor, _ indices: ReferenceTensor, rows: Int) throws(BadIndex) -> ReferenceTensor {
        let size = values.dims.dropFirst().reduce(1, *)
        var out = ReferenceTensor(zeros: [rows] + values.dims.dropFirst())
        for (i, v) in indices.values.enumerated() {
            let r = Int(v)
            guard r >= 0 && r < rows else { throw BadIndex(value: r, limit: rows) }
            for j in 0..<size { out.values[r * size + j] += values.values[i * size + j] }
        }
        return out
    }

    static func oneHot(_ indices: ReferenceTensor, classes: Int) throws(BadIndex) -> ReferenceTensor {
        var out = ReferenceTensor(zeros: [indices.values.count, classes])
        for (i, v) in indices.values.enumerated() {
            let c = Int(v)
            guard c >= 0 && c < classes else { throw BadIndex(value: c, limit: classes) }
            out.values[i * classes + c] = 1
        }
        return out
    }

    /// `x − max − log Σ exp(x − max)` along `axis`.
    static func logSoftmax(_ x: ReferenceTensor, axis: Int) -> ReferenceTensor {
        let n = x.dims[axis]
        let inner = x.dims[(axis + 1)...].reduce(1, *)
        let outer = x.dims[..<axis].reduce(1, *)
        var out = x.values
        for o in 0..<outer {
            for i in 0..<inner {
                let at = (0..<n).map { (o * n + $0) * inner + i }
                let peak = at.map { x.values[$0] }.max()!
                let total = at.reduce(0.0) { $0 + Foundation.exp(x.values[$1] - peak) }
                for k in at { out[k] = x.values[k] - peak - Foundation.log(total) }
            }
        }
        return ReferenceTensor(x.dims, out)
    }
}
