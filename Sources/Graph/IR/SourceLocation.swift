/// Where in the user's source a node was written: the DSL call that made it.
///
/// `fileID` (`Module/File.swift`) is what diagnostics print; `filePath` lets a diagnostic read
/// the line back to draw a caret under the call. `column` is what Swift's `#column` gives for a
/// call: the position of its opening parenthesis.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var fileID: String
    public var filePath: String
    public var line: Int
    public var column: Int

    public init(fileID: String, filePath: String = "", line: Int, column: Int) {
        self.fileID = fileID
        self.filePath = filePath
        self.line = line
        self.column = column
    }

    /// Builds a location from the magic literals a DSL function receives as default arguments.
    public init(_ fileID: StaticString, _ filePath: StaticString, _ line: UInt, _ column: UInt) {
        self.init(
            fileID: "\(fileID)", filePath: "\(filePath)", line: Int(line), column: Int(column))
    }

    /// A location for nodes the compiler makes, not the user.
    public static let generated = SourceLocation(fileID: "<generated>", line: 0, column: 0)

    /// The file name without the module prefix (`ACE.swift`).
    public var fileName: String {
        fileID.split(separator: "/").last.map(String.init) ?? fileID
    }

    /// `Module/File.swift:42:19`.
    public var description: String { "\(fileID):\(line):\(column)" }

    /// `File.swift:42`, short form for DOT labels.
    public var shortDescription: String { "\(fileName):\(line)" }
}
