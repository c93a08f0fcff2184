/// A model written in the DSL: a name and the static graph its body built.
///
/// ```swift
/// let model = try Model("tiny-vae") {
///     let x = Input("image", [.batch, 1, 28, 28])
///     let h = x.flattened().dense(400, activation: .tanh)
///     Loss(h.square().sum())
/// }
/// ```
/// The body runs once, eagerly; each call records a node with its source location and checks
/// its shape. Shape mistakes are collected and thrown together as `ModelError`.
public struct Model: Sendable {
    public let name: String
    public let graph: Graph

    public init(
        _ name: String, @ModelBuilder _ body: () -> [ModelStatement]
    ) throws(ModelError) {
        let builder = GraphBuilder(name: name)
        let statements = GraphBuilder.$current.withValue(builder) { body() }
        var names = Set<String>()
        for statement in statements {
            let (kind, name, tensor, location) = statement.parts
            guard names.insert(name).inserted else {
                builder.record(
                    ShapeError(
                        call: "\(kind)(\"\(name)\")", problem: ShapeProblem("the name \"\(name)\" is used twice"),
                        location: location))
                continue
            }
            guard tensor.origin === builder else {
                builder.record(
                    ShapeError(
                        call: "\(kind)(\"\(name)\")", problem: builder.foreignProblem(tensor.origin), location: location))
                continue
            }
            guard !tensor.isPoisoned else { continue }
            if kind == "Loss" {
                guard tensor.shape.rank == 0, tensor.dtype == .float32 else {
                    builder.record(
                        ShapeError(
                            call: "Loss", problem: ShapeProblem("loss has shape \(tensor.shape); expected a scalar",
                                hint: "reduce it with .sum() or .mean()"), location: location))
                    continue
                }
                builder.addLoss(name, tensor)
            } else {
                builder.addOutput(name, tensor)
            }
        }
        if !builder.errors.isEmpty { throw ModelError(model: name, errors: builder.errors) }
        self.name = name
        self.graph = builder.graph
    }

    init(name: String, graph: Graph) {
        self.name = name
        self.graph = graph
    }

    /// The same model with every dropout the identity (gradients pass unchanged): for checks
    /// that compare a step against another implementation without sharing dropout masks.
    public func withoutDropout() -> Model {
        var graph = self.graph
        for i in graph.nodes.indices {
            if case .dropout = graph.nodes[i].op { graph.nodes[i].op = .reshape(graph.nodes[i].shape) }
        }
        return Model(name: name, graph: graph)
    }
}

/// Shape errors found while building a model, in the order the body made them.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public var model: String
    public var errors: [ShapeError]

    /// One compiler-style line per error.
    public var description: String { errors.map(\.description).joined(separator: "\n") }

    /// Each error with its source line and a caret under the call.
    public var diagnostics: String {
        errors.map(\.diagnostic).joined(separator: "\n")
            + "\n\(errors.count) error\(errors.count == 1 ? "" : "s") in model \"\(model)\""
    }
}

/// A named result of the graph, written as a statement in a model body.
public struct Output: Sendable {
    let name: String
    let tensor: Tensor
    let location: SourceLocation

    public init(
        _ name: String, _ tensor: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) {
        self.name = name
        self.tensor = tensor
        self.location = SourceLocation(file, filePath, line, column)
    }
}

/// A scalar loss term, written as a statement in a model body; training minimises the sum.
public struct Loss: Sendable {
    let name: String
    let tensor: Tensor
    let location: SourceLocation

    public init(
        _ tensor: Tensor, name: String = "loss", file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) {
        self.name = name
        self.tensor = tensor
        self.location = SourceLocation(file, filePath, line, column)
    }
}

/// One statement of a model body.
public enum ModelStatement: Sendable {
    case output(Output)
    case loss(Loss)

    var parts: (kind: String, name: String, tensor: Tensor, location: SourceLocation) {
        switch self {
        case .output(let o): return ("Output", o.name, o.tensor, o.location)
        case .loss(let l): return ("Loss", l.name, l.tensor, l.location)
        }
    }
}

