/// Strides for reading an operand of shape `shape` while walking an output of shape `out`
/// (NumPy broadcasting: missing leading axes and size-1 axes get stride 0).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    var strides = Array(repeating: 0, count: out.count)
    var step = 1
    let lead = out.count - shape.count
    for i in (0..<shape.count).reversed() {
        strides[lead + i] = shape[i] == 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Walks every element of `shape` in row-major order, calling `body` once per innermost row
/// with the starting offsets for each stride set; the row has `shape.last` elements.
@inline(__always)
func forEachRow(_ shape: [Int], _ strides: [[Int]], _ body: (_ offsets: [Int]) -> Void) {
    let rank = shape.count
    if rank == 0 {
        body(Array(repeating: 0, count: strides.count))
        return
    }
    if shape.contains(0) { return }
    var index = Array(repeating: 0, count: rank)
    var offsets = Array(repeating: 0, count: strides.count)
    while true {
        body(offsets)
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            for s in 0..<strides.count { offsets[s] += strides[s][axis] }
            if index[axis] < shape[axis] { break }
            for s in 0..<strides.count { offsets[s] -= strides[s][axis] * shape[axis] }
            index[axis] = 0
            axis -= 1
        }
        if axis < 0 { return }
    }
}
