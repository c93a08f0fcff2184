/// Loss terms and latent-variable helpers, summed over the batch as in the paper's code
/// (PAPER.md §1.2); with `perExample`, summed over all but the batch axis (`[batch]`), for
/// per-image evaluation. Each is a composition of primitives, reported under its own name.

/// The axes a loss sums: all, or all but the batch axis.
func summedAxes(_ t: Tensor, _ perExample: Bool) -> [Int] { Array((perExample ? 1 : 0)..<t.rank) }

extension Tensor {
    func composite(_ name: String, at: SourceLocation, _ body: (GraphBuilder) -> Tensor) -> Tensor {
        layer(name, call: name) { builder in body(builder) }
    }
}

/// Σ Bernoulli cross-entropy of `target` under sigmoid(`logits`): Σ softplus(l) − t·l.
public func bernoulliCrossEntropy(
    logits: Tensor, target: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return logits.composite("bernoulliCrossEntropy", at: at) { b in
        let sp = logits.apply(.unary(.softplus), at: at)
        let tl = target.apply(.binary(.mul), [logits], at: at)
        return sp.apply(.binary(.sub), [tl], at: at).apply(.reduce(.sum, axes: Array(0..<sp.rank), keepDims: false), at: at)
    }
}

/// Σ Bernoulli cross-entropy of `target` under `probabilities`, clamped to [ε, 1 − ε] first
/// (for warped decoder outputs, PAPER.md §2.1).
public func bernoulliCrossEntropy(
    probabilities: Tensor, target: Tensor, epsilon: Float = 1e-6, perExample: Bool = false, file: StaticString = #fileID,
    filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return probabilities.composite("bernoulliCrossEntropy", at: at) { b in
        let low = probabilities.scalar(epsilon, at: at)
        let high = probabilities.scalar(1 - epsilon, at: at)
        let one = probabilities.scalar(1, at: at)
        let p = probabilities.apply(.binary(.max), [low], at: at).apply(.binary(.min), [high], at: at)
        let logP = p.apply(.unary(.log), at: at)
        let log1mP = one.apply(.binary(.sub), [p], at: at).apply(.unary(.log), at: at)
        let oneMinusT = one.apply(.binary(.sub), [target], at: at)
        let ll = target.apply(.binary(.mul), [logP], at: at)
            .apply(.binary(.add), [oneMinusT.apply(.binary(.mul), [log1mP], at: at)], at: at)
        return ll.apply(.reduce(.sum, axes: summedAxes(ll, perExample), keepDims: false), at: at).apply(.unary(.neg), at: at)
    }
}

/// Σ categorical cross-entropy of int32 `labels` under softmax(`logits [batch, classes]`).
public func softmaxCrossEntropy(
    logits: Tensor, labels: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return logits.composite("softmaxCrossEntropy", at: at) { b in
        guard logits.rank == 2, let classes = logits.shape[1].fixedSize else {
            return b.fail("", ShapeProblem("logits have shape \(logits.shape); expected [batch, classes]"), at: at)
        }
        let logP = logits.apply(.logSoftmax(axis: 1), at: at)
        let y = labels.apply(.oneHot(classes: classes), at: at)
        return y.apply(.binary(.mul), [logP], at: at).apply(.reduce(.sum, axes: [0, 1], keepDims: false), at: at)
            .apply(.unary(.neg), at: at)
    }
}

/// Σ KL(N(μ, σ²) ‖ N(0, 1)) with σ = exp(logScale): Σ ½(μ² + σ² − 1) − log σ.
public func gaussianKL(
    _ mean: Tensor, _ logScale: Tensor, perExample: Bool = false, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return mean.composite("gaussianKL", at: at) { b in
        let variance = logScale.apply(.binary(.mul), [mean.scalar(2, at: at)], at: at).apply(.unary(.exp), at: at)
        let terms = mean.apply(.unary(.square), at: at).apply(.binary(.add), [variance], at: at)
            .apply(.binary(.sub), [mean.scalar(1, at: at)], at: at)
            .apply(.binary(.mul), [mean.scalar(0.5, at: at)], at: at)
            .apply(.binary(.sub), [logScale], at: at)
        return terms.apply(.reduce(.sum, axes: summedAxes(terms, perExample), keepDims: false), at: at)
    }
}

/// Σ KL(Laplace(μ, b) ‖ Laplace(0, √½)) with b = σ√½, σ = exp(logScale) (PAPER.md §1.3):
/// −log σ + |μ|/√½ + σ·exp(−|μ|/(σ√½)) − 1.
public func laplaceKL(
    _ mean: Tensor, _ logScale: Tensor, perExample: Bool = false, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    let r = Float(0.5).squareRoot()
    return mean.composite("laplaceKL", at: at) { b in
        let sigma = logScale.apply(.unary(.exp), at: at)
        let absMean = mean.apply(.unary(.abs), at: at)
        let ratio = absMean.apply(.binary(.div), [sigma.apply(.binary(.mul), [mean.scalar(r, at: at)], at: at)], at: at)
        let decay = sigma.apply(.binary(.mul), [ratio.apply(.unary(.neg), at: at).apply(.unary(.exp), at: at)], at: at)
        let terms = absMean.apply(.binary(.mul), [mean.scalar(1 / r, at: at)], at: at)
            .apply(.binary(.sub), [logScale], at: at)
            .apply(.binary(.add), [decay], at: at)
            .apply(.binary(.sub), [mean.scalar(1, at: at)], at: at)
        return terms.apply(.reduce(.sum, axes: summedAxes(terms, perExample), keepDims: false), at: at)
    }
}

/// A reparameterised Gaussian sample: μ + exp(logScale)·ε, ε ~ N(0, 1).
public func sampleGaussian(
    mean: Tensor, logScale: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return mean.composite("sampleGaussian", at: at) { b in
        let noise = b.apply(.random(.normal, shape: mean.shape, stream: b.newStream()), [], at: at)
        let scaled = logScale.apply(.unary(.exp), at: at).apply(.binary(.mul), [noise], at: at)
        return mean.apply(.binary(.add), [scaled], at: at)
    }
}

/// A reparameterised Laplace sample with variance σ² (b = σ√½), by the element-wise inverse
/// CDF in the random kernel (PAPER.md §1.3, not the reference code's one-sided branch).
public func sampleLaplace(
    mean: Tensor, logScale: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
    line: UInt = #line, column: UInt = #column
) -> Tensor {
    let at = SourceLocation(file, filePath, line, column)
    return mean.composite("sampleLaplace", at: at) { b in
        let noise = b.apply(.random(.laplace, shape: mean.shape, stream: b.newStream()), [], at: at)
        let scale = logScale.apply(.unary(.exp), at: at).apply(.binary(.mul), [mean.scalar(Float(0.5).squareRoot(), at: at)], at: at)
        return mean.apply(.binary(.add), [scale.apply(.binary(.mul), [noise], at: at)], at: at)
    }
}
