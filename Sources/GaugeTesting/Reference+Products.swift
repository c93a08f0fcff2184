import Graph

extension Reference {
    /// `op(a) · op(b)` on rank-2 operands, op the transpose where asked.
    static func matmul(_ a: ReferenceTensor, _ b: ReferenceTensor, _ ta: Bool, _ tb: Bool) -> ReferenceTensor {
        let (m, k) = ta ? (a.dims[1], a.dims[0]) : (a.dims[0], a.dims[1])
        let n = tb ? b.dims[0] : b.dims[1]
        func at(_ i: Int, _ p: Int) -> Double { ta ? a.values[p * m + i] : a.values[i * k + p] }
        func bt(_ p: Int, _ j: Int) -> Double { tb ? b.values[j * k + p] : b.values[p * n + j] }
        var out = ReferenceTensor(zeros: [m, n])
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += at(i, p) * bt(p, j) }
                out.values[i * n + j] = sum
            }
        }
        return out
    }

    /// `y[b] = x[b] · w[labels[b]]` (`w [C, K, N]`), or `x[b] · w[labels[b]]ᵀ` (`w [C, N, K]`).
    static func groupedMatmul(_ x: ReferenceTensor, _ w: ReferenceTensor, _ labels: ReferenceTensor, _ transposed: Bool)
        throws(BadIndex) -> ReferenceTensor
    {
        let (rows, k) = (x.dims[0], x.dims[1])
        let (classes, n) = (w.dims[0], transposed ? w.dims[1] : w.dims[2])
        var out = ReferenceTensor(zeros: [rows, n])
        for r in 0..<rows {
            let c = Int(labels.values[r])
            guard c >= 0 && c < classes else { throw BadIndex(value: c, limit: classes) }
            let base = c * k * n
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k { sum += x.values[r * k + p] * w.values[base + (transposed ? j * k + p : p * n + j)] }
                out.values[r * n + j] = sum
            }
        }
        return out
    }

    /// `dw[c] = Σ over rows with label c of a[b]ᵀ · g[b]`: `[classes, K, N]`.
    static func groupedMatmulWeightGrad(_ a: ReferenceTensor, _ g: ReferenceTensor, _ labels: ReferenceTensor, _ classes: Int)
        throws(BadIndex) -> ReferenceTensor
    {
        let (rows, k, n) = (a.dims[0], a.dims[1], g.dims[1])
        var out = ReferenceTensor(zeros: [classes, k, n])
        for r in 0..<rows {
            let c = Int(labels.values[r])
            guard c >= 0 && c < classes else { throw BadIndex(value: c, limit: classes) }
            for p in 0..<k {
                let x = a.values[r * k + p]
                for j in 0..<n { out.values[(c * k + p) * n + j] += x * g.values[r * n + j] }
            }
        }
        return out
    }
}
