import Foundation

/// The safetensors file format (the layout PyTorch's and JAX's `safetensors` read): an 8-byte
/// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
/// then the raw little-endian data.
public enum SafeTensors {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// Byte range within the data section.
        public var begin: Int
        public var end: Int
    }

    /// Writes tensors atomically: to a temporary file beside `path`, synced, then renamed over it
    /// and the folder synced.
    public static func write(
        _ tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)], metadata: [String: String],
        to path: String
    ) throws(CheckpointError) {
        var header = "{"
        header += "\"__metadata__\":{"
        header += metadata.sorted { $0.key < $1.key }.map { "\(json($0.key)):\(json($0.value))" }.joined(separator: ",")
        header += "}"
        var offset = 0
        for t in tensors {
            let bytes = t.data.count * 4
            header += ",\(json(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let handle = try? FileHandle(forWritingTo: temporary)
        else { throw .cannotWrite(path: path, reason: "cannot create \(temporary.path)") }
        do {
            var length = UInt64(header.utf8.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: Data(header.utf8))
            for t in tensors where t.data.count > 0 {
                try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: t.data.baseAddress!),
                    count: t.data.count * 4, deallocator: .none))
            }
            // On disk before it takes the name, and the name on disk before we return: a crash
            // (or kill -9) leaves the old checkpoint or the new one, never a half-written file.
            try handle.synchronize()
            try handle.close()
            if rename(temporary.path, path) != 0 { throw CheckpointError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
            let folder = open(url.deletingLastPathComponent().path, O_RDONLY)
            if folder >= 0 {
                fsync(folder)
                close(folder)
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? CheckpointError { throw error }
            throw .cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    /// Reads and checks a file's header; returns its entries, metadata and where the data starts.
    public static func readHeader(_ path: String) throws(CheckpointError) -> (entries: [Entry], metadata: [String: String], dataStart: Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .cannotRead(path: path, reason: "no such file or not readable") }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map(Int.init) ?? 0
        try? handle.seek(toOffset: 0)
        guard size >= 8, let prefix = try? handle.read(upToCount: 8), prefix.count == 8 else {
            throw .badHeader(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        // Any 64-bit value may stand here: clamp before converting (2⁶³ and above do not fit Int).
        let length = prefix.withUnsafeBytes { Int(clamping: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard length > 1, length <= 100_000_000, 8 + length <= size else {
            throw .badHeader(path: path, reason: "header length \(length) does not fit a \(size)-byte file")
        }
        guard let headerData = try? handle.read(upToCount: length), headerData.count == length,
            let object = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any]
        else { throw .badHeader(path: path, reason: "header is not a JSON object") }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                offsets[0] >= 0, offsets[0] <= offsets[1]
            else { throw .badHeader(path: path, reason: "entry \"\(name)\" lacks dtype, shape or data_offsets") }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }
        let dataStart = 8 + length
        for e in entries where dataStart + e.end > size {
            throw .truncated(path: path, tensor: e.name, needed: dataStart + e.end, size: size)
        }
        return (entries.sorted { $0.begin < $1.begin }, metadata, dataStart)
    }

    /// Reads one float32 tensor's data into `destination` (which holds `shape`'s elements).
    public static func read(
        _ entry: Entry, from path: String, dataStart: Int, into destination: UnsafeMutablePointer<Float>, count: Int
    ) throws(CheckpointError) {
        guard entry.dtype == "F32" else { throw .wrongType(tensor: entry.name, found: entry.dtype, expected: "F32") }
        guard entry.end - entry.begin == count * 4 else {
            throw .badHeader(path: path, reason: "\"\(entry.name)\" spans \(entry.end - entry.begin) bytes; its shape needs \(count * 4)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .cannotRead(path: path, reason: "not readable") }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(dataStart + entry.begin))
            let data = try handle.read(upToCount: count * 4) ?? Data()
            guard data.count == count * 4 else { throw CheckpointError.truncated(path: path, tensor: entry.name, needed: dataStart + entry.end, size: dataStart + entry.begin + data.count) }
            data.withUnsafeBytes { raw in
                for i in 0..<count { destination[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            }
        } catch {
            if let error = error as? CheckpointError { throw error }
            throw .cannotRead(path: path, reason: error.localizedDescription)
        }
    }

    static func json(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

/// Why a checkpoint could not be written or read; each names the file or tensor.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case badHeader(path: String, reason: String)
    case truncated(path: String, tensor: String, needed: Int, size: Int)
    /// The file's tensors are not what `what` needs: every one missing, of another shape, or
    /// (for a whole training state) unexpected.
    case doesNotFit(path: String, what: String, differences: [LayoutDifference])
    case wrongType(tensor: String, found: String, expected: String)

    public var description: String {
        switch self {
        case .cannotWrite(let p, let r): return "cannot write checkpoint \(p): \(r)"
        case .cannotRead(let p, let r): return "cannot read checkpoint \(p): \(r)"
        case .badHeader(let p, let r): return "checkpoint \(p) has a bad safetensors header: \(r)"
        case .truncated(let p, let t, let n, let s):
            return "checkpoint \(p) is truncated: tensor \"\(t)\" needs \(n) bytes, the file has \(s)"
        case .doesNotFit(let p, let w, let d):
            return "checkpoint \(p) does not fit \(w) (\(d.count) difference\(d.count == 1 ? "" : "s")):\n" + LayoutDifference.lines(d)
        case .wrongType(let t, let f, let e): return "tensor \"\(t)\" has dtype \(f) in the checkpoint; expected \(e)"
        }
    }
}
