import Graph

/// A small model whose training graph holds every primitive of `Op`: convolutions (strided,
/// `same` and `valid`, per class), their transposes, overlapping and tiling max-pools, the
/// affine grid and sampler, grouped matmuls both ways, gathers and scatters, every element-wise
/// function, comparison and reduction, random numbers, dropout and `stopGradient` — and, after
/// autodiff, every gradient primitive. Its inputs are `image [batch, 2, 6, 6]` and `label
/// [batch]` (classes 0, 1, 2); `testInputs` feeds them.
public func everyPrimitiveModel() throws -> Model {
    try Model("every-primitive") {
        let image = Input("image", [.batch, 2, 6, 6])
        let label = Input("label", [.batch], dtype: .int32)
        let strided = image.convolved(with: weights("filter", [3, 2, 3, 3]), stride: 2, padding: .same)  // [B, 3, 3, 3]
        let byClass = image.convolved(with: weights("classFilter", [3, 3, 2, 3, 3]), padding: .valid, labels: label)  // [B, 3, 4, 4]
        let up = strided.transposedConvolved(with: weights("upFilter", [3, 2, 3, 3]), stride: 2, height: 6, width: 6)
        let upByClass = byClass.transposedConvolved(
            with: weights("classUpFilter", [3, 3, 2, 3, 3]), padding: .valid, height: 6, width: 6, labels: label)
        let features = (up + upByClass).tanh()  // [B, 2, 6, 6]
        let tiled = features.maxPool(2)  // [B, 2, 3, 3]
        let overlapping = features.maxPool(3, stride: 1)  // [B, 2, 4, 4]
        // A spatial transformer: θ from the image, near the identity.
        let identity = Parameter("identity", [2, 3], initializer: .identityAffine)
        let theta = image.flattened().matmul(weights("localise", [72, 6])).reshaped([.batch, 2, 3]) * 0.1 + identity
        let warped = features.sampled(at: affineGrid(theta, height: 5, width: 5, alignCorners: false), alignCorners: false)
        let flat = concat([tiled.flattened(), overlapping.flattened(), warped.flattened()], axis: 1)  // [B, 100]
        let h = flat.groupedMatmul(weights("byClass", [3, 100, 4]), labels: label)
        let g = flat.groupedMatmul(weights("byClassT", [3, 4, 100]), labels: label, transposeWeights: true)
        let table = weights("table", [3, 4]).gatherRows(label)  // [B, 4]
        let mixed = select(h.compare(.greater, g), h, g * 0.5) + table.sigmoid() * g.softplus()
            + (h.abs() + 1).sqrt().log() - g.square() * 0.1 + h.exp().combine(.min, 2) + g.combine(.max, h).relu()
            + (h.abs() + 0.5).combine(.pow, g.sigmoid()) + h / (g.square() + 1) - (-g)
        let noisy = mixed + random(.normal, [.batch, 4]) * 0.1 + random(.laplace, [.batch, 4]) * 0.05
            + random(.uniform, [1, 4]) * 0.1
        // stopGradient on a value no parameter reaches, so central differences agree with autodiff.
        let dropped = noisy.dropout(0.25) + image.stopGradient().mean(axes: [1, 2, 3]).reshaped([.batch, 1]) * 0.1
        let rows = dropped.scatterAddRows(label, rows: 3)  // [3, 4]
        let pairs = dropped.reshaped([.batch, 2, 2]).transposed([0, 2, 1]).sliced(axis: 1, 0..<1).flattened()  // [B, 2]
        let logits = concat([dropped, pairs], axis: 1)  // [B, 6]
        let logProbabilities = logits.logSoftmax(axis: 1).sliced(axis: 1, 0..<3)
        Loss(-(logProbabilities * label.oneHot(3)).sum(), name: "cross_entropy")
        Loss((rows.square().mean() + logits.max(axes: [1]).sum() * 0.1) + theta.broadcast(to: [.batch, 2, 3]).sum() * 0.01, name: "extra")
        Output("logits", logits)
    }
}

/// A parameter drawn from U(−0.5, 0.5).
private func weights(_ name: String, _ shape: Shape) -> Tensor { Parameter(name, shape, initializer: .uniform(low: -0.5, high: 0.5)) }
