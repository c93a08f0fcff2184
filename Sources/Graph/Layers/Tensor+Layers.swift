/// Activation functions a layer can apply after its affine part.
public enum Activation: String, Sendable {
    case relu, tanh, sigmoid, softplus

    var function: UnaryFunction {
        switch self {
        case .relu: return .relu
        case .tanh: return .tanh
        case .sigmoid: return .sigmoid
        case .softplus: return .softplus
        }
    }
}

/// Layers as functions over primitives: each makes its parameters (named `layer/weight`,
/// `layer/bias`) and primitives, all tagged with the caller's line. Errors name the layer call.
extension Tensor {
    /// Runs a layer body: nothing on a poisoned input, else named and error-scoped as `call`;
    /// `name` replaces the automatic `base`, `base_1`, … (for parameters shared by name).
    func layer(_ base: String, call: String, name: String? = nil, at: SourceLocation? = nil, _ body: (GraphBuilder) -> Tensor) -> Tensor {
        guard !isPoisoned else { return self }
        if let name, let at, !builder.claimLayerName(name) {
            return builder.fail(
                call, ShapeProblem("the layer name \"\(name)\" is used twice", hint: "give each layer its own name"), at: at)
        }
        return builder.withLayer(name ?? base, call: call, explicit: name != nil) { body(builder) }
    }

    func parameter(_ name: String, _ shape: Shape, _ initializer: Initializer, at: SourceLocation) -> Tensor {
        builder.leaf(
            .parameter(name: name, initializer: initializer), type: TensorType(shape), name: name, call: "parameter",
            at: at)
    }

    func activated(_ activation: Activation?, at: SourceLocation) -> Tensor {
        guard let activation else { return self }
        return apply(.unary(activation.function), at: at)
    }

    /// Fully connected layer: `[batch, in]` → `[batch, units]`, weights by the paper's
    /// N(0,1)/(√in + √out) rule and zero bias unless told otherwise.
    public func dense(
        _ units: Int, activation: Activation? = nil, weightInitializer: Initializer = .svAdjustedNormal(sigma: 1),
        bias: Bool = true, biasInitializer: Initializer = .zeros, name: String? = nil, file: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        return layer("dense", call: "dense(\(units))", name: name, at: at) { builder in
            guard rank == 2, let features = shape[1].fixedSize else {
                return builder.fail(
                    "", ShapeProblem("input has shape \(shape); expected rank 2", hint: "flatten first"), at: at)
            }
            guard units > 0 else { return builder.fail("", ShapeProblem("units \(units) must be positive"), at: at) }
            let w = parameter("weight", [.fixed(features), .fixed(units)], weightInitializer, at: at)
            var y = matmul(w, file: file, filePath: filePath, line: line, column: column)
            if bias { y = y.apply(.binary(.add), [parameter("bias", [.fixed(units)], biasInitializer, at: at)], at: at) }
            return y.activated(activation, at: at)
        }
    }

    /// One dense layer per class, applied to each row with the weights of its label:
    /// `[batch, in]`, `labels [batch] int32` → `[batch, units]`. Only the labelled class's
    /// weights take part (and get gradients), as in ACE's per-class heads and decoders.
    public func denseByClass(
        _ units: Int, classes: Int, labels: Tensor, activation: Activation? = nil,
        weightInitializer: Initializer = .svAdjustedNormal(sigma: 1), name: String? = nil, file: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        return layer("denseByClass", call: "denseByClass(\(units), classes: \(classes))", name: name, at: at) { builder in
            guard rank == 2, let features = shape[1].fixedSize else {
                return builder.fail(
                    "", ShapeProblem("input has shape \(shape); expected rank 2", hint: "flatten first"), at: at)
            }
            guard units > 0, classes > 0 else {
                return builder.fail("", ShapeProblem("units and classes must be positive"), at: at)
            }
            let w = parameter("weight", [.fixed(classes), .fixed(features), .fixed(units)], weightInitializer, at: at)
            let b = parameter("bias", [.fixed(classes), .fixed(units)], .zeros, at: at)
            let y = apply(.groupedMatmul(transposeWeights: false), [w, labels], at: at)
            let rowBias = b.apply(.gatherRows, [labels], at: at)
            return y.apply(.binary(.add), [rowBias], at: at).activated(activation, at: at)
        }
    }

    /// 2-D convolution over NCHW images with a `kernel × kernel` filter, U(−1,1)/√(∏ dims)
    /// weights (the paper's rule) and a zero per-channel bias.
    public func conv2d(
        _ filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .same, activation: Activation? = nil,
        weightInitializer: Initializer = .convUniform, bias: Bool = true, name: String? = nil, file: StaticString = #fileID,
        filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        convolutionLayer(
            transposed: false, filters, kernel: kernel, stride: stride, padding: padding, outputSize: nil, byClass: nil,
            activation: activation, weightInitializer: weightInitializer, bias: bias,
            name: name, at: SourceLocation(file, filePath, line, column))
    }

    /// One convolution per class, applied to each image with the filter and bias of its label:
    /// `labels [batch] int32`; weights `[classes, filters, in, kernel, kernel]`. Only the
    /// labelled class's filter takes part (and gets gradients), as in `denseByClass`.
    public func conv2dByClass(
        _ filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .same, classes: Int, labels: Tensor,
        activation: Activation? = nil, weightInitializer: Initializer = .convUniform, bias: Bool = true,
        name: String? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        convolutionLayer(
            transposed: false, filters, kernel: kernel, stride: stride, padding: padding, outputSize: nil,
            byClass: (classes, labels), activation: activation, weightInitializer: weightInitializer, bias: bias,
            name: name, at: SourceLocation(file, filePath, line, column))
    }

