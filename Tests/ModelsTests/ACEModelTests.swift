import Compiler
import Foundation
import Graph
import Models
import Testing

@Suite struct ACEModelTests {
    /// Parameters of a dense layer with bias.
    func dense(_ inputs: Int, _ outputs: Int) -> Int { inputs * outputs + outputs }
    /// Parameters of a conv layer with per-channel bias.
    func conv(_ inputs: Int, _ outputs: Int, kernel: Int) -> Int { outputs * inputs * kernel * kernel + outputs }

    /// PAPER.md §3.4 (Fig. 3): AE 3072-2048-2048-(2×10)-(2048×10)-(2048×10)-(3072×10); classifier
    /// as Fig. 2 (32-64-128 3×3 convs, pools between, FC 700, 10 outputs); SSN conv 32@3×3 →
    /// pool → conv 64@3×3 → FC 128 → 6. 'Same' padding keeps 32×32 until a pool halves it.
    @Test func aceCifarParameterCountMatchesThePapersLayerArithmetic() throws {
        let classes = 10
        let ssn = conv(3, 32, kernel: 3) + conv(32, 64, kernel: 3) + dense(64 * 16 * 16, 128) + dense(128, 6)
        let classifier =
            conv(3, 32, kernel: 3) + conv(32, 64, kernel: 3) + conv(64, 128, kernel: 3)
            + dense(128 * 8 * 8, 700) + dense(700, 10)
        let encoder = dense(3072, 2048) + dense(2048, 2048) + 2 * classes * dense(2048, 2)  // μ and log σ heads
        let decoder = classes * (dense(2, 2048) + dense(2048, 2048) + dense(2048, 3072))

        let graph = try ACE.model(.cifar).graph
        func parameters(in scope: String) -> Int {
            graph.parameters.filter { $0.scope.first == scope }.reduce(0) { $0 + $1.shape.fixedElementCount }
        }
        #expect(parameters(in: "ssn") == ssn)
        #expect(parameters(in: "classifier") == classifier)
        #expect(parameters(in: "encoder") == encoder)
        #expect(parameters(in: "decoder") == decoder)
        #expect(graph.parameterCount == ssn + classifier + encoder + decoder)
        #expect(graph.parameterCount == 123_494_860)
    }

    /// PAPER.md §3.5 (Fig. 4): encoder conv 32@5×5 → pool → conv 64@5×5 → pool → heads from
    /// 64·8·8; decoder per class 2 → 1500 → 1500 → 64·8·8, deconvs 64→32→3 (5×5, stride 2), the
    /// deconvs per class too.
    @Test func aceCifarConvParameterCountMatchesItsLayers() throws {
        let classes = 10
        let encoder = conv(3, 32, kernel: 5) + conv(32, 64, kernel: 5) + 2 * classes * dense(64 * 8 * 8, 2)
        let deconvs = conv(64, 32, kernel: 5) + conv(32, 3, kernel: 5)  // weights [in, out, 5, 5], out biases
        let decoder = classes * (dense(2, 1500) + dense(1500, 1500) + dense(1500, 64 * 8 * 8) + deconvs)
        let graph = try ACE.model(.cifarConv).graph
        func parameters(in scope: String) -> Int {
            graph.parameters.filter { $0.scope.first == scope }.reduce(0) { $0 + $1.shape.fixedElementCount }
        }
        #expect(parameters(in: "encoder") == encoder)
        #expect(parameters(in: "decoder") == decoder)
        let checked = try ShapeInference.run(graph)
        let reconstruction = try #require(checked.outputs.first { $0.name == "reconstruction" })
        #expect(checked[reconstruction.node].shape == [.batch, 3, 32, 32])
        #expect(graph.losses.map(\.name) == ["reconstruction_error", "generative_error", "classification_error"])
    }

    @Test func aceCifarHasThePapersInputsOutputsAndLosses() throws {
        let graph = try ShapeInference.run(ACE.model(.cifar).graph)
        #expect(graph.inputs.map(\.type) == [TensorType([.batch, 3, 32, 32]), TensorType([.batch], .int32)])
        #expect(graph.losses.map(\.name) == ["reconstruction_error", "generative_error", "classification_error"])
        let shapes = Dictionary(uniqueKeysWithValues: graph.outputs.map { ($0.name, graph[$0.node].shape) })
        #expect(shapes == ["logits": [.batch, 10], "reconstruction": [.batch, 3, 32, 32], "latent_mean": [.batch, 2], "theta": [.batch, 6],
        ])
        // The SSN's last layer starts at the identity transform: zero weights, identity bias.
        let last = graph.parameters.filter { $0.scope == ["ssn"] }.suffix(2)
        #expect(last.map(\.op) == [
            .parameter(name: "ssn/dense_1/weight", initializer: .zeros),
            .parameter(name: "ssn/dense_1/bias", initializer: .identityAffine),
        ])
    }

    @Test func everyBuiltInModelBuildsAndPassesShapeInference() throws {
        for entry in ModelCatalog.all {
            let model = try entry.build()
            let checked = try ShapeInference.run(model.graph)
            #expect(checked == model.graph, "\(entry.name)")
            #expect(!model.graph.losses.isEmpty, "\(entry.name)")
        }
    }

    @Test func graphvizAcceptsTheDOTOfACE() throws {
        let dot = try ACE.model(.cifar).graph.dot()
        let graphviz = ["/usr/bin/dot", "/usr/local/bin/dot"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let path = try #require(graphviz, "Graphviz is not installed: apt-get install -y graphviz")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-Tsvg"]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(dot.utf8))
        try input.fileHandleForWriting.close()
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "dot said: \(stderr)")
        #expect(String(decoding: svg, as: UTF8.self).contains("<svg"))
        #expect(String(decoding: svg, as: UTF8.self).contains("cluster_ssn"))
    }
}
