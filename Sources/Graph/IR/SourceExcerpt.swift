#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One line of a user's source file, read back for a diagnostic's caret.
struct SourceExcerpt {
    /// The line's text.
    var text: String
    /// 1-based column of the start of the called name (Swift's `#column` points at its `(`).
    var callColumn: Int

    init?(location: SourceLocation) {
        guard !location.filePath.isEmpty, location.line > 0,
            let contents = Self.read(path: location.filePath)
        else { return nil }
        var lineNumber = 1
        var lineText: Substring?
        for line in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            if lineNumber == location.line {
                lineText = line
                break
            }
            lineNumber += 1
        }
        guard let text = lineText else { return nil }
        self.text = String(text)
        let characters = Array(text.utf8)
        var column = min(max(location.column, 1), characters.count + 1)
        // Walk back from "(" over the called name to its first character.
        if column - 1 < characters.count, characters[column - 1] == UInt8(ascii: "(") {
            var start = column - 1
            while start > 0, Self.isIdentifier(characters[start - 1]) { start -= 1 }
            if start < column - 1 { column = start + 1 }
        }
        self.callColumn = column
    }

    private static func isIdentifier(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
    }

    private static func read(path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            if bytes.count > 16 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
