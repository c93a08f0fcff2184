/// Why a data set could not be read; each case names the file and what is wrong.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    case notFound(dataset: String, searched: [String])
    case unreadable(file: String, reason: String)
    case badMagic(file: String, found: UInt32, expected: UInt32)
    case badHeader(file: String, reason: String)
    case truncated(file: String, expectedBytes: Int, foundBytes: Int)
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    case badLabel(file: String, record: Int, value: Int, classes: Int)
    /// A data set that a transformation cannot take (RTS of colour images, say).
    case unsuitable(dataset: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let d, let searched):
            return "\(d) not found; looked in: \(searched.joined(separator: ", ")). Pass --data DIR, set GAUGE_DATA, or put the files in ~/.cache/gauge (see the README)"
        case .unreadable(let f, let r): return "cannot read \(f): \(r)"
        case .badMagic(let f, let found, let expected):
            return "\(f) is not an IDX file of this kind: magic number \(found), expected \(expected)"
        case .badHeader(let f, let r): return "\(f) has a bad header: \(r)"
        case .truncated(let f, let e, let g): return "\(f) is truncated: expected \(e) bytes, found \(g)"
        case .countMismatch(let i, let ic, let l, let lc):
            return "\(i) holds \(ic) images but \(l) holds \(lc) labels"
        case .badLabel(let f, let r, let v, let c): return "\(f): record \(r) has label \(v), outside 0..<\(c)"
        case .unsuitable(let d, let r): return "\(d): \(r)"
        }
    }
}
