/// Shape rules for the image primitives: convolutions, pooling, the affine grid and sampler.
extension Op {
    /// Output size of a convolution or pooling window along one axis.
    public static func windowOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Padding) -> Int {
        switch padding {
        case .same: return (size + stride - 1) / stride
        case .valid: return size >= kernel ? (size - kernel) / stride + 1 : 0
        }
    }

    /// Total padding (before + after) that `same` adds along one axis; `before = total / 2`.
    public static func samePaddingTotal(_ size: Int, kernel: Int, stride: Int) -> Int {
        let out = (size + stride - 1) / stride
        return max((out - 1) * stride + kernel - size, 0)
    }

    static func imageDims(_ t: TensorType, _ what: String) throws(ShapeProblem) -> (Int, Int) {
        try requireFloat(t, what)
        guard t.shape.rank == 4 else {
            throw ShapeProblem("\(what) has shape \(t.shape); expected rank 4 [batch, channels, height, width]",
                hint: "reshape to NCHW first")
        }
        guard let h = t.shape[2].fixedSize, let w = t.shape[3].fixedSize else {
            throw ShapeProblem("\(what) \(t.shape) has a batch-sized spatial dimension")
        }
        return (h, w)
    }

    static func filterDims(_ t: TensorType) throws(ShapeProblem) -> [Int] {
        try requireFloat(t, "filter")
        let dims = t.shape.dims.compactMap(\.fixedSize)
        guard t.shape.rank == 4, dims.count == 4 else {
            throw ShapeProblem("filter has shape \(t.shape); expected a fixed rank-4 shape")
        }
        return dims
    }

    /// The filter one image of a convolution uses: operand 1, or with `classes` one slice of a
    /// `[classes, …]` filter chosen by the labels in operand 2.
    static func perImageFilter(_ operands: [TensorType], classes: Int?) throws(ShapeProblem) -> TensorType {
        guard let classes else { return operands[1] }
        try requireLabels(operands[2], for: operands[0], classes: classes)
        let f = operands[1]
        guard f.shape.rank == 5, f.shape[0] == .fixed(classes) else {
            throw ShapeProblem(
                "filter has shape \(f.shape); a per-class convolution needs one rank-4 filter per class, [\(classes), …] (rank 5)")
        }
        return TensorType(Shape(Array(f.shape.dims.dropFirst())), f.dtype)
    }

    /// Labels of a per-class convolution: an int32 vector as long as the batch of `input`.
    static func requireLabels(_ labels: TensorType, for input: TensorType, classes: Int) throws(ShapeProblem) {
        guard classes > 0 else { throw ShapeProblem("class count \(classes) must be positive") }
        try requireIndices(labels)
        guard input.shape.rank > 0, labels.shape[0] == input.shape[0] else {
            throw ShapeProblem("labels \(labels.shape) and input \(input.shape) differ in batch")
        }
    }

    static func conv2dType(_ x: TensorType, _ f: TensorType, stride: Int, padding: Padding) throws(ShapeProblem)
        -> TensorType
    {
        let (h, w) = try imageDims(x, "input")
        let fd = try filterDims(f)
        guard stride > 0 else { throw ShapeProblem("stride \(stride) must be positive") }
        guard x.shape[1] == .fixed(fd[1]) else {
            throw ShapeProblem(
                "input \(x.shape) has \(x.shape[1]) channels; filter \(f.shape) expects \(fd[1])")
        }
        let oh = windowOutputSize(h, kernel: fd[2], stride: stride, padding: padding)
        let ow = windowOutputSize(w, kernel: fd[3], stride: stride, padding: padding)
        guard oh > 0, ow > 0 else {
            throw ShapeProblem(
                "input \(x.shape) is smaller than the \(fd[2])×\(fd[3]) filter with valid padding",
                hint: "use padding: .same or a smaller kernel")
        }
        return TensorType([x.shape[0], .fixed(fd[0]), .fixed(oh), .fixed(ow)])
    }

    static func transposedConv2dType(
        _ x: TensorType, _ f: TensorType, stride: Int, padding: Padding, height: Int, width: Int
    ) throws(ShapeProblem) -> TensorType {
        let (h, w) = try imageDims(x, "input")
        let fd = try filterDims(f)
        guard stride > 0 else { throw ShapeProblem("stride \(stride) must be positive") }
        guard x.shape[1] == .fixed(fd[0]) else {
            throw ShapeProblem(
                "input \(x.shape) has \(x.shape[1]) channels; filter \(f.shape) expects \(fd[0]) ([in, out, kh, kw])")
        }
        let backH = windowOutputSize(height, kernel: fd[2], stride: stride, padding: padding)
        let backW = windowOutputSize(width, kernel: fd[3], stride: stride, padding: padding)
        guard backH == h, backW == w else {
            throw ShapeProblem(
                "output \(height)×\(width) does not map back to the input's \(h)×\(w) under conv2d(stride \(stride), \(padding)) (it gives \(backH)×\(backW))",
                hint: "with padding .same the output is about input × stride")
        }
        return TensorType([x.shape[0], .fixed(fd[1]), .fixed(height), .fixed(width)])
    }

    static func conv2dFilterGradType(
        _ x: TensorType, _ g: TensorType, _ stride: Int, _ padding: Padding, _ kh: Int, _ kw: Int
    ) throws(ShapeProblem) -> TensorType {
        let (h, w) = try imageDims(x, "input")
        let (gh, gw) = try imageDims(g, "output gradient")
        let oh = windowOutputSize(h, kernel: kh, stride: stride, padding: padding)
        let ow = windowOutputSize(w, kernel: kw, stride: stride, padding: padding)
        guard x.shape[0] == g.shape[0], gh == oh, gw == ow else {
            throw ShapeProblem("output gradient \(g.shape) does not match conv2d of input \(x.shape)")
        }
        return TensorType([g.shape[1], x.shape[1], .fixed(kh), .fixed(kw)])
    }

    static func maxPoolType(_ x: TensorType, window: Int, stride: Int) throws(ShapeProblem) -> TensorType {
        let (h, w) = try imageDims(x, "input")
        guard window > 0, stride > 0 else {
            throw ShapeProblem("window \(window) and stride \(stride) must be positive")
        }
        guard h >= window, w >= window else {
            throw ShapeProblem("input \(x.shape) is smaller than the \(window)×\(window) window")
        }
        let oh = windowOutputSize(h, kernel: window, stride: stride, padding: .valid)
        let ow = windowOutputSize(w, kernel: window, stride: stride, padding: .valid)
        return TensorType([x.shape[0], x.shape[1], .fixed(oh), .fixed(ow)])
    }

    static func affineGridType(_ theta: TensorType, height: Int, width: Int) throws(ShapeProblem) -> TensorType {
        try requireFloat(theta, "theta")
        guard theta.shape.rank == 3, theta.shape[1] == 2, theta.shape[2] == 3 else {
            throw ShapeProblem("theta has shape \(theta.shape); expected [batch, 2, 3]",
                hint: "reshape the six affine parameters to [batch, 2, 3]")
        }
        guard height > 0, width > 0 else { throw ShapeProblem("grid size \(height)×\(width) must be positive") }
        return TensorType([theta.shape[0], .fixed(height), .fixed(width), 2])
    }

    static func bilinearSampleType(_ image: TensorType, _ grid: TensorType) throws(ShapeProblem) -> TensorType {
        _ = try imageDims(image, "image")
        try requireFloat(grid, "grid")
        guard grid.shape.rank == 4, grid.shape[3] == 2 else {
            throw ShapeProblem("grid has shape \(grid.shape); expected [batch, height, width, 2]")
        }
        guard grid.shape[0] == image.shape[0] else {
            throw ShapeProblem("image \(image.shape) and grid \(grid.shape) differ in batch")
        }
        return TensorType([image.shape[0], image.shape[1], grid.shape[1], grid.shape[2]])
    }
}