    /// Transposed convolution ("deconvolution", the paper's Fig. 4), the adjoint of `conv2d`:
    /// upsamples by `stride`. The output size defaults to input × stride (`same`).
    public func transposedConv2d(
        _ filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .same, outputSize: (Int, Int)? = nil,
        activation: Activation? = nil, weightInitializer: Initializer = .convUniform, bias: Bool = true,
        name: String? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        convolutionLayer(
            transposed: true, filters, kernel: kernel, stride: stride, padding: padding, outputSize: outputSize,
            byClass: nil, activation: activation, weightInitializer: weightInitializer, bias: bias,
            name: name, at: SourceLocation(file, filePath, line, column))
    }

    /// One transposed convolution per class (each image uses its label's filter and bias): the
    /// per-class deconvolutions of a decoder per class. Weights `[classes, in, filters, k, k]`.
    public func transposedConv2dByClass(
        _ filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .same, outputSize: (Int, Int)? = nil,
        classes: Int, labels: Tensor, activation: Activation? = nil, weightInitializer: Initializer = .convUniform,
        bias: Bool = true, name: String? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        convolutionLayer(
            transposed: true, filters, kernel: kernel, stride: stride, padding: padding, outputSize: outputSize,
            byClass: (classes, labels), activation: activation, weightInitializer: weightInitializer, bias: bias,
            name: name, at: SourceLocation(file, filePath, line, column))
    }

    /// The four convolution layers above: shared or per-class filters, forward or transposed.
    private func convolutionLayer(
        transposed: Bool, _ filters: Int, kernel: Int, stride: Int, padding: Padding, outputSize: (Int, Int)?,
        byClass: (classes: Int, labels: Tensor)?, activation: Activation?, weightInitializer: Initializer,
        bias: Bool, name: String?, at: SourceLocation
    ) -> Tensor {
        let base = (transposed ? "transposedConv2d" : "conv2d") + (byClass == nil ? "" : "ByClass")
        let classText = byClass.map { ", classes: \($0.classes)" } ?? ""
        return layer(base, call: "\(base)(\(filters), kernel: \(kernel)\(classText))", name: name, at: at) { builder in
            guard rank == 4, let channels = shape[1].fixedSize, let h = shape[2].fixedSize,
                let w = shape[3].fixedSize
            else {
                return builder.fail(
                    "",
                    ShapeProblem(
                        "input has shape \(shape); expected rank 4 [batch, channels, height, width]",
                        hint: "reshape to NCHW first"), at: at)
            }
            guard filters > 0, kernel > 0 else {
                return builder.fail("", ShapeProblem("filters and kernel must be positive"), at: at)
            }
            if let byClass, byClass.classes <= 0 {
                return builder.fail("", ShapeProblem("classes \(byClass.classes) must be positive"), at: at)
            }
            let perClass: [Dim] = byClass.map { [.fixed($0.classes)] } ?? []
            let pair: [Dim] = transposed ? [.fixed(channels), .fixed(filters)] : [.fixed(filters), .fixed(channels)]
            let f = parameter("weight", Shape(perClass + pair + [.fixed(kernel), .fixed(kernel)]), weightInitializer, at: at)
            let labels = byClass.map { [$0.labels] } ?? []
            var y: Tensor
            if transposed {
                let size =
                    outputSize
                    ?? (padding == .same
                        ? (h * stride, w * stride) : ((h - 1) * stride + kernel, (w - 1) * stride + kernel))
                y = apply(
                    .transposedConv2d(
                        stride: stride, padding: padding, height: size.0, width: size.1, classes: byClass?.classes),
                    [f] + labels, at: at)
            } else {
                y = apply(.conv2d(stride: stride, padding: padding, classes: byClass?.classes), [f] + labels, at: at)
            }
            if bias {
                var b = parameter("bias", Shape(perClass + [.fixed(filters), 1, 1]), .zeros, at: at)
                if let byClass { b = b.apply(.gatherRows, [byClass.labels], at: at) }  // [batch, filters, 1, 1]
                y = y.apply(.binary(.add), [b], at: at)
            }
            return y.activated(activation, at: at)
        }
    }

    /// Max over `window × window` patches, every `stride` pixels (default: `window`).
    public func maxPool(
        _ window: Int, stride: Int? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) -> Tensor {
        apply(
            .maxPool(window: window, stride: stride ?? window), call: "maxPool(\(window))",
            at: SourceLocation(file, filePath, line, column))
    }

    /// Leaky ReLU, `max(x, α·x)` for a slope α in [0, 1]: a composition of two primitives, which
    /// fusion runs as one element-wise kernel and autodiff differentiates exactly (1 above 0, α
    /// below) — why it is not a primitive of its own: docs/adding-a-primitive.md.
    public func leakyRelu(
        _ alpha: Float = 0.01, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        let at = SourceLocation(file, filePath, line, column)
        guard alpha >= 0 && alpha <= 1 else {
            return builder.fail(
                "leakyRelu(\(alpha))", ShapeProblem("the slope \(alpha) is outside [0, 1], where max(x, αx) is a leaky ReLU"), at: at)
        }
        let scaled = apply(.binary(.mul), [scalar(alpha, at: at)], call: "leakyRelu(\(alpha))", at: at)
        return apply(.binary(.max), [scaled], call: "leakyRelu(\(alpha))", at: at)
    }
}