/// Collects a model body's `Output` and `Loss` statements, through `if`, `if-else` and `for`.
/// `let` bindings are ordinary Swift and pass through untouched.
@resultBuilder
public enum ModelBuilder {
    public static func buildExpression(_ output: Output) -> [ModelStatement] { [.output(output)] }
    public static func buildExpression(_ loss: Loss) -> [ModelStatement] { [.loss(loss)] }
    public static func buildExpression(_ statements: [ModelStatement]) -> [ModelStatement] { statements }

    @available(
        *, unavailable,
        message: "a bare Tensor expression is discarded; bind it with 'let' or mark it with Output(\"name\", t) or Loss(t)"
    )
    public static func buildExpression(_ tensor: Tensor) -> [ModelStatement] { [] }

    public static func buildBlock(_ parts: [ModelStatement]...) -> [ModelStatement] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [ModelStatement]?) -> [ModelStatement] { part ?? [] }
    public static func buildEither(first: [ModelStatement]) -> [ModelStatement] { first }
    public static func buildEither(second: [ModelStatement]) -> [ModelStatement] { second }
    public static func buildArray(_ parts: [[ModelStatement]]) -> [ModelStatement] { parts.flatMap { $0 } }
    public static func buildLimitedAvailability(_ part: [ModelStatement]) -> [ModelStatement] { part }
}

/// Runs `body` inside a named scope: nodes made there are named `name/…` and drawn as one
/// cluster in DOT. Returns what the body returns.
///
/// ```swift
/// let theta = Scope("ssn") { x.conv2d(32, kernel: 3, activation: .relu).flattened().dense(6) }
/// ```
public func Scope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    try GraphBuilder.active("Scope(\"\(name)\")").withScope(name, body)
}

/// Runs `body` with every node it makes, and every shape error, at one source location: a
/// helper's caller's. A helper forwards its caller's line in one line, so a mistake inside it
/// points at the line that called it, and so do its operators (which cannot take `#line`):
///
/// ```swift
/// func decoder(_ z: Tensor, file: StaticString = #fileID, filePath: StaticString = #filePath,
///              line: UInt = #line, column: UInt = #column) -> Tensor {
///     Located(file, filePath, line, column) { z.dense(512, activation: .relu).dense(784) * 2 }
/// }
/// ```
/// Nested helpers keep the outermost caller's location.
public func Located<T>(
    _ file: StaticString, _ filePath: StaticString, _ line: UInt, _ column: UInt, _ body: () throws -> T
) rethrows -> T {
    try GraphBuilder.active("Located").located(SourceLocation(file, filePath, line, column), body)
}

/// A run-time input of the model (images, labels), fed by name.
public func Input(
    _ name: String, _ shape: Shape, dtype: DType = .float32, file: StaticString = #fileID,
    filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
) -> Tensor {
    let builder = GraphBuilder.active("Input(\"\(name)\")")
    let location = SourceLocation(file, filePath, line, column)
    if let problem = shape.declarationProblem { return builder.fail("Input(\"\(name)\")", problem, at: location) }
    if builder.graph.nodes.contains(where: { $0.op == .input(name: name) }) {
        return builder.fail(
            "Input(\"\(name)\")", ShapeProblem("an input named \"\(name)\" already exists",
                hint: "give each input its own name, or pass the tensor along"), at: location)
    }
    return builder.leaf(.input(name: name), type: TensorType(shape, dtype), name: name, call: "Input", at: location)
}

/// A trainable parameter with an explicit shape and initializer; for weights shared between
/// several uses, or layers the DSL does not have.
public func Parameter(
    _ name: String, _ shape: Shape, initializer: Initializer, file: StaticString = #fileID,
    filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
) -> Tensor {
    let builder = GraphBuilder.active("Parameter(\"\(name)\")")
    let location = SourceLocation(file, filePath, line, column)
    if let problem = initializer.problem(for: shape) {
        return builder.fail("Parameter(\"\(name)\")", ShapeProblem("\(initializer): \(problem)"), at: location)
    }
    if shape.rank > Shape.maxRank { return builder.fail("Parameter(\"\(name)\")", Shape.rankProblem(shape), at: location) }
    return builder.leaf(
        .parameter(name: name, initializer: initializer), type: TensorType(shape), name: name, call: "Parameter",
        at: location)
}
