import Foundation
import Testing

/// Runs the built `gauge` executable as a user would.
func gauge(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try execute("gauge", arguments)
}

/// Runs a built executable of the package.
func execute(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let binary = Bundle.main.bundleURL.appendingPathComponent(name)
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite struct CLITests {
    @Test func modelsListsBuiltInsWithDescriptions() throws {
        let r = try gauge(["models"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("ace-cifar "))
        #expect(r.stdout.contains("ACE with spatial symmetry statistics on CIFAR-10"))
        #expect(r.stdout.contains("tiny-vae "))
    }

    @Test func summaryPrintsParametersFLOPsAndNodeCounts() throws {
        let r = try gauge(["summary", "ace-cifar", "--batch", "250"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("model ace-cifar, batch 250"))
        #expect(r.stdout.contains("parameters: 123,494,860 in 32 tensors, 494.0 MB float32"))
        #expect(r.stdout.contains("groupedMatmul"))
        #expect(r.stdout.contains("per example"))
    }

    @Test func dotWritesAFileAndStandardOutput() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-cli-test-\(getpid()).dot").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try gauge(["dot", "ace-cifar", "--stage", "forward", "-o", path])
        #expect(r.status == 0)
        #expect(r.stderr.contains("wrote \(path)"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("digraph \"ace-cifar\" {"))
        let stdout = try gauge(["dot", "tiny-vae"])
        #expect(stdout.status == 0)
        #expect(stdout.stdout.hasPrefix("digraph \"tiny-vae\" {"))
    }

    @Test func unknownModelIsAClearErrorWithNonZeroExit() throws {
        let r = try gauge(["summary", "no-such-model"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("unknown model 'no-such-model'; built-in models are: ace-cifar, tiny-vae, conv-classifier"))
        #expect(r.stdout.isEmpty)
    }

    @Test func badBatchIsAClearErrorWithNonZeroExit() throws {
        let zero = try gauge(["summary", "ace-cifar", "--batch", "0"])
        #expect(zero.status != 0)
        #expect(zero.stderr.contains("--batch must be a positive integer, got 0"))
        let word = try gauge(["summary", "ace-cifar", "--batch", "many"])
        #expect(word.status != 0)
        #expect(word.stderr.contains("many"))
    }

    @Test func gradientStageShowsTheGradientGraph() throws {
        let r = try gauge(["dot", "tiny-vae", "--stage", "gradient"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("subgraph \"cluster_gradient\""))
        #expect(r.stdout.contains("∂dense(400)"))
    }

    @Test func benchTimesStepsAndReportsJSON() throws {
        let r = try gauge(["bench", "conv-classifier", "--batch", "4", "--steps", "2", "--warmup", "0", "--threads", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("{\"model\":\"conv-classifier\",\"batch\":4,\"threads\":1,\"steps\":2,\"median_ms\":"))
        #expect(r.stderr.contains("step 2/2"))
        let bad = try gauge(["bench", "tiny-vae", "--steps", "0"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--steps must be a positive integer, got 0"))
    }

    @Test func unknownStageIsRejected() throws {
        let r = try gauge(["dot", "ace-cifar", "--stage", "bogus"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bogus"))
    }

    @Test func unwritableOutputIsAClearError() throws {
        let r = try gauge(["dot", "tiny-vae", "-o", "/nonexistent-dir/x.dot"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("cannot write /nonexistent-dir/x.dot"))
    }
}

@Suite struct ExampleACECIFARTests {
    @Test func missingDataIsAClearErrorListingWhereItLooked() throws {
        let r = try execute("example-ace-cifar", ["--data", "/nonexistent"], environment: ["HOME": "/nonexistent-home"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("CIFAR-10 not found; looked in: /nonexistent/cifar-10-batches-bin, /nonexistent-home/.cache/gauge/cifar-10-batches-bin"))
    }

    /// Two steps on the real CIFAR-10, a checkpoint, then one more step resumed from it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GAUGE_DATA"] != nil, "set GAUGE_DATA to the data folder"))
    func trainsCheckpointsAndResumes() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-example-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let first = try execute("example-ace-cifar", ["--max-steps", "2", "--every", "1", "--output", output])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("epoch 1/300 step 2/200  per image: loss"))
        #expect(first.stdout.contains("saved \(output)/checkpoint.safetensors"))
        let second = try execute("example-ace-cifar", ["--max-steps", "1", "--every", "1", "--output", output, "--resume"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("resumed from \(output)/checkpoint.safetensors: epoch 1, step 2"))
        #expect(second.stdout.contains("epoch 1/300 step 3/200"))
    }

    /// A whole (tiny) epoch: training, the checkpoint, then the test evaluation.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GAUGE_DATA"] != nil, "set GAUGE_DATA to the data folder"))
    func aWholeEpochEndsWithATestEvaluation() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-epoch-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute(
            "example-ace-cifar", ["--limit", "100", "--batch", "50", "--epochs", "1", "--every", "1", "--output", output])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("epoch 1/1 step 2/2"))
        #expect(r.stdout.contains("epoch 1 test: accuracy "))
        #expect(r.stdout.contains("nats, classification "))
    }
}
