/// Data movement: transpose, slice, concat, gather and scatter-add of rows, one-hot.
enum LayoutKernels {
    static func transpose(
        _ x: UnsafePointer<Float>, _ xShape: [Int], permutation: [Int], _ y: UnsafeMutablePointer<Float>
    ) {
        let xStrides = broadcastStrides(xShape, to: xShape)
        var outShape = SmallInts(count: xShape.count)
        var read = SmallInts(count: xShape.count)
        for (i, p) in permutation.enumerated() { (outShape[i], read[i]) = (xShape[p], xStrides[p]) }
        var write = SmallInts(count: xShape.count)
        var step = 1
        for i in (0..<outShape.count).reversed() {
            write[i] = step
            step *= outShape[i]
        }
        let inner = outShape.last ?? 1
        let readStep = read.last ?? 0
        forEachRow(outShape, StrideSets(read, write)) { o in
            for j in 0..<inner { y[o[1] + j] = x[o[0] + j * readStep] }
        }
    }

    /// Copies `[start, end)` along `axis` of `x` into `y`.
    static func slice(
        _ x: UnsafePointer<Float>, _ shape: [Int], axis: Int, start: Int, end: Int, _ y: UnsafeMutablePointer<Float>
    ) {
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let width = (end - start) * inner
        for o in 0..<outer {
            (y + o * width).update(from: x + (o * shape[axis] + start) * inner, count: width)
        }
    }

    /// Joins `parts` inputs along `axis`; `part(k)` gives input k and its shape.
    static func concat(
        parts: Int, _ part: (Int) -> (UnsafePointer<Float>, [Int]), axis: Int, _ y: UnsafeMutablePointer<Float>,
        _ outShape: [Int]
    ) {
        let outer = outShape[..<axis].reduce(1, *)
        let inner = outShape[(axis + 1)...].reduce(1, *)
        var offset = 0
        for k in 0..<parts {
            let (x, shape) = part(k)
            let width = shape[axis] * inner
            for o in 0..<outer {
                (y + o * outShape[axis] * inner + offset).update(from: x + o * width, count: width)
            }
            offset += width
        }
    }

    /// `y[i] = table[indices[i]]`; false when an index is out of range.
    static func gatherRows(
        _ table: UnsafePointer<Float>, rows: Int, rowSize: Int, _ indices: UnsafePointer<Int32>, count: Int,
        _ y: UnsafeMutablePointer<Float>
    ) -> Int? {
        for i in 0..<count {
            let r = Int(indices[i])
            guard r >= 0 && r < rows else { return r }
            (y + i * rowSize).update(from: table + r * rowSize, count: rowSize)
        }
        return nil
    }

    /// `y = 0; y[indices[i]] += values[i]`; returns a bad index if any.
    static func scatterAddRows(
        _ values: UnsafePointer<Float>, rowSize: Int, _ indices: UnsafePointer<Int32>, count: Int,
        _ y: UnsafeMutablePointer<Float>, rows: Int
    ) -> Int? {
        y.update(repeating: 0, count: rows * rowSize)
        for i in 0..<count {
            let r = Int(indices[i])
            guard r >= 0 && r < rows else { return r }
            let dst = y + r * rowSize
            let src = values + i * rowSize
            for j in 0..<rowSize { dst[j] += src[j] }
        }
        return nil
    }

    static func oneHot(_ indices: UnsafePointer<Int32>, count: Int, classes: Int, _ y: UnsafeMutablePointer<Float>)
        -> Int?
    {
        y.update(repeating: 0, count: count * classes)
        for i in 0..<count {
            let c = Int(indices[i])
            guard c >= 0 && c < classes else { return c }
            y[i * classes + c] = 1
        }
        return nil
    }
}
