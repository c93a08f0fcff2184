import CKernels
import Foundation
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

/// Restructuring changes no result (issue 22): two training steps of every built-in model, as a
/// user runs them (`TrainingStep`, Adam, every pass), give the same bits as on the commit that
/// recorded `StepDigests.txt` — the digest of every parameter, optimizer moment and loss.
///
/// The bits depend on the CPU (vector width, FMA) and on OpenBLAS's build and core, so digests
/// are kept per machine kind, keyed by those; on a kind with none recorded the test is skipped.
/// To record them for this kind, on the commit before a change:
///
///     GAUGE_RECORD_STEP_DIGESTS=1 swift test -c release --filter StepDigestTests
///
/// then commit `Tests/RuntimeTests/StepDigests.txt`, make the change and run the test.
@Suite(.serialized) struct StepDigestTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("StepDigests.txt")
    static let recording = ProcessInfo.processInfo.environment["GAUGE_RECORD_STEP_DIGESTS"] == "1"

    /// What decides the bits: OpenBLAS's build and core, Gauge's own kernels' vector path.
    static var machineKind: String {
        #if DEBUG
            let build = "debug"
        #else
            let build = "release"
        #endif
        let vectors = gauge_cpu_has_avx2_fma() != 0 ? "avx2+fma" : "scalar"
        return "\(Threads.blasConfig.trimmingCharacters(in: .whitespaces)); \(vectors); \(build)"
    }

    /// Recorded digests by machine kind and model.
    static func recorded() -> [String: [String: String]] {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [:] }
        var table: [String: [String: String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 3 else { continue }
            table[fields[0], default: [:]][fields[1]] = fields[2]
        }
        return table
    }

    static var canCompare: Bool { recording || recorded()[machineKind] != nil }

    @Test(.enabled(if: canCompare, "no step digests recorded for this CPU and OpenBLAS"))
    func everyBuiltInModelStepsToTheRecordedBits() throws {
        var digests: [String: String] = [:]
        try withThreads(2) {
            for entry in ModelCatalog.all {
                digests[entry.name] = try Self.digest(entry.build(), batch: entry.name.hasPrefix("ace-cifar") ? 2 : 4)
            }
        }
        if Self.recording {
            try Self.record(digests)
            return
        }
        let expected = Self.recorded()[Self.machineKind] ?? [:]
        for (name, digest) in digests.sorted(by: { $0.key < $1.key }) {
            #expect(expected[name] == digest, "\(name): two steps give digest \(digest), recorded \(expected[name] ?? "none")")
        }
    }

    /// FNV-1a (a 32-bit word at a time) over the bits of every state tensor (in layout order) and every loss after two
    /// Adam steps from seed 7 on `testInputs`.
    static func digest(_ model: Model, batch: Int) throws -> String {
        let step = try TrainingStep(model, batch: batch, optimizer: .adam(learningRate: 1e-3, weightDecay: 1e-4))
        let state = step.initialState(seed: 7)
        var feed: [String: TensorData] = [:]
        for (name, values) in testInputs(step.graph, batch: batch, seed: 7) {
            let isInt = step.graph.inputs.contains { $0.op.inputName == name && $0.dtype == .int32 }
            feed[name] = isInt ? .int32(values.map { Int32($0) }) : .float32(values.map { Float($0) })
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bits: UInt32) { hash = (hash ^ UInt64(bits)) &* 0x0000_0100_0000_01b3 }
        for _ in 0..<2 {
            let losses = try step.run(state, feeding: feed)
            for name in losses.keys.sorted() { mix(losses[name]!.bitPattern) }
        }
        for tensor in state.tensors {
            for value in tensor.values { mix(value.bitPattern) }
        }
        return String(hash, radix: 16)
    }

    /// Replaces this machine kind's lines in the file, keeping every other kind's.
    static func record(_ digests: [String: String]) throws {
        var table = recorded()
        table[machineKind] = digests
        var lines = [
            "# Step digests of every built-in model (StepDigestTests), by machine kind; tab-separated.",
            "# Record with GAUGE_RECORD_STEP_DIGESTS=1 on the commit before a change (see the test).",
        ]
        for (kind, models) in table.sorted(by: { $0.key < $1.key }) {
            for (name, digest) in models.sorted(by: { $0.key < $1.key }) { lines.append("\(kind)\t\(name)\t\(digest)") }
        }
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    }
}
