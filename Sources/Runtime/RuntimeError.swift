import Graph

/// A failure while running a plan: what went wrong, at which op and DSL line.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var location: SourceLocation?

    public init(_ message: String, at location: SourceLocation? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String {
        location.map { "\($0): error: \(message)" } ?? "error: \(message)"
    }
}
