import Compiler
import Datasets
import GaugeTesting
import Graph
import Runtime
import Testing

/// A property test of the DSL: random chains of layer calls with random arguments, often
/// invalid (zero or negative sizes, strides and windows; kernels and windows larger than the
/// image; dense layers on images; reshapes to the wrong size), judged by an oracle written here
/// from the layers' documented rules. A chain the oracle accepts builds, has the oracle's output
/// shape and trains a step to finite losses; a chain it refuses gives exactly one error (later
/// calls on the poisoned tensor add none), at the line of the first bad call, naming that call.
@Suite struct DSLPropertyTests {
    enum Layer {
        case dense(Int)
        case conv(Int, kernel: Int, stride: Int, padding: Padding)
        case deconv(Int, kernel: Int, stride: Int, padding: Padding)
        case pool(Int, stride: Int)
        case flatten
        case reshape(Int, Int, Int)
        case tanh
    }

    /// What a value is, without the batch dimension.
    enum Value: Equatable {
        case flat(Int)
        case image(Int, Int, Int)
        var dims: [Int] {
            switch self {
            case .flat(let f): return [f]
            case .image(let c, let h, let w): return [c, h, w]
            }
        }
    }

    /// A random call; four times in five one of the kinds that take `value` (its arguments may
    /// still be wrong).
    static func layer(_ rng: inout SplitMix64, after value: Value) -> Layer {
        func size(_ range: ClosedRange<Int>) -> Int {
            // One time in twelve, a size that is not positive.
            Int.random(in: 0..<12, using: &rng) == 0 ? Int.random(in: -1...0, using: &rng) : Int.random(in: range, using: &rng)
        }
        let padding: Padding = Bool.random(using: &rng) ? .same : .valid
        let fitting: [Int]
        switch value {
        case .flat: fitting = [0, 5, 6]
        case .image: fitting = [1, 2, 3, 4, 5, 6]
        }
        let kind = Int.random(in: 0..<5, using: &rng) == 0 ? Int.random(in: 0..<7, using: &rng) : fitting.randomElement(using: &rng)!
        switch kind {
        case 0: return .dense(size(1...6))
        case 1: return .conv(size(1...3), kernel: size(1...4), stride: size(1...2), padding: padding)
        case 2: return .deconv(size(1...3), kernel: size(1...3), stride: size(1...2), padding: padding)
        case 3: return .pool(size(1...3), stride: size(1...2))
        case 4: return .flatten
        case 5: return .reshape(size(1...2), size(1...4), size(1...4))
        default: return .tanh
        }
    }

    /// The oracle: the value after `layer`, or nil when the call is invalid. Sizes follow the
    /// layer docs: same padding ⌈n / stride⌉ (transposed: n·stride), valid ⌊(n − k) / stride⌋ + 1
    /// (transposed: (n − 1)·stride + k); pooling windows are valid-padded.
    static func oracle(_ layer: Layer, _ value: Value) -> Value? {
        switch (layer, value) {
        case (.dense(let units), .flat): return units > 0 ? .flat(units) : nil
        case (.conv(let f, let k, let s, let p), .image(_, let h, let w)):
            guard f > 0, k > 0, s > 0 else { return nil }
            if p == .same { return .image(f, (h + s - 1) / s, (w + s - 1) / s) }
            return h >= k && w >= k ? .image(f, (h - k) / s + 1, (w - k) / s + 1) : nil
        case (.deconv(let f, let k, let s, let p), .image(_, let h, let w)):
            guard f > 0, k > 0, s > 0 else { return nil }
            return p == .same ? .image(f, h * s, w * s) : .image(f, (h - 1) * s + k, (w - 1) * s + k)
        case (.pool(let window, let s), .image(let c, let h, let w)):
            guard window > 0, s > 0, h >= window, w >= window else { return nil }
            return .image(c, (h - window) / s + 1, (w - window) / s + 1)
        case (.flatten, .image(let c, let h, let w)): return .flat(c * h * w)
        case (.flatten, .flat): return value
        case (.reshape(let c, let h, let w), _):
            return c > 0 && h > 0 && w > 0 && c * h * w == value.dims.reduce(1, *) ? .image(c, h, w) : nil
        case (.tanh, _): return value
        default: return nil
        }
    }

