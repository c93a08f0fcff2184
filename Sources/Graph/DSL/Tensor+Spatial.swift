/// DSL methods for the image primitives with explicit filters and grids; the layers in
/// `Tensor+Layers.swift` and `Spatial.swift` build on these.
extension Tensor {
    /// Convolution of NCHW `self` with `filter [out, in, kh, kw]`; with `labels [batch] int32`,
    /// `filter [classes, out, in, kh, kw]` holds one filter per class and each image uses its
    /// label's.
    public func convolved(
        with filter: Tensor, stride: Int = 1, padding: Padding = .same, labels: Tensor? = nil,
        file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let classes = labels == nil ? nil : filter.shape.dims.first?.fixedSize ?? 0
        return apply(
            .conv2d(stride: stride, padding: padding, classes: classes), [filter] + (labels.map { [$0] } ?? []),
            at: SourceLocation(file, filePath, line, column))
    }

    /// The adjoint of `convolved(with:stride:padding:)` with `filter [in, out, kh, kw]`, giving a
    /// `height × width` image; `labels` pick per-class filters `[classes, in, out, kh, kw]`.
    public func transposedConvolved(
        with filter: Tensor, stride: Int = 1, padding: Padding = .same, height: Int, width: Int,
        labels: Tensor? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        let classes = labels == nil ? nil : filter.shape.dims.first?.fixedSize ?? 0
        return apply(
            .transposedConv2d(stride: stride, padding: padding, height: height, width: width, classes: classes),
            [filter] + (labels.map { [$0] } ?? []), at: SourceLocation(file, filePath, line, column))
    }

    /// Bilinear samples of NCHW `self` at `grid [batch, H', W', 2]` (x, y in [−1, 1]); zero outside.
    public func sampled(
        at grid: Tensor, alignCorners: Bool = true, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(.bilinearSample(alignCorners: alignCorners), [grid], at: SourceLocation(file, filePath, line, column))
    }
}

/// The sampling grid `[batch, height, width, 2]` of affine transforms `theta [batch, 2, 3]`.
public func affineGrid(
    _ theta: Tensor, height: Int, width: Int, alignCorners: Bool = true, file: StaticString = #fileID,
    filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
) -> Tensor {
    theta.apply(
        .affineGrid(height: height, width: width, alignCorners: alignCorners),
        at: SourceLocation(file, filePath, line, column))
}
