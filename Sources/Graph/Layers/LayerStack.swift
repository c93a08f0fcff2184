/// A layer value: something that maps a tensor to a tensor when applied inside a model body.
/// Layer values remember where they were written, so their nodes point at that line.
public protocol Layer: Sendable {
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// The caller's source position, captured by a layer's initializer.
public struct CallSite: Sendable {
    public let file: StaticString
    public let filePath: StaticString
    public let line: UInt
    public let column: UInt

    public init(file: StaticString, filePath: StaticString, line: UInt, column: UInt) {
        self.file = file
        self.filePath = filePath
        self.line = line
        self.column = column
    }
}

/// Collects layers for `Sequential`, through `if`, `if-else` and `for`.
@resultBuilder
public enum LayerBuilder {
    public static func buildExpression(_ layer: some Layer) -> [any Layer] { [layer] }
    public static func buildExpression(_ layers: [any Layer]) -> [any Layer] { layers }
    public static func buildBlock(_ parts: [any Layer]...) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Layer]?) -> [any Layer] { part ?? [] }
    public static func buildEither(first: [any Layer]) -> [any Layer] { first }
    public static func buildEither(second: [any Layer]) -> [any Layer] { second }
    public static func buildArray(_ parts: [[any Layer]]) -> [any Layer] { parts.flatMap { $0 } }
    public static func buildLimitedAvailability(_ part: [any Layer]) -> [any Layer] { part }
}

/// Layers applied one after another; with a name, they form a scope (a DOT cluster).
///
/// ```swift
/// let features = Sequential("classifier") { Conv2D(32, kernel: 3); ReLU(); MaxPool(2) }(x)
/// ```
public struct Sequential: Layer {
    public let name: String?
    public let layers: [any Layer]

    public init(_ name: String? = nil, @LayerBuilder _ layers: () -> [any Layer]) {
        self.name = name
        self.layers = layers()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let run = { layers.reduce(input) { x, layer in layer(x) } }
        guard let name else { return run() }
        return input.builder.withScope(name, run)
    }
}

/// `dense` as a layer value.
public struct Dense: Layer {
    public let units: Int
    public let activation: Activation?
    let site: CallSite

    public init(
        _ units: Int, activation: Activation? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) {
        self.units = units
        self.activation = activation
        site = CallSite(file: file, filePath: filePath, line: line, column: column)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.dense(units, activation: activation, file: site.file, filePath: site.filePath, line: site.line, column: site.column)
    }
}

/// `conv2d` (or, made by `TransposedConv2D`, `transposedConv2d`) as a layer value.
public struct Conv2D: Layer {
    public let filters: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Padding
    public let activation: Activation?
    public let transposed: Bool
    let site: CallSite

    public init(
        _ filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .same, activation: Activation? = nil,
        transposed: Bool = false, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) {
        (self.filters, self.kernel, self.stride, self.padding) = (filters, kernel, stride, padding)
        (self.activation, self.transposed) = (activation, transposed)
        site = CallSite(file: file, filePath: filePath, line: line, column: column)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (file, filePath, line, column) = (site.file, site.filePath, site.line, site.column)
        if transposed {
            return x.transposedConv2d(
                filters, kernel: kernel, stride: stride, padding: padding, activation: activation, file: file,
                filePath: filePath, line: line, column: column)
        }
        return x.conv2d(
            filters, kernel: kernel, stride: stride, padding: padding, activation: activation, file: file,
            filePath: filePath, line: line, column: column)
    }
}

/// `transposedConv2d` ("deconvolution") as a layer value.
public func TransposedConv2D(
    _ filters: Int, kernel: Int, stride: Int = 1, padding: Padding = .same, activation: Activation? = nil,
    file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column
) -> Conv2D {
    Conv2D(
        filters, kernel: kernel, stride: stride, padding: padding, activation: activation, transposed: true,
        file: file, filePath: filePath, line: line, column: column)
}

/// `maxPool` as a layer value.
public struct MaxPool: Layer {
    public let window: Int
    public let stride: Int?
    let site: CallSite

    public init(
        _ window: Int, stride: Int? = nil, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) {
        self.window = window
        self.stride = stride
        site = CallSite(file: file, filePath: filePath, line: line, column: column)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.maxPool(window, stride: stride, file: site.file, filePath: site.filePath, line: site.line, column: site.column)
    }
}

/// An element-wise function as a layer value (`ReLU()`, `Tanh()`, `Sigmoid()`).
public struct Elementwise: Layer {
    public let function: UnaryFunction
    let site: CallSite

    public init(
        _ function: UnaryFunction, file: StaticString = #fileID, filePath: StaticString = #filePath,
        line: UInt = #line, column: UInt = #column
    ) {
        self.function = function
        site = CallSite(file: file, filePath: filePath, line: line, column: column)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.map(function, file: site.file, filePath: site.filePath, line: site.line, column: site.column)
    }
}

public func ReLU(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Elementwise { Elementwise(.relu, file: file, filePath: filePath, line: line, column: column) }
public func Tanh(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Elementwise { Elementwise(.tanh, file: file, filePath: filePath, line: line, column: column) }
public func Sigmoid(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) -> Elementwise { Elementwise(.sigmoid, file: file, filePath: filePath, line: line, column: column) }

/// `flattened()` as a layer value.
public struct Flatten: Layer {
    let site: CallSite

    public init(file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line, column: UInt = #column) {
        site = CallSite(file: file, filePath: filePath, line: line, column: column)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.flattened(file: site.file, filePath: site.filePath, line: site.line, column: site.column)
    }
}

/// `dropout` as a layer value.
public struct Dropout: Layer {
    public let rate: Float
    let site: CallSite

    public init(
        _ rate: Float, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) {
        self.rate = rate
        site = CallSite(file: file, filePath: filePath, line: line, column: column)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.dropout(rate, file: site.file, filePath: site.filePath, line: site.line, column: site.column)
    }
}

extension Tensor {
    /// Applies a layer value: `x.apply(Sequential { … })` reads left to right like the methods.
    public func apply(_ layer: some Layer) -> Tensor { layer(self) }
}
