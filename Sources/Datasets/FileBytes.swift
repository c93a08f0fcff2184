import CZlib

/// Reads a whole file, gunzipping it when it is gzip (zlib's gzread passes plain files through).
func readBytes(_ path: String, limit: Int = 1 << 30) throws(DataError) -> [UInt8] {
    guard let file = gzopen(path, "rb") else {
        throw .unreadable(file: path, reason: "no such file or not readable")
    }
    defer { gzclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        if n < 0 {
            var code: Int32 = 0
            let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
            throw .unreadable(file: path, reason: "corrupt compressed data (\(message))")
        }
        if n == 0 { break }
        bytes.append(contentsOf: buffer[0..<Int(n)])
        if bytes.count > limit { throw .unreadable(file: path, reason: "larger than \(limit) bytes") }
    }
    return bytes
}

func bigEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}
