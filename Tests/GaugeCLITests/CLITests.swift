import Datasets
import Foundation
import Testing

/// Runs the built `gauge` executable as a user would.
func gauge(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try execute("gauge", arguments)
}

/// Runs a built executable of the package.
func execute(_ name: String, _ arguments: [String], environment: [String: String]? = nil, absolute: Bool = false) throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let binary = absolute ? URL(fileURLWithPath: name) : Bundle.main.bundleURL.appendingPathComponent(name)
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
        // The memory planner's stages, each timed under its pass.
        for stage in ["fuse element-wise groups", "form kernels", "join gradients to updates", "join input gradients",
            "join epilogues", "schedule", "lay out memory", "emit instructions"]
        {
            #expect(r.stdout.contains("\n    \(stage) "), "\(stage)")
        }
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

    /// Graphviz lays out the optimized stage of a paper model, whose fusion clusters cut across
    /// its scopes (dot's default ranking stopped with "trouble in init_rank" on every ACE model;
    /// with straight edges and one placement pass about 6 s of Graphviz's time, 62 s without).
    @Test func graphvizLaysOutTheFusionClustersOfAnACEModel() throws {
        let graphviz = try #require(
            ["/usr/bin/dot", "/usr/local/bin/dot"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "Graphviz is not installed: apt-get install -y graphviz")
        let directory = FileManager.default.temporaryDirectory
        let (path, svg) = (directory.appendingPathComponent("gauge-fused-\(getpid()).dot").path,
            directory.appendingPathComponent("gauge-fused-\(getpid()).svg").path)
        defer { for file in [path, svg] { try? FileManager.default.removeItem(atPath: file) } }
        let r = try gauge(["dot", "ace-mnist", "--stage", "optimized", "-o", path])
        #expect(r.status == 0, "\(r.stderr)")
        let layout = try execute(graphviz, ["-Tsvg", path, "-o", svg], absolute: true)
        #expect(layout.status == 0, "dot said: \(layout.stderr.prefix(300))")
        let drawn = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(drawn.contains("fused kernel") && drawn.contains("<svg"))
    }

    /// `--scope` draws one part of a stage (laid out with curves, being small) and names the
    /// stage's scopes when a path matches nothing.
    @Test func dotDrawsOnePartOfAStage() throws {
        let part = try gauge(["dot", "ace-cifar", "--stage", "optimized", "--scope", "gradient/decoder", "--scope", "decoder"])
        #expect(part.status == 0, "\(part.stderr)")
        #expect(part.stdout.contains("label=\"ace-cifar, optimized stage: gradient/decoder, decoder\"];"))
        #expect(!part.stdout.contains("splines=line"))
        #expect(part.stdout.contains("fused kernel"))
        #expect(part.stdout.contains("groupedMatmulWeightGrad"))
        #expect(!part.stdout.contains("conv2d"))
        let whole = try gauge(["dot", "ace-cifar", "--stage", "optimized"])
        #expect(whole.stdout.contains("newrank=true, nslimit=1, splines=line"))

        let unknown = try gauge(["dot", "ace-cifar", "--scope", "nothing"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains(
            "no node of ace-cifar is in scope 'nothing' at the forward stage; its scopes are classifier, decoder, encoder, latent, ssn, unwarp, warp (and the scopes inside them)"))
        #expect(unknown.stdout.isEmpty)
        let empty = try gauge(["dot", "ace-cifar", "--scope", "/"])
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("--scope needs a scope path such as decoder or gradient/decoder, got '/'"))
    }

    /// The planned stage names each in-place decision, and the value written over shares the
    /// buffer of the value it names.
    @Test func plannedStageShowsInPlaceValuesOverTheirBuffers() throws {
        let r = try gauge(["dot", "tiny-vae", "--stage", "planned", "--batch", "8"])
        #expect(r.status == 0, "\(r.stderr)")
        var bufferOfName: [String: String] = [:]
        var pairs: [(buffer: String, over: String)] = []
        for line in r.stdout.split(separator: "\n") where line.contains("\\nbuffer ") {
            guard let tooltip = line.range(of: "tooltip=\""), let dash = line.range(of: " — ", range: tooltip.upperBound..<line.endIndex),
                let buffer = line.range(of: "\\nbuffer ")
            else { continue }
            let name = String(line[tooltip.upperBound..<dash.lowerBound])
            let number = String(line[buffer.upperBound...].prefix { $0 != ":" })
            bufferOfName[name] = number
            if let over = line.range(of: ", in place over ") {
                pairs.append((number, String(line[over.upperBound...].prefix { $0 != "\"" })))
            }
        }
        #expect(pairs.count >= 10, "\(pairs.count) in-place values")
        for pair in pairs { #expect(bufferOfName[pair.over] == pair.buffer, "\(pair.over) is not in buffer \(pair.buffer)") }
        #expect(r.stdout.contains("in place\", color=\"#38761d\"") || r.stdout.contains("[label=\"in place\", style=dotted"))
        #expect(r.stdout.contains("label=\"update, in place\""))
    }

    /// `--collapse` draws the paper's model as its scopes: the decoder's ten classes of three
    /// layers as one box with their 104,970,240 parameters, the encoder's two latent heads as
    /// one edge.
    @Test func dotCollapsesScopes() throws {
        let r = try gauge(["dot", "ace-cifar", "--collapse", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("label=\"ace-cifar, forward stage: scopes collapsed to 1 level\"];"))
        #expect(r.stdout.contains("\"scope decoder\" [label=\"decoder\\n13 ops: 3 add, 3 gatherRows, 3 groupedMatmul, …\\n105.0 M parameters\""))
        #expect(r.stdout.contains("\"scope encoder\" -> \"scope latent\" [label=\"2 values\"];"))
        let boxes = r.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("  \"scope ") && !$0.contains(" -> ") }
        #expect(boxes.count == 7, "\(boxes)")
        let step = try gauge(["dot", "ace-cifar", "--stage", "optimized", "--scope", "adam", "--collapse", "2"])
        #expect(step.status == 0, "\(step.stderr)")
        #expect(step.stdout.contains("\"scope adam/decoder\" [label=\"adam/decoder\\n"))
        // Adam's two moments of the decoder's 104,970,240 parameters.
        #expect(step.stdout.contains("adam/decoder\\n72 ops: 30 mul, 18 add, 6 div, …\\n209.9 M in variables"))
        let zero = try gauge(["dot", "ace-cifar", "--collapse", "0"])
        #expect(zero.status != 0)
        #expect(zero.stderr.contains("--collapse must be a positive depth (1 for the top-level scopes), got 0"))
    }

    @Test func unknownModelIsAClearErrorWithNonZeroExit() throws {
        let r = try gauge(["summary", "no-such-model"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("unknown model 'no-such-model'; the models are: ace-cifar, ace-cifar-conv, ace-cifar-colour, ace-cifar-conv-colour, ace-mnist, ace-rts, ace-tc, ace-mnist-nosym, ace-rts-nosym, ace-tc-nosym, ace-deep-rts, ace-deep-cifar, tiny-vae, conv-classifier, cvae-mnist, conv-vae-cifar, cnn-cifar (see `gauge models`)"))
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

    /// After warm-up Gauge's own code allocates nothing on the heap in the executor's run of a
    /// whole training step of any built-in model, on two threads (every parallel path taken); the
    /// counter does see the step's own bookkeeping (its result dictionary at least), so it is
    /// counting; and the per-kernel count that follows (a run with the counter read around each
    /// kernel) names no kernel. Allocations inside OpenBLAS calls are counted apart and only
    /// reported: they depend on the kernel OpenBLAS picks for the CPU (none with `Zen`, some
    /// inside `sgemm` with `Cooperlake` on Zen 4), so this test holds on either.
    @Test(arguments: [
        "tiny-vae", "conv-classifier", "cvae-mnist", "conv-vae-cifar", "ace-mnist", "ace-rts-nosym", "ace-tc", "ace-cifar",
        "ace-cifar-conv",
    ])
    func aTrainingStepAllocatesNothingInTheExecutor(model: String) throws {
        let r = try gauge(["bench", model, "--batch", "32", "--steps", "1", "--threads", "2", "--allocations"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("timed steps, OpenBLAS core "))
        let blas = try #require(r.stdout.split(separator: "\n").first { $0.contains("inside OpenBLAS (core ") })
        #expect(blas.hasSuffix(" heap allocations in the executor's run"), "\(blas)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.contains("heap allocations in one step after warm-up: ") })
        let numbers = line.split(separator: " ").compactMap { Int($0) }
        // The executor's run, the step fed by dictionary (its result dictionary at least), and
        // the step fed in place (`run(_:losses:)`, which allocates nothing).
        #expect(numbers.count == 3 && numbers[0] == 0 && numbers[1] >= 1 && numbers[2] == 0, "\(model): \(line)")
        let perKernel = r.stdout.split(separator: "\n").drop { !$0.contains("heap allocations in one step") }.dropFirst()
        #expect(perKernel.isEmpty, "\(model): \(perKernel.joined(separator: "; "))")
    }

    /// What a BLAS library allocates is counted apart from Gauge's own: with a `cblas_sgemm`
    /// interposed (LD_PRELOAD) that allocates once per call and then calls OpenBLAS's — as
    /// OpenBLAS's Cooperlake kernel does on Zen 4 — the executor's run still shows no allocation
    /// of Gauge's, and the OpenBLAS line counts at least one per GEMM call. Any CPU can run it.
    @Test func allocationsInsideBLASAreCountedApart() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-blas-shim-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("shim.c").path
        let library = folder.appendingPathComponent("shim.so").path
        try """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <stdlib.h>
            typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                                    float *, int);
            void cblas_sgemm(int o, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                             const float *b, int ldb, float beta, float *c, int ldc) {
                static sgemm_t real;
                if (!real) real = (sgemm_t)dlsym(RTLD_NEXT, "cblas_sgemm");
                void *volatile p = malloc(64);
                free(p);
                real(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let cc = try execute("/usr/bin/cc", ["-shared", "-fPIC", "-O2", source, "-o", library, "-ldl"], absolute: true)
        try #require(cc.status == 0, "cc: \(cc.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = library
        let r = try execute(
            "gauge", ["bench", "tiny-vae", "--batch", "32", "--steps", "1", "--threads", "2", "--allocations"],
            environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        let blas = try #require(lines.first { $0.contains("inside OpenBLAS (core ") })
        let blasCount = try #require(blas.split(separator: " ").compactMap { Int($0) }.first)
        // tiny-vae's step makes at least its six dense layers' forward GEMMs.
        #expect(blasCount >= 6, "\(blas)")
        let own = try #require(lines.first { $0.contains("heap allocations in one step after warm-up: ") })
        #expect(own.contains(": 0 in the executor's run"), "\(own)")
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

    /// `--sample` measures decoding and posing prior samples at batch 1, 100 and 1000; a model
    /// without ACE's renderer says so.
    @Test func benchMeasuresSampling() throws {
        let r = try gauge(["bench", "ace-mnist", "--batch", "4", "--steps", "1", "--warmup", "0", "--threads", "1", "--sample"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("  sampling (decoder and pose warp, 1 thread):"))
        for b in [1, 100, 1000] {
            let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("    batch \(b): ") }, "batch \(b)")
            let rate = try #require(Double(line.split(separator: " ")[2]))
            #expect(rate > 0)
        }
        let other = try gauge(["bench", "tiny-vae", "--batch", "4", "--steps", "1", "--warmup", "0", "--sample"])
        #expect(other.status == 0)
        #expect(other.stdout.contains("  sampling: tiny-vae is not an ACE model ("))
    }

    /// `--fit` trains through Trainer.fit and splits its time: the steps, the loop's own work
    /// (what fit adds), set-up and the checkpoint; the JSON line carries the same numbers.
    @Test func benchThroughFitSplitsItsTime() throws {
        let r = try gauge(["bench", "tiny-vae", "--batch", "8", "--steps", "3", "--warmup", "0", "--threads", "1", "--fit"])
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("  through Trainer.fit, 3 steps: TrainingStep.run ") })
        #expect(line.contains(" ms/step; fit's own loop ") && line.contains(" % of it; set-up ") && line.hasSuffix(" ms apart"))
        let json = try gauge(["bench", "tiny-vae", "--batch", "8", "--steps", "2", "--warmup", "0", "--threads", "1", "--fit", "--json"])
        #expect(json.stdout.contains("{\"fit_steps\":2,\"fit_run_ms\":"))
    }

    /// `--against VARIANT` alternates steps of the default plan and of the variant's, the variant
    /// first in every other pair, and the ratio it prints is the ratio of the two medians it prints.
    @Test func benchAgainstAVariantAlternatesStepsAndGivesTheirRatio() throws {
        let r = try gauge([
            "bench", "conv-classifier", "--batch", "4", "--steps", "4", "--warmup", "1", "--threads", "1", "--against",
            "no-epilogues",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let pairs = r.stderr.split(separator: "\n").filter { $0.contains("; no-epilogues ") && $0.hasSuffix(" ms") }
        #expect(pairs.count == 5)
        #expect(pairs.map { $0.contains("(no-epilogues first)") } == [false, true, false, true, false])
        func number(after prefix: String) throws -> Double {
            let line = try #require(r.stdout.split(separator: "\n").first { $0.contains(prefix) })
            let rest = line[line.range(of: prefix)!.upperBound...]
            return try #require(Double(rest.prefix { $0.isNumber || $0 == "." }))
        }
        let (mine, theirs) = (try number(after: "  median "), try number(after: "alternating steps: median "))
        let ratio = try number(after: "default ÷ no-epilogues: ")
        #expect(abs(ratio - mine / theirs) <= 0.002 + 0.1 / theirs, "\(ratio) vs \(mine) / \(theirs)")
        #expect(r.stdout.contains("each plan first in every other pair"))
        let same = try gauge([
            "bench", "tiny-vae", "--batch", "4", "--steps", "2", "--warmup", "0", "--threads", "1", "--against", "same",
        ])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("default ÷ same: "))
        let bad = try gauge(["bench", "tiny-vae", "--against", "no-such-thing"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("no-such-thing") && bad.stderr.contains("no-epilogues"))
    }

    /// `--profile --top N` names the N slowest kernel calls with their shapes, DSL lines and idle
    /// core time (none on one thread).
    @Test func profileListsTheSlowestKernelCalls() throws {
        let r = try gauge(["bench", "tiny-vae", "--batch", "4", "--steps", "1", "--warmup", "0", "--threads", "1", "--profile", "--top", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("slowest 3 kernel calls (ms/step, idle core ms/step):"))
        let calls = r.stdout.split(separator: "\n").filter { $0.hasPrefix("    #") }
        #expect(calls.count == 3 && calls.allSatisfy { $0.contains("SmallModels.swift:") && $0.contains(" → [") }, "\(calls)")
        #expect(calls.allSatisfy { $0.contains(" (0.0)  ") }, "\(calls)")
        #expect(r.stdout.contains("idle core time inside parallel kernels: 0.0 ms/step"))
        let bad = try gauge(["bench", "tiny-vae", "--top=-1"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--top must not be negative, got -1"))
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

let hasData = ProcessInfo.processInfo.environment["GAUGE_DATA"] != nil

/// A fresh folder name under the temporary directory.
func scratchFolder(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("gauge-\(name)-\(UUID().uuidString)").path
}

@Suite struct ExampleACECIFARTests {
    @Test func missingDataIsAClearErrorListingWhereItLooked() throws {
        let r = try execute("example-ace-cifar", ["--data", "/nonexistent"], environment: ["HOME": "/nonexistent-home"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("CIFAR-10 not found; looked in: /nonexistent/cifar-10-batches-bin, /nonexistent-home/.cache/gauge/cifar-10-batches-bin"))
    }

    @Test func badOptionsAreRejectedWithTheReason() throws {
        let r = try execute("example-ace-cifar", ["--class", "unicorn"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--class unicorn is not one of airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck or 0-9"))
        let s = try execute("example-ace-cifar", ["--sampling", "uniform"])
        #expect(s.stderr.contains("--sampling takes gaussian or laplacian, not uniform"))
    }

    /// Two steps on the real CIFAR-10, a checkpoint, then one more step resumed from it.
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func trainsCheckpointsAndResumes() throws {
        let output = scratchFolder("cifar")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let first = try execute("example-ace-cifar", ["--max-steps", "2", "--every", "1", "--out", output])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("epoch 1/4 step 2/200  per image: total "))
        #expect(first.stdout.contains("stopped after 2 steps (the step limit); the checkpoint is \(output)/checkpoint.safetensors"))
        #expect(first.stdout.contains("saved figures (latent grid of class horse) in \(output)/; stopped after --max-steps 2, continue with --resume"))
        let second = try execute("example-ace-cifar", ["--max-steps", "1", "--every", "1", "--out", output, "--resume"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("resumed from \(output)/checkpoint.safetensors: epoch 1, step 2"))
        #expect(second.stdout.contains("epoch 1/4 step 3/200"))
    }

    /// A whole (tiny) epoch: training, the checkpoint, the test evaluation, metrics and figures.
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func aWholeEpochWritesMetricsAndFigures() throws {
        let output = scratchFolder("cifar-epoch")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute(
            "example-ace-cifar", ["--limit", "100", "--batch", "50", "--epochs", "1", "--every", "1", "--out", output])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("epoch 1/1 step 2/2"))
        #expect(r.stdout.contains("epoch 1 done in "))
        try expectRunFolder(output, epochs: 1, side: 32, channels: 3, gridColumns: 7)
    }
}

/// metrics.jsonl has one line per epoch with every field; the figures are PNGs of the paper's
/// layouts; control.json measures every edit.
func expectRunFolder(_ dir: String, epochs: Int, side: Int, channels: Int, gridColumns: Int) throws {
    let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
    #expect(lines.count == epochs)
    let metrics = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    #expect(Set(metrics.keys) == ["epoch", "steps", "seconds", "learning_rate", "train", "test", "skipped_steps"])
    let test = try #require(metrics["test"] as? [String: Double])
    // A judge made on this machine (`gauge judge`) adds its scores; CI has none.
    #expect(Set(test.keys.filter { !$0.hasPrefix("judge_") }) == [
        "images", "classification_error", "reconstruction_nats", "kl_nats", "mixture_images",
        "mixture_reconstruction_nats", "mixture_kl_nats", "mixture_class_kl_nats", "latent_mean_abs_p99",
    ])
    // KL(ω‖π) to the uniform prior over 10 classes lies in [0, ln 10].
    #expect((0...Foundation.log(10.0) + 1e-9).contains(test["mixture_class_kl_nats"]!))
    #expect((0...1).contains(test["classification_error"]!) && test["reconstruction_nats"]! > 0)
    #expect(test["mixture_reconstruction_nats"]! > 0 && test["mixture_kl_nats"]! >= 0)
    let train = try #require(metrics["train"] as? [String: Double])
    #expect(Set(train.keys) == ["reconstruction_error", "generative_error", "classification_error", "total"])

    func pngSize(_ name: String) throws -> (Int, Int, UInt8) {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
        #expect(Array(b[1..<4]) == Array("PNG".utf8), "\(name)")
        let w = Int(b[16]) << 24 | Int(b[17]) << 16 | Int(b[18]) << 8 | Int(b[19])
        let h = Int(b[20]) << 24 | Int(b[21]) << 16 | Int(b[22]) << 8 | Int(b[23])
        return (w, h, b[25])
    }
    let tile = 2 * side + 2
    let (gw, gh, colour) = try pngSize("latent-grid.png")
    #expect(gw == gridColumns * tile - 2 && colour == (channels == 1 ? 0 : 2))
    #expect(gh == (gridColumns == 20 ? 10 : 7) * tile - 2)
    let (rw, rh, _) = try pngSize("reconstructions.png")
    #expect(rw == 10 * tile - 2 && rh == 5 * tile - 2)
    let (sw, sh, _) = try pngSize("samples.png")
    #expect(sw == 10 * tile - 2 && sh == 10 * tile - 2)
    let (pw, ph, _) = try pngSize("samples-posed.png")
    #expect(pw == 10 * tile - 2 && ph == 10 * tile - 2)
    let (cw, ch, _) = try pngSize("control.png")
    #expect(cw == 16 * tile - 2 && ch == 4 * tile - 2)
    let control = try #require(
        JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/control.json"))) as? [String: Any])
    let objects = try #require(control["objects"] as? [[String: Any]])
    #expect(objects.count == 4)
    let measurements = try #require(objects[0]["measurements"] as? [[String: Any]])
    #expect(measurements.count == 14)
    #expect(Set(measurements[0].keys) == ["edit", "measured_dx", "measured_dy", "measured_rotation_degrees", "measured_scale"])
}

@Suite struct ExampleACEMNISTTests {
    @Test func helpExplainsTheVariantsAndOptions() throws {
        let r = try execute("example-ace-mnist", ["--help"])
        #expect(r.status == 0)
        for text in ["--variant", "plain (28×28), rts (42×42) or tc (60×60)", "--no-symmetry-statistics", "--sampling", "--resume", "--out", "--weight-decay", "--ssn-rate-factor"] {
            #expect(r.stdout.contains(text), "\(text)")
        }
    }

    @Test func aBadVariantIsRejected() throws {
        let r = try execute("example-ace-mnist", ["--variant", "svhn"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--variant takes plain, rts or tc, not svhn"))
        let factor = try execute("example-ace-mnist", ["--ssn-rate-factor", "0"])
        #expect(factor.status != 0)
        #expect(factor.stderr.contains("--ssn-rate-factor must be positive"))
        let decay = try execute("example-ace-mnist", ["--weight-decay=-1e-4"])
        #expect(decay.status != 0)
        #expect(decay.stderr.contains("--weight-decay must be 0 or positive"))
    }

    /// Without MNIST anywhere (and no --data) it says so and trains on Fashion-MNIST (Debian's
    /// dataset-fashion-mnist).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist"), "install dataset-fashion-mnist"))
    func fallsBackToFashionMNIST() throws {
        let output = scratchFolder("fashion")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute(
            "example-ace-mnist",
            ["--variant", "plain", "--limit", "100", "--batch", "50", "--max-steps", "1", "--out", output],
            environment: ["HOME": "/nonexistent-home"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("MNIST not found (looked in /nonexistent-home/.cache/gauge/mnist); using Fashion-MNIST instead"))
        #expect(r.stdout.contains("stopped after 1 steps (the step limit)"))
    }

    /// Three steps straight, or two and then one more after --resume: the same checkpoint bytes
    /// (parameters, Adam moments, step, data cursor).
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func resumingEqualsAnUninterruptedRun() throws {
        let (straight, split) = (scratchFolder("straight"), scratchFolder("split"))
        defer { for d in [straight, split] { try? FileManager.default.removeItem(atPath: d) } }
        let common = ["--variant", "plain", "--limit", "150", "--batch", "50", "--epochs", "2"]
        #expect(try execute("example-ace-mnist", common + ["--max-steps", "4", "--out", straight]).status == 0)
        #expect(try execute("example-ace-mnist", common + ["--max-steps", "2", "--out", split]).status == 0)
        let resumed = try execute("example-ace-mnist", common + ["--max-steps", "2", "--out", split, "--resume"])
        #expect(resumed.stdout.contains("resumed from \(split)/checkpoint.safetensors: epoch 1, step 2"))
        let a = try Data(contentsOf: URL(fileURLWithPath: straight + "/checkpoint.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: split + "/checkpoint.safetensors"))
        #expect(a.count > 1000 && a == b)
    }

    /// A whole tiny epoch of RTS on the real MNIST: made on the fly, trained, evaluated, drawn.
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func anRTSEpochWritesMetricsAndFigures() throws {
        let output = scratchFolder("rts")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute(
            "example-ace-mnist", ["--variant", "rts", "--limit", "100", "--batch", "50", "--epochs", "1", "--out", output])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("made mnist-rts train and mnist-rts test from seed 1"))
        #expect(r.stdout.contains("compiled ace-rts at batch 50"))
        try expectRunFolder(output, epochs: 1, side: 42, channels: 1, gridColumns: 20)
    }
}

/// `GAUGE_DUMP=DIR` writes every compilation stage as DOT.
@Suite struct StageDumpTests {
    @Test func gaugeDumpWritesEveryStage() throws {
        let folder = scratchFolder("dump")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var environment = ProcessInfo.processInfo.environment
        environment["GAUGE_DUMP"] = folder
        let r = try execute("gauge", ["dot", "tiny-vae", "--stage", "optimized", "--output", folder + "/shown.dot"], environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        let stages = ["1-model", "2-autodiff", "3-optimizer-update", "4-simplify", "5-fused"]
        for stage in stages {
            let dot = try String(contentsOfFile: "\(folder)/tiny-vae/\(stage).dot", encoding: .utf8)
            #expect(dot.hasPrefix("digraph"), "\(stage)")
            #expect(dot.contains("tiny-vae after \(stage.dropFirst(2).replacingOccurrences(of: "-", with: " "))"), "\(stage)")
        }
        #expect(try String(contentsOfFile: "\(folder)/tiny-vae/5-fused.dot", encoding: .utf8).contains("fused kernel"))
    }
}

/// `gauge judge` makes a judge file; a run given it scores its figures in metrics.jsonl; a
/// judge of another image size is refused by name.
@Suite struct JudgeCLITests {
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func aJudgeScoresTheFiguresOfARun() throws {
        let (judgeFolder, run, rts) = (scratchFolder("judge"), scratchFolder("judged-run"), scratchFolder("judged-rts"))
        defer { for f in [judgeFolder, run, rts] { try? FileManager.default.removeItem(atPath: f) } }
        let made = try gauge(["judge", "mnist", "--limit", "2000", "--epochs", "1", "--out", judgeFolder])
        #expect(made.status == 0, "\(made.stderr)")
        let judge = judgeFolder + "/judge.safetensors"
        #expect(made.stdout.contains("judge of mnist train: test accuracy "))
        #expect(made.stdout.contains("% on 2000 images; wrote \(judge)"))

        let r = try execute(
            "example-ace-mnist",
            ["--variant", "plain", "--limit", "500", "--batch", "50", "--epochs", "1", "--judge", judge, "--out", run])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("judge: \(judge), trained on mnist train, test accuracy "))
        let line = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        let metrics = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let test = try #require(metrics["test"] as? [String: Double])
        for figure in ["samples", "samples_posed", "latent_grid", "latent_grid_ends"] {
            for score in ["consistency", "confidence", "flat"] {
                let value = try #require(test["judge_\(figure)_\(score)"], "judge_\(figure)_\(score)")
                #expect((0...1).contains(value))
            }
        }

        let wrong = try execute(
            "example-ace-mnist", ["--variant", "rts", "--limit", "100", "--batch", "50", "--epochs", "1", "--judge", judge, "--out", rts])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("the judge \(judge) takes 1×28×28 images of 10 classes; ace-rts draws 1×42×42 of 10"), "\(wrong.stderr)")
    }

    @Test func judgeArgumentsAreChecked() throws {
        let r = try gauge(["judge", "svhn"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("the data set is one of mnist, rts, tc, fashion-mnist, cifar10; not 'svhn'"))
        let draws = try gauge(["judge", "mnist", "--draws", "2"])
        #expect(draws.status != 0)
        #expect(draws.stderr.contains("--draws is for the distorted sets rts and tc"), "\(draws.stderr)")
    }

    /// `--draws K` trains on K distortions of each image; the test set stays one draw.
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func drawsMultiplyTheDistortedTrainingSet() throws {
        let folder = scratchFolder("judge-draws")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let r = try gauge(["judge", "rts", "--limit", "300", "--draws", "3", "--epochs", "1", "--out", folder])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("training the judge of mnist-rts train (900 images; test 300)"), "\(r.stdout)")
    }
}

/// The package's root folder (this file is Tests/GaugeCLITests/CLITests.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let referencePython = packageRoot + "/Benchmarks/reference/.venv/bin/python"

@Suite struct AgreementTests {
    /// The export holds the initial state, the batch with the step's random draws, and Gauge's
    /// loss terms, gradients and updated parameters under the names agree.py reads.
    @Test func exportWritesTheStepsInputsAndResults() throws {
        let out = scratchFolder("export")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try gauge(["export", "ace-mnist", "--batch", "4", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        func names(_ file: String) throws -> Set<String> {
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + file))
            let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let header = try #require(JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
            return Set(header.keys).subtracting(["__metadata__"])
        }
        let params = try names("params.safetensors")
        #expect(params.contains("decoder/denseByClass_1/weight") && params.contains("decoder/denseByClass_1/weight/adam_m"))
        #expect(try names("inputs.safetensors") == ["image", "label", "latent/sampleGaussian/randomNormal"])
        let results = try names("gauge.safetensors")
        #expect(results.isSuperset(of: ["reconstruction_error", "generative_error", "classification_error"]))
        let parameters = params.filter { !$0.hasSuffix("/adam_m") && !$0.hasSuffix("/adam_v") }
        #expect(parameters.allSatisfy { results.contains("grad/" + $0) && results.contains("updated/" + $0) })
    }

    /// PyTorch and JAX recompute the step from the export: losses, every gradient and the Adam
    /// update within 1e-4 (opt-in: needs `bash Benchmarks/reference/setup.sh`).
    @Test(
        .enabled(if: FileManager.default.fileExists(atPath: referencePython), "run bash Benchmarks/reference/setup.sh to install PyTorch and JAX"),
        arguments: ["ace-rts", "ace-cifar", "ace-cifar-conv"])
    func pyTorchAndJAXAgreeWithGauge(model: String) throws {
        let out = scratchFolder("agree-\(model)")
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(try gauge(["export", model, "--batch", "4", "--out", out]).status == 0)
        let r = try execute(referencePython, [packageRoot + "/Benchmarks/reference/agree.py", out], absolute: true)
        #expect(r.status == 0, "\(r.stdout.suffix(3000))\(r.stderr.suffix(2000))")
        #expect(r.stdout.contains("torch: worst") && r.stdout.contains("jax: worst"))
    }
}

/// The conditional-VAE example (public API only): a short run on the real MNIST writes its
/// metrics, checkpoint and prior samples, and a second run resumes from the checkpoint.
@Suite struct ExampleCVAETests {
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func trainsSamplesAndResumes() throws {
        let output = scratchFolder("cvae")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let common = ["--limit", "500", "--batch", "50", "--samples", "4", "--out", output]
        let r = try execute("example-cvae", common + ["--epochs", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("cvae: 500 training and 500 test images, 10 steps; writing to \(output)/"))
        #expect(r.stdout.contains("wrote \(output)/samples.png: 4 samples of each digit from the prior"))
        let picture = try PNGSize(path: output + "/samples.png")
        #expect(picture == (4 * 56 + 3 * 2, 10 * 56 + 9 * 2))
        let again = try execute("example-cvae", common + ["--epochs", "2"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("resumed from \(output)/checkpoint.safetensors: epoch 2, step 10"))
        let lines = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains("\"reconstruction\":") && $0.contains("\"kl\":") })
    }
}

extension ExampleCVAETests {
    /// One line in a user's executable gives Gauge's command line on its own models.
    @Test func gaugeToolsRunOnTheUsersModels() throws {
        let models = try execute("example-cvae", ["tools", "models"])
        #expect(models.status == 0)
        // Names are padded to the longest one, ace-cifar-conv-colour (21 characters), plus 2.
        #expect(models.stdout.hasPrefix("cvae" + String(repeating: " ", count: 19) + "conditional VAE on MNIST, 16 latents\ncvae-sampler "))
        #expect(models.stdout.contains("\nace-cifar "))
        let summary = try execute("example-cvae", ["tools", "summary", "cvae", "--batch", "100"])
        #expect(summary.status == 0, "\(summary.stderr)")
        #expect(summary.stdout.contains("parameters: 839,472 in 10 tensors, 3.4 MB float32"))
        let dot = try execute("example-cvae", ["tools", "dot", "cvae", "--stage", "planned"])
        #expect(dot.status == 0, "\(dot.stderr)")
        #expect(dot.stdout.hasPrefix("digraph \"cvae\" {"))
        let bench = try execute("example-cvae", ["tools", "bench", "cvae-sampler", "--batch", "10", "--steps", "1"])
        #expect(bench.status != 0)
        #expect(bench.stderr.contains("cvae-sampler has no Loss to differentiate"))
        let unknown = try execute("example-cvae", ["tools", "summary", "vae"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown model 'vae'; the models are: cvae, cvae-sampler, ace-cifar,"))
    }
}

@Suite struct DivergenceGuardTests {
    /// A learning rate of 1000 diverges at once: the run stops with the divergence guard's
    /// message and a non-zero exit (it used to train on NaN and crash in the evaluation).
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func aDivergingACERunStopsWithAMessage() throws {
        let output = scratchFolder("diverge")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute(
            "example-ace-mnist", ["--variant", "plain", "--learning-rate", "1000", "--limit", "500", "--out", output])
        #expect(r.status != 0)
        #expect(r.stderr.contains("training diverged at step "), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Unexpectedly found nil"))
    }
}

/// ACE with similarity statistics and β (public API only): a tiny epoch on real RTS MNIST
/// writes metrics with the statistics' scale and a sample grid from the decoder alone.
@Suite struct ExampleACEVariantTests {
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func aTinyEpochWritesMetricsAndSamples() throws {
        let output = scratchFolder("ace-variant")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute("example-ace-variant", ["--limit", "100", "--batch", "50", "--beta", "0.5", "--out", output])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ace-rts-similarity, β = 0.5: 100 training and 100 test images"))
        let metrics = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"scale_squared\":") && metrics.contains("\"classification_error\":"))
        #expect(try PNGSize(path: output + "/samples.png") == (10 * 42 + 9 * 2, 10 * 42 + 9 * 2))
    }
}

/// Explicit paths that hold nothing, and outputs that are files, are errors naming the path.
@Suite struct ExplicitPathTests {
    @Test func anExplicitDataFolderWithoutMNISTIsAnErrorNotFashionMNIST() throws {
        let r = try execute("example-ace-mnist", ["--data", "/nonexistent"], environment: ["HOME": "/nonexistent-home"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("MNIST not found; looked in: /nonexistent/mnist, /nonexistent-home/.cache/gauge/mnist"), "\(r.stderr)")
        #expect(!r.stdout.contains("Fashion-MNIST"))
    }

    @Test func anOutputThatIsAFileIsAnError() throws {
        let file = scratchFolder("out-file")
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try execute("example-ace-mnist", ["--variant", "plain", "--out", file, "--limit", "300"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("the output folder \(file) is a file"), "\(r.stderr)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    }
}

/// `gauge sample` draws a class's samples from a checkpoint without a training step: a PNG grid
/// or a .npy array NumPy reads; a checkpoint of another model lists the differences.
@Suite struct SampleCommandTests {
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func samplesFromACheckpointToPNGAndNPY() throws {
        let output = scratchFolder("sample")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try execute(
            "example-ace-mnist", ["--variant", "plain", "--limit", "100", "--batch", "50", "--max-steps", "1", "--out", output])
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = output + "/checkpoint.safetensors"
        let png = try gauge(["sample", "ace-mnist", "--checkpoint", checkpoint, "--class", "7", "--count", "6", "--out", output + "/s.png"])
        #expect(png.status == 0, "\(png.stderr)")
        #expect(png.stdout.contains("wrote \(output)/s.png: 6 samples of class 7 from \(checkpoint)"))
        #expect(try PNGSize(path: output + "/s.png") == (3 * 58 - 2, 2 * 58 - 2))
        let npy = try gauge(["sample", "ace-mnist", "--checkpoint", checkpoint, "--count", "3", "--out", output + "/s.npy"])
        #expect(npy.status == 0, "\(npy.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output + "/s.npy")))
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        #expect(Array(bytes[0..<8]) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 28, 28), }"))
        #expect(bytes.count == 128 + 3 * 784 * 4)
        let wrong = try gauge(["sample", "ace-rts", "--checkpoint", checkpoint, "--out", output + "/x.png"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("does not fit model \"ace-rts-renderer\""))
        let bad = try gauge(["sample", "tiny-vae", "--checkpoint", checkpoint, "--out", output + "/x.png"])
        #expect(bad.stderr.contains("gauge sample draws from ACE models: ace-cifar, ace-cifar-conv, ace-cifar-colour, ace-cifar-conv-colour, ace-mnist"))
    }
}

/// A PNG's width and height from its IHDR chunk.
func PNGSize(path: String) throws -> (Int, Int) {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let number = { (at: Int) in bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (number(16), number(20))
}

/// kill -9 at random (seeded) points of a run — inside steps, while a checkpoint is written,
/// during the evaluation and the sampling — each time started again: the run resumes from its
/// last checkpoint and ends with the same checkpoint bytes as a run never killed.
@Suite struct CrashConsistencyTests {
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func killNineAtRandomPointsThenResumeGivesTheSameBytes() throws {
        let (whole, killed) = (scratchFolder("uninterrupted"), scratchFolder("killed"))
        defer { for f in [whole, killed] { try? FileManager.default.removeItem(atPath: f) } }
        let common = ["--limit", "1000", "--batch", "50", "--epochs", "10", "--samples", "2"]
        let straight = try execute("example-cvae", common + ["--out", whole])
        #expect(straight.status == 0, "\(straight.stderr)")
        var generator = SplitMix64(seed: 0x5EED)
        var (kills, killsAfterACheckpoint) = (0, 0)
        for _ in 0..<12 {
            let process = Process()
            process.executableURL = Bundle.main.bundleURL.appendingPathComponent("example-cvae")
            process.arguments = common + ["--out", killed]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // A run takes about 2 s here: start-up and data, then 200 steps with an evaluation
            // and a checkpoint every 20, then the samples.
            usleep(UInt32(Int.random(in: 400_000...2_200_000, using: &generator)))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
                if FileManager.default.fileExists(atPath: killed + "/checkpoint.safetensors") { killsAfterACheckpoint += 1 }
            }
            process.waitUntilExit()
            if process.terminationReason == .exit && process.terminationStatus == 0 { break }
        }
        let last = try execute("example-cvae", common + ["--out", killed])  // finishes (or confirms) the run
        #expect(last.status == 0, "\(last.stderr)")
        print("crash consistency: \(kills) kills, \(killsAfterACheckpoint) of them after a checkpoint")
        #expect(killsAfterACheckpoint >= 1)
        let a = try Data(contentsOf: URL(fileURLWithPath: whole + "/checkpoint.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: killed + "/checkpoint.safetensors"))
        #expect(a.count > 1_000_000 && a == b, "after \(kills) kills")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: killed).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.count <= kills)  // a killed write may leave its temporary file; it is never read
    }
}