    /// Calls the DSL for `layer`; returns the result and the line of the call.
    static func call(_ layer: Layer, _ t: Tensor) -> (Tensor, Int, String) {
        switch layer {
        case .dense(let u): return (t.dense(u, activation: .tanh), #line, "dense(")
        case .conv(let f, let k, let s, let p): return (t.conv2d(f, kernel: k, stride: s, padding: p), #line, "conv2d(")
        case .deconv(let f, let k, let s, let p): return (t.transposedConv2d(f, kernel: k, stride: s, padding: p), #line, "transposedConv2d(")
        case .pool(let w, let s): return (t.maxPool(w, stride: s), #line, "maxPool(")
        case .flatten: return (t.flattened(), #line, "flattened(")
        case .reshape(let c, let h, let w): return (t.reshaped([.batch, .fixed(c), .fixed(h), .fixed(w)]), #line, "reshaped(")
        case .tanh: return (t.tanh(), #line, "tanh")
        }
    }

    final class Calls: @unchecked Sendable { var made: [(line: Int, name: String)] = [] }

    @Test func randomChainsBuildExactlyWhenTheOracleSaysSo() throws {
        var rng = SplitMix64(seed: 21)
        var (valid, invalid) = (0, 0)
        for c in 0..<600 {
            let start: Value = Bool.random(using: &rng)
                ? .image(Int.random(in: 1...2, using: &rng), Int.random(in: 2...6, using: &rng), Int.random(in: 2...6, using: &rng))
                : .flat(Int.random(in: 1...8, using: &rng))
            var layers: [Layer] = []
            var expected: Value? = start
            var firstBad: Int?
            var last = start
            for k in 0..<Int.random(in: 1...4, using: &rng) {
                let layer = Self.layer(&rng, after: last)
                layers.append(layer)
                guard let value = expected else { continue }
                expected = Self.oracle(layer, value)
                if let e = expected { last = e } else { firstBad = k }
            }
            // Keep the run small: an oracle-valid chain this large is skipped, not trained.
            if let e = expected, e.dims.reduce(1, *) > 4_096 { continue }
            let calls = Calls()
            let result = Result {
                try Model("chain-\(c)") {
                    let x = Input("x", Shape([.batch] + start.dims.map { .fixed($0) }))
                    let y = layers.reduce(x) { t, layer in
                        let (next, line, name) = Self.call(layer, t)
                        calls.made.append((line, name))
                        return next
                    }
                    Output("y", y)
                    Loss(y.square().mean())
                }
            }
            switch (result, firstBad) {
            case (.success(let model), nil):
                valid += 1
                let output = try #require(model.graph.outputs.first)
                #expect(model.graph[output.node].shape == Shape([.batch] + expected!.dims.map { .fixed($0) }), "chain \(c): \(layers)")
                let step = try TrainingStep(model, batch: 2, optimizer: .sgd(learningRate: 0.01))
                let state = step.initialState(seed: UInt64(c))
                let n = 2 * start.dims.reduce(1, *)
                let losses = try step.run(state, feeding: ["x": .float32(pseudoRandom(n, seed: UInt64(c)))])
                let finite = losses.values.allSatisfy { $0.isFinite }
                #expect(finite, "chain \(c): \(layers)")
            case (.failure(let error as ModelError), let bad?):
                invalid += 1
                #expect(error.errors.count == 1, "chain \(c): \(layers): \(error)")
                guard let first = error.errors.first else { continue }
                #expect(first.location.fileID == "RuntimeTests/DSLPropertyTests.swift", "chain \(c)")
                #expect(first.location.line == calls.made[bad].line, "chain \(c): \(layers): \(error)")
                #expect(first.call.hasPrefix(calls.made[bad].name), "chain \(c): \(layers): \(error)")
            case (.success, let bad?):
                Issue.record("chain \(c): \(layers) built, but the oracle refuses call \(bad)")
            case (.failure(let error), _):
                Issue.record("chain \(c): \(layers) failed, oracle says \(firstBad.map { "call \($0) is bad" } ?? "valid"): \(error)")
            }
        }
        #expect(valid > 150 && invalid > 150, "valid \(valid), invalid \(invalid)")
    }
}
