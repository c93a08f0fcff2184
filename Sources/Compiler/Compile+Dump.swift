import Foundation
import Graph

/// Every stage of a compilation as Graphviz DOT, when the environment asks for it (like
/// tinygrad's `DEBUG`/`VIZ` or XLA's dump-after-pass): with `GAUGE_DUMP=DIR`, compiling a step
/// writes `DIR/<graph name>/1-model.dot`, `2-autodiff.dot`, `3-optimizer-update.dot`,
/// `4-simplify.dot` and `5-fused.dot` (fused kernels drawn as clusters), numbered in the order
/// the passes ran. A dump that cannot be written is reported once on standard error and never fails
/// the compilation.
struct StageDump {
    let folder: String?
    var count = 0
    /// Whether a failure was reported: one line per compilation, not one per stage.
    var reported = false

    init(graph: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        folder = environment["GAUGE_DUMP"].flatMap { $0.isEmpty ? nil : $0 + "/" + Self.fileName(graph) }
    }

    /// A graph name as a file name: `/` and spaces become `-`.
    static func fileName(_ name: String) -> String {
        String(name.map { $0 == "/" || $0 == " " ? "-" : $0 })
    }

    mutating func write(_ graph: Graph, after stage: String, clusters: [DOTWriter.Cluster] = []) {
        count += 1
        guard let folder else { return }
        var writer = DOTWriter()
        writer.title = "\(graph.name) after \(stage)"
        writer.clusters = clusters
        let path = "\(folder)/\(count)-\(Self.fileName(stage)).dot"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try writer.write(graph).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            guard !reported else { return }
            reported = true
            FileHandle.standardError.write(Data("GAUGE_DUMP: cannot write \(path): \(error)\n".utf8))
        }
    }
}

extension Fusion.Result {
    /// The fusion groups of more than one op as DOT clusters, each labelled with its kernel
    /// number and op count, its reason as the tooltip (`GAUGE_DUMP`, `gauge dot`).
    public var clusters: [DOTWriter.Cluster] {
        groups.enumerated().filter { $0.element.members.count > 1 }.map { k, g in
            DOTWriter.Cluster(label: "fused kernel \(k) (\(g.members.count) ops)", tooltip: g.reason, nodes: g.members)
        }
    }
}
