/// What a shape rule found wrong, in words a person can act on: the problem (naming the shapes
/// involved) and, when there is one, what to do about it.
public struct ShapeProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String {
        hint.map { "\(message) — \($0)" } ?? message
    }
}

/// A shape error tied to the DSL call and the line of user code that caused it.
///
/// Its description has the form a Swift compiler uses, so editors and terminals make it a link:
/// `MyModel.swift:42:19: error: dense(128): input has shape [batch, 3, 32, 32]; expected rank 2 — flatten first`.
public struct ShapeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The DSL call as written (`dense(128)`, `add`, `conv2d(32, kernel: 3)`).
    public var call: String
    public var problem: ShapeProblem
    public var location: SourceLocation

    public init(call: String, problem: ShapeProblem, location: SourceLocation) {
        self.call = call
        self.problem = problem
        self.location = location
    }

    /// One line: `file:line:column: error: call: message — hint`.
    public var description: String {
        "\(location): error: \(call): \(problem)"
    }

    /// The one-line description followed by the source line and a caret under the call,
    /// when the source file can be read.
    public var diagnostic: String {
        guard let excerpt = SourceExcerpt(location: location) else { return description }
        var located = location
        located.column = excerpt.callColumn
        let line = "\(located): error: \(call): \(problem)"
        return line + "\n" + excerpt.text + "\n" + String(repeating: " ", count: excerpt.callColumn - 1) + "^"
    }
}
