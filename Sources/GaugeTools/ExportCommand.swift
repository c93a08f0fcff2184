import ArgumentParser
import Compiler
import Datasets
import Foundation
import Graph
import Runtime

/// `gauge export MODEL`: one training step's inputs and results, for other frameworks to redo.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write one training step's inputs and Gauge's results as safetensors, for an agreement check.",
        discussion: """
            Runs one step of MODEL with dropout as the identity (so no masks need sharing), unfused \
            and unsimplified, and writes into --out: params.safetensors (initial parameters and \
            zero Adam moments), inputs.safetensors (image, label as floats, and every random draw \
            of the step under its node's name), and gauge.safetensors (each loss term, each \
            parameter's gradient as grad/NAME, and each parameter after one Adam update as \
            updated/NAME). Benchmarks/reference/agree.py recomputes them in PyTorch or JAX.
            """)

    @Argument(help: "A built-in model (see `gauge models`).")
    var model: String

    @Option(help: "Batch size.")
    var batch: Int = 8

    @Option(help: "Seed for the parameters and the batch.")
    var seed: UInt64 = 1

    @Option(help: "Adam learning rate of the update.")
    var learningRate: Float = 0.001

    @Option(help: "Added to every identity-initialised affine bias (the SSN's θ), so the sampler's points fall between pixels: at the identity they sit on the pixel lattice, where the bilinear θ-gradient has a kink and frameworks pick different one-sided values.")
    var thetaOffset: Float = 0.0173

    @Option(name: .shortAndLong, help: "Folder to write into (made if missing).")
    var out: String

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be a positive integer, got \(batch)") }
        guard learningRate > 0 else { throw ValidationError("--learning-rate must be positive") }
    }

    func run() throws {
        let built = try buildModel(model).withoutDropout()
        let gradients = try Autodiff.differentiate(built.graph).gradients
        let step = try TrainingStep(
            built, batch: batch, optimizer: .adam(learningRate: learningRate),
            options: CompileOptions(simplify: false, referencePlan: true))
        let state = step.initialState(seed: seed)
        for node in step.graph.parameters {
            if case .parameter(let name, .identityAffine) = node.op, let values = state.values(name) {
                try state.setValues(name, values.map { $0 + thetaOffset })
            }
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try state.save(to: out + "/params.safetensors")

        var random = SplitMix64(seed: seed)
        var feeds: [String: TensorData] = [:]
        var inputs: [(String, [Int], [Float])] = []
        for input in built.graph.inputs {
            guard let name = input.op.inputName else { continue }
            let shape = input.shape.resolved(batch: batch)
            let n = shape.reduce(1, *)
            if input.dtype == .int32 {
                let limit = built.graph.users()[input.id.index]
                    .compactMap { SyntheticData.classLimit(built.graph[$0], of: input.id, in: built.graph) }.min() ?? 1
                let labels = (0..<n).map { _ in Int32(random.below(limit)) }
                feeds[name] = .int32(labels)
                inputs.append((name, shape, labels.map(Float.init)))
            } else {
                let values = (0..<n).map { _ in Float(random.unit()) }
                feeds[name] = .float32(values)
                inputs.append((name, shape, values))
            }
        }
        let losses = try step.run(state, feeding: feeds)
        for node in step.graph.nodes {
            if case .random = node.op {
                inputs.append((node.name, node.shape.resolved(batch: batch), step.executor.values(of: node.id)))
            }
        }
        // `run` returns every loss term of the graph by name.
        var results: [(String, [Int], [Float])] = step.graph.losses.map { ($0.name, [1], [losses[$0.name]!]) }
        for (parameter, gradient) in gradients {
            let node = step.graph[parameter]
            guard case .parameter(let name, _) = node.op else { continue }
            results.append(("grad/" + name, node.shape.resolved(batch: batch), step.executor.values(of: gradient)))
            results.append(("updated/" + name, node.shape.resolved(batch: batch), state.values(name)!))
        }
        try write(inputs, to: out + "/inputs.safetensors")
        try write(results, to: out + "/gauge.safetensors")
        print("wrote \(out)/params.safetensors, inputs.safetensors (\(inputs.count) tensors), gauge.safetensors (\(results.count) tensors)")
        for (name, value) in losses.sorted(by: { $0.key < $1.key }) { print("  \(name) \(value)") }
    }

    func write(_ tensors: [(String, [Int], [Float])], to path: String) throws {
        let buffers = tensors.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: max($0.2.count, 1)) }
        defer { for b in buffers { b.deallocate() } }
        for (b, t) in zip(buffers, tensors) { _ = b.initialize(from: t.2) }
        try SafeTensors.write(
            zip(tensors, buffers).map { ($0.0, $0.1, UnsafeBufferPointer(rebasing: $1[0..<$0.2.count])) },
            metadata: ["model": model, "format": "pt"], to: path)
    }
}
