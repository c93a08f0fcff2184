/// The shape rules of the gradient primitives autodiff makes (filter, pooling and sampler
/// gradients): each gives its operand's shape back and checks that the incoming gradient fits.
extension Op {
    /// A filter gradient: the filter's shape, one per class with labels.
    static func conv2dFilterGradRule(
        _ operands: [TensorType], _ stride: Int, _ padding: Padding, _ kh: Int, _ kw: Int, _ classes: Int?
    ) throws(ShapeProblem) -> TensorType {
        let filter = try Self.conv2dFilterGradType(operands[0], operands[1], stride, padding, kh, kw)
        guard let classes else { return filter }
        try Self.requireLabels(operands[2], for: operands[0], classes: classes)
        return TensorType(Shape([.fixed(classes)] + filter.shape.dims))
    }

    /// A max-pool's input gradient: the input's shape, with the output gradient the pooled one.
    static func maxPoolGradRule(_ operands: [TensorType], window: Int, stride: Int) throws(ShapeProblem) -> TensorType {
        let pooled = try Self.maxPoolType(operands[0], window: window, stride: stride)
        guard pooled == operands[1] else {
            throw ShapeProblem("output gradient \(operands[1]) does not match the pooled shape \(pooled)")
        }
        return operands[0]
    }

    /// θ's gradient from the grid's: `[batch, 2, 3]`.
    static func affineGridGradRule(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        let g = operands[0]
        guard g.dtype == .float32, g.shape.rank == 4, g.shape[3] == 2 else {
            throw ShapeProblem("grid gradient has shape \(g); expected [batch, height, width, 2]")
        }
        return TensorType([g.shape[0], 2, 3])
    }

    /// The sampled image's gradient: the image's shape from the output gradient and the grid.
    static func bilinearSampleImageGradRule(_ operands: [TensorType], height: Int, width: Int) throws(ShapeProblem) -> TensorType {
        let (grid, g) = (operands[0], operands[1])
        guard g.dtype == .float32, g.shape.rank == 4, grid.shape.rank == 4, grid.shape[0] == g.shape[0],
            grid.shape[1] == g.shape[2], grid.shape[2] == g.shape[3]
        else { throw ShapeProblem("grid \(grid.shape) and output gradient \(g.shape) disagree") }
        return TensorType([g.shape[0], g.shape[1], .fixed(height), .fixed(width)])
    }

    /// The grid's gradient: the grid's shape, with the output gradient the sampled one.
    static func bilinearSampleGridGradRule(_ operands: [TensorType]) throws(ShapeProblem) -> TensorType {
        let sampled = try Self.bilinearSampleType(operands[0], operands[1])
        guard sampled == operands[2] else {
            throw ShapeProblem("output gradient \(operands[2]) does not match the sampled shape \(sampled)")
        }
        return operands[1]
    }
}
