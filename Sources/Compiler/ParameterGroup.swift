import Graph

/// Settings for the parameters whose names match a pattern: a rate factor, their own weight
/// decay, or frozen (no gradient computed, no update, no optimizer slots).
///
/// Patterns match a parameter's scope-qualified name (`encoder/dense_1/weight`): `*` stands for
/// any run of characters (slashes too), and a pattern also matches everything below it
/// (`encoder` is `encoder/*`). A parameter takes the first group that matches it.
///
/// ```swift
/// groups: [.init("encoder", frozen: true), .init("*/bias", weightDecay: 0), .init("ssn", rateFactor: 0.1)]
/// ```
public struct ParameterGroup: Sendable, Equatable {
    public var pattern: String
    /// Multiplies the learning rate of these parameters (a constant in their update).
    public var rateFactor: Float
    /// Replaces the optimizer's weight decay for these parameters.
    public var weightDecay: Float?
    /// No gradient, no update: the parameters keep their values.
    public var frozen: Bool

    public init(_ pattern: String, rateFactor: Float = 1, weightDecay: Float? = nil, frozen: Bool = false) {
        self.pattern = pattern
        self.rateFactor = rateFactor
        self.weightDecay = weightDecay
        self.frozen = frozen
    }

    /// Whether the pattern matches a parameter name (or a scope the name lies below).
    public func matches(_ name: String) -> Bool {
        Self.glob(Array(pattern.utf8)[...], Array(name.utf8)[...])
            || Self.glob(Array((pattern + "/*").utf8)[...], Array(name.utf8)[...])
    }

    /// `*` matches any run of bytes; everything else matches itself.
    static func glob(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        guard let first = p.first else { return s.isEmpty }
        if first == UInt8(ascii: "*") {
            var rest = s
            while true {
                if glob(p.dropFirst(), rest) { return true }
                if rest.isEmpty { return false }
                rest = rest.dropFirst()
            }
        }
        guard let c = s.first, c == first else { return false }
        return glob(p.dropFirst(), s.dropFirst())
    }
}
