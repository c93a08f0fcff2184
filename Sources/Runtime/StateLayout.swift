import Graph

/// One tensor kept outside any executor (a parameter or an optimizer slot), shared by the
/// states and parameter sets that hold it.
public final class StoredTensor: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    let memory: UnsafeMutablePointer<Float>
    var count: Int { shape.reduce(1, *) }

    /// Zeros of a shape.
    init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
        let n = max(shape.reduce(1, *), 1)
        memory = UnsafeMutablePointer<Float>.allocate(capacity: n)
        HugePages.advise(UnsafeMutableRawPointer(memory), bytes: shape.reduce(1, *) * 4)
        memory.initialize(repeating: 0, count: n)
    }

    deinit { memory.deallocate() }

    /// A copy of the values.
    public var values: [Float] { Array(UnsafeBufferPointer(start: memory, count: count)) }
}

/// What a training state or parameter set holds: each tensor's name and shape (all float32),
/// sorted by name. A state runs only through a step of the same layout.
public struct StateLayout: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        /// A trained parameter (else an optimizer slot).
        public var isParameter: Bool

        public init(name: String, shape: [Int], isParameter: Bool = true) {
            self.name = name
            self.shape = shape
            self.isParameter = isParameter
        }
    }
    public var entries: [Entry]

    /// The parameters and optimizer variables of a graph, sorted by name (`parametersOnly`: the
    /// parameters alone).
    public init(_ graph: Graph, parametersOnly: Bool = false) {
        entries = Self.stored(graph, parametersOnly: parametersOnly).map(\.entry)
    }

    /// Each stored tensor of a graph with its node, sorted by name: the order of a layout's entries.
    static func stored(_ graph: Graph, parametersOnly: Bool = false) -> [(entry: Entry, node: NodeID)] {
        graph.nodes.compactMap { node -> (Entry, NodeID)? in
            if case .parameter(let name, _) = node.op { return (Entry(name: name, shape: node.shape.resolved(batch: 1)), node.id) }
            guard case .variable(let name) = node.op, !parametersOnly else { return nil }
            return (Entry(name: name, shape: node.shape.resolved(batch: 1), isParameter: false), node.id)
        }.sorted { $0.0.name < $1.0.name }
    }

    public init(entries: [Entry]) { self.entries = entries }

    /// What `other` (what was found) lacks, has in addition, or holds with another shape, against
    /// this layout (what is needed); `allowExtra` leaves out what `other` has in addition.
    public func differences(from other: StateLayout, allowExtra: Bool = false) -> [LayoutDifference] {
        var found: [String: [Int]] = [:]
        for e in other.entries { found[e.name] = e.shape }
        var result: [LayoutDifference] = []
        for e in entries {
            guard let shape = found[e.name] else {
                result.append(.missing(name: e.name, shape: e.shape))
                continue
            }
            if shape != e.shape { result.append(.shape(name: e.name, needed: e.shape, found: shape)) }
        }
        if !allowExtra {
            let needed = Set(entries.map(\.name))
            for e in other.entries where !needed.contains(e.name) { result.append(.unexpected(name: e.name, shape: e.shape)) }
        }
        return result
    }
}

/// One way two layouts differ.
public enum LayoutDifference: Equatable, Sendable, CustomStringConvertible {
    /// Needed but absent.
    case missing(name: String, shape: [Int])
    /// Present but not needed.
    case unexpected(name: String, shape: [Int])
    /// Present with another shape.
    case shape(name: String, needed: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missing(let n, let s): return "missing \"\(n)\" \(s)"
        case .unexpected(let n, let s): return "unexpected \"\(n)\" \(s)"
        case .shape(let n, let needed, let found): return "\"\(n)\" has shape \(found); needed \(needed)"
        }
    }

    /// The differences as indented lines, at most `limit` of them and a count of the rest.
    public static func lines(_ differences: [LayoutDifference], limit: Int = 12) -> String {
        var lines = differences.prefix(limit).map { "  " + $0.description }
        if differences.count > limit { lines.append("  … and \(differences.count - limit) more") }
        return lines.joined(separator: "\n")
    }
}

/// A state or parameter set run with a step or model whose layout is not its own; lists every
/// difference.
public struct LayoutMismatch: Error, CustomStringConvertible, Sendable {
    /// What did not fit what: "this state was made for another training step".
    public var what: String
    public var differences: [LayoutDifference]

    public var description: String {
        let n = differences.count
        return "\(what) (\(n) difference\(n == 1 ? "" : "s")):\n" + LayoutDifference.lines(differences)
    }
}

extension SafeTensors {
    /// Writes stored tensors (atomically, as `write(_:metadata:to:)`).
    static func write(_ tensors: [StoredTensor], metadata: [String: String], to path: String) throws(CheckpointError) {
        try write(
            tensors.map { ($0.name, $0.shape, UnsafeBufferPointer(start: $0.memory, count: $0.count)) },
            metadata: metadata, to: path)
    }

    /// Fills `tensors` from a file by name. The file must hold each of them with its shape (and,
    /// unless `allowExtra`, nothing else): otherwise `doesNotFit` lists every difference, saying
    /// the file does not fit `what`, and nothing is read. Returns the file's metadata.
    static func read(_ tensors: [StoredTensor], from path: String, allowExtra: Bool, what: String) throws(CheckpointError)
        -> [String: String]
    {
        let (entries, metadata, dataStart) = try readHeader(path)
        let needed = StateLayout(entries: tensors.map { .init(name: $0.name, shape: $0.shape) })
        let found = StateLayout(entries: entries.map { .init(name: $0.name, shape: $0.shape) })
        let differences = needed.differences(from: found, allowExtra: allowExtra)
        guard differences.isEmpty else { throw .doesNotFit(path: path, what: what, differences: differences) }
        var byName: [String: Entry] = [:]
        for e in entries { byName[e.name] = e }
        // The header was checked whole (every tensor present, in range, of its shape) before
        // any data is read.
        for t in tensors { try read(byName[t.name]!, from: path, dataStart: dataStart, into: t.memory, count: t.count) }
        return metadata
    }
}
