import Compiler
import Foundation
import Graph
import Runtime
import Testing

let referencePythonForOptimizers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path + "/Benchmarks/reference/.venv/bin/python"

/// SGD with momentum, Nesterov and AdamW against torch.optim: the same initial parameters and
/// loss, four updates, the same parameters after them (Benchmarks/reference/agree_optimizers.py).
@Suite struct OptimizerAgreementTests {
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: referencePythonForOptimizers),
            "run bash Benchmarks/reference/setup.sh to install PyTorch"))
    func optimizersAgreeWithPyTorch() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-optimizers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let x: [Float] = [0.5, -1, 2, 1.5, 0.25, -0.75]
        let cases: [(String, Optimizer, [String: String])] = [
            ("sgd-momentum", .sgd(learningRate: 0.05, momentum: 0.9), ["optimizer": "sgd", "momentum": "0.9", "nesterov": "false"]),
            ("sgd-nesterov", .sgd(learningRate: 0.05, momentum: 0.8, nesterov: true), ["optimizer": "sgd", "momentum": "0.8", "nesterov": "true"]),
            ("adamw", .adamW(learningRate: 0.01, weightDecay: 0.1), ["optimizer": "adamw"]),
        ]
        for (name, optimizer, settings) in cases {
            let step = try TrainingStep(twoScopesModel(), batch: 2, optimizer: optimizer)
            let state = step.initialState(seed: 11)
            let (a0, b0) = (try #require(state.values("a/w")), try #require(state.values("b/w")))
            for _ in 0..<4 { try step.run(state, feeding: ["x": .float32(x)]) }
            let (a, b) = (try #require(state.values("a/w")), try #require(state.values("b/w")))
            var metadata = settings
            metadata["lr"] = "\(optimizer.learningRate)"
            metadata["weight_decay"] = "\(optimizer.weightDecay)"
            metadata["steps"] = "4"
            let tensors: [(String, [Int], [Float])] = [("x", [2, 3], x), ("a0", [3], a0), ("b0", [3], b0), ("a", [3], a), ("b", [3], b)]
            let buffers = tensors.map { t -> (String, [Int], UnsafeMutableBufferPointer<Float>) in
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: t.2.count)
                _ = buffer.initialize(from: t.2)
                return (t.0, t.1, buffer)
            }
            defer { for b in buffers { b.2.deallocate() } }
            try SafeTensors.write(
                buffers.map { ($0.0, $0.1, UnsafeBufferPointer($0.2)) }, metadata: metadata,
                to: folder.appendingPathComponent(name + ".safetensors").path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: referencePythonForOptimizers)
        let script = URL(fileURLWithPath: referencePythonForOptimizers).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("agree_optimizers.py").path
        process.arguments = [script, folder.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print("agree_optimizers.py:\n" + text)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("adamw.safetensors b: "), "\(text)")
    }
}
