/// Up to eight integers held inline (no heap): shapes, strides and offsets of rank ≤ 8, so
/// kernels that walk broadcast operands allocate nothing per call.
struct SmallInts {
    static let capacity = 8  // Shape.maxRank: the shape rules refuse more
    private var storage: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count: Int

    init(count: Int) {
        // Invariant: every shape rule and leaf declaration refuses a rank above Shape.maxRank.
        precondition(count <= Self.capacity, "rank \(count) is above the kernels' limit of \(Self.capacity)")
        self.count = count
    }

    init(_ values: [Int]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { self[i] = v }
    }

    subscript(i: Int) -> Int {
        get { withUnsafeBytes(of: storage) { $0.load(fromByteOffset: i * MemoryLayout<Int>.stride, as: Int.self) } }
        set { withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: i * MemoryLayout<Int>.stride, as: Int.self) } }
    }

    var last: Int? { count == 0 ? nil : self[count - 1] }
    var product: Int {
        var p = 1
        for i in 0..<count { p *= self[i] }
        return p
    }
}

/// Two to four stride sets walked together by `forEachRow`.
struct StrideSets {
    private var sets: (SmallInts, SmallInts, SmallInts, SmallInts)
    let count: Int

    init(_ a: SmallInts, _ b: SmallInts, _ c: SmallInts? = nil, _ d: SmallInts? = nil) {
        let empty = SmallInts(count: a.count)
        sets = (a, b, c ?? empty, d ?? empty)
        count = d != nil ? 4 : c != nil ? 3 : 2
    }

    subscript(s: Int) -> SmallInts {
        switch s {
        case 0: return sets.0
        case 1: return sets.1
        case 2: return sets.2
        default: return sets.3
        }
    }
}

/// Strides for reading an operand of shape `shape` while walking an output of shape `out`
/// (NumPy broadcasting: missing leading axes and size-1 axes get stride 0).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> SmallInts {
    var strides = SmallInts(count: out.count)
    var step = 1
    let lead = out.count - shape.count
    for i in (0..<shape.count).reversed() {
        strides[lead + i] = shape[i] == 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Walks every element of `shape` in row-major order, calling `body` once per innermost row
/// with the starting offset for each stride set; the row has `shape.last` elements.
@inline(__always)
func forEachRow(_ shape: SmallInts, _ strides: StrideSets, _ body: (_ offsets: SmallInts) -> Void) {
    let rank = shape.count
    var offsets = SmallInts(count: strides.count)
    if rank == 0 {
        body(offsets)
        return
    }
    for axis in 0..<rank where shape[axis] == 0 { return }
    var index = SmallInts(count: rank)
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

@inline(__always)
func forEachRow(_ shape: [Int], _ strides: StrideSets, _ body: (_ offsets: SmallInts) -> Void) {
    forEachRow(SmallInts(shape), strides, body)
}
