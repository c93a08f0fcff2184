import Compiler
import Datasets
import Foundation
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

/// Random malformed graphs through the compiler: valid models (random ones and small built-ins)
/// with one to three random mutations — an operand replaced by any id (negative, later, missing),
/// a node's op replaced by any primitive with random, often invalid, parameters, a recorded or
/// declared type changed, operands added or dropped, outputs, losses and updates pointing
/// anywhere, nodes swapped. `Compile.trainingStep` must throw a typed error or give a plan that
/// runs (a run may still refuse its inputs with a typed error): no signal, no hang.
@Suite struct GraphFuzzTests {
    static let cases = 1_500

    static func bases() throws -> [Graph] {
        try (0..<8).map { try randomModel(seed: $0).graph }
            + ["tiny-vae", "conv-classifier"].map { try #require(ModelCatalog.named($0)).build().graph }
    }

    static func shape(_ rng: inout SplitMix64) -> Shape {
        let dims: [Dim] = [.batch, .fixed(-1), .fixed(0), .fixed(1), .fixed(2), .fixed(3), .fixed(4)]
        // Mostly small valid ranks; sometimes above the limit of 8.
        let rank = Int.random(in: 0..<12, using: &rng) == 0 ? 9 : Int.random(in: 0...4, using: &rng)
        return Shape((0..<rank).map { _ in dims.randomElement(using: &rng)! })
    }

    static func op(_ rng: inout SplitMix64) -> Op {
        func small() -> Int { Int.random(in: -1...4, using: &rng) }
        func flag() -> Bool { Bool.random(using: &rng) }
        func classes() -> Int? { flag() ? nil : small() }
        let padding: Padding = flag() ? .same : .valid
        switch Int.random(in: 0..<33, using: &rng) {
        case 0: return .unary(UnaryFunction.allCases.randomElement(using: &rng)!)
        case 1: return .binary(BinaryFunction.allCases.randomElement(using: &rng)!)
        case 2: return .compare(Comparison.allCases.randomElement(using: &rng)!)
        case 3: return .select
        case 4: return .reduce(Reduction.allCases.randomElement(using: &rng)!, axes: (0..<Int.random(in: 0...3, using: &rng)).map { _ in small() }, keepDims: flag())
        case 5: return .reshape(shape(&rng))
        case 6: return .transpose(permutation: (0..<Int.random(in: 0...4, using: &rng)).map { _ in small() })
        case 7: return .broadcast(shape(&rng))
        case 8: return .slice(axis: small(), start: small(), end: small())
        case 9: return .concat(axis: small())
        case 10: return .gatherRows
        case 11: return .scatterAddRows(rows: small())
        case 12: return .oneHot(classes: small())
        case 13: return .logSoftmax(axis: small())
        case 14: return .conv2d(stride: small(), padding: padding, classes: classes())
        case 15: return .transposedConv2d(stride: small(), padding: padding, height: small(), width: small(), classes: classes())
        case 16: return .maxPool(window: small(), stride: small())
        case 17: return .affineGrid(height: small(), width: small(), alignCorners: flag())
        case 18: return .bilinearSample(alignCorners: flag())
        case 19: return .random([.normal, .uniform, .laplace].randomElement(using: &rng)!, shape: shape(&rng), stream: small())
        case 20: return .dropout(rate: [-0.5, 0, 0.5, 1, 1.5, .nan].randomElement(using: &rng)!, stream: small())
        case 21: return .matmul(transposeA: flag(), transposeB: flag())
        case 22: return .groupedMatmul(transposeWeights: flag())
        case 23: return .stopGradient
        case 24: return .groupedMatmulWeightGrad(classes: small())
        case 25: return .conv2dFilterGrad(stride: small(), padding: padding, kernelHeight: small(), kernelWidth: small(), classes: classes())
        case 26: return .maxPoolGrad(window: small(), stride: small())
        case 27: return .affineGridGrad(alignCorners: flag())
        case 28: return .bilinearSampleImageGrad(alignCorners: flag(), height: small(), width: small())
        case 29: return .bilinearSampleGridGrad(alignCorners: flag())
        case 30: return .constant([0, 1, -2.5, .nan, .infinity].randomElement(using: &rng)!)
        case 31: return [.input(name: "fuzz"), .variable(name: "fuzz"), .parameter(name: "fuzz", initializer: .zeros)].randomElement(using: &rng)!
        default: return .groupedMatmul(transposeWeights: true)
        }
    }

    static func mutate(_ graph: inout Graph, _ rng: inout SplitMix64) {
        let n = graph.nodes.count
        let i = Int.random(in: 0..<n, using: &rng)
        func anyID() -> NodeID { NodeID(Int.random(in: -2..<(n + 2), using: &rng)) }
        switch Int.random(in: 0..<10, using: &rng) {
        case 0:
            if !graph.nodes[i].inputs.isEmpty {
                graph.nodes[i].inputs[Int.random(in: 0..<graph.nodes[i].inputs.count, using: &rng)] = anyID()
            }
        case 1: graph.nodes[i].type = TensorType(shape(&rng), Bool.random(using: &rng) ? .float32 : .int32)
        case 2: graph.nodes[i].op = op(&rng)
        case 3:
            // Any primitive with operands of its arity, drawn from the nodes before it: the rules
            // then see real types rather than an operand count they refuse at once.
            let new = op(&rng)
            graph.nodes[i].op = new
            if let arity = new.arity, i > 0 {
                graph.nodes[i].inputs = (0..<arity).map { _ in NodeID(Int.random(in: 0..<i, using: &rng)) }
            }
        case 4:
            if Bool.random(using: &rng) || graph.nodes[i].inputs.isEmpty {
                graph.nodes[i].inputs.append(NodeID(Int.random(in: 0..<max(i, 1), using: &rng)))
            } else {
                graph.nodes[i].inputs.removeLast()
            }
        case 5: graph.outputs.append(.init(name: "fuzz", node: anyID()))
        case 6: graph.losses.append(.init(name: "fuzz", node: anyID()))
        case 7: graph.updates.append(.init(target: anyID(), value: anyID()))
        case 8: graph.nodes.swapAt(i, Int.random(in: 0..<n, using: &rng))
        default:
            // Keep the op, but give the node the type of another (a plausible wrong record).
            graph.nodes[i].type = graph.nodes[Int.random(in: 0..<n, using: &rng)].type
        }
    }

    static func recordRuleTypes(_ graph: inout Graph) {
        for i in graph.nodes.indices where !graph.nodes[i].op.isLeaf {
            let operands = graph.nodes[i].inputs
            guard operands.allSatisfy({ (0..<i).contains($0.index) }),
                let type = try? graph.nodes[i].op.inferType(operands.map { graph.nodes[$0.index].type })
            else { continue }
            graph.nodes[i].type = type
        }
    }

    @Test func malformedGraphsGiveTypedErrorsOrPlansThatRun() throws {
        let bases = try Self.bases()
        var rng = SplitMix64(seed: 2026)
        var (rejected, compiled, ran) = (0, 0, 0)
        for c in 0..<Self.cases {
            var graph = bases[c % bases.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) { Self.mutate(&graph, &rng) }
            // Half the cases record what the rules give downstream, as a careful hand-built graph
            // would, so that more of them reach autodiff, the passes and the kernels.
            if c % 2 == 0 { Self.recordRuleTypes(&graph) }
            // GAUGE_FUZZ_TRACE=1 names each case before it runs, to find one that crashes.
            if ProcessInfo.processInfo.environment["GAUGE_FUZZ_TRACE"] != nil { print("case \(c)") }
            let step: Compile.CompiledStep
            do {
                step = try Compile.trainingStep(graph, batch: 2, optimizer: .sgd(learningRate: 0.01))
            } catch let error as ShapeInferenceError {
                #expect(!error.errors.isEmpty && !error.description.isEmpty, "case \(c)")
                rejected += 1
                continue
            } catch let error as CompilerError {
                #expect(!error.description.isEmpty, "case \(c)")
                rejected += 1
                continue
            } catch {
                Issue.record("case \(c): an error of type \(type(of: error)): \(error)")
                continue
            }
            compiled += 1
            do {
                let values = try runOnce(step.graph, batch: 2, seed: UInt64(c)) { _, _ in step.plan }
                #expect(!values.isEmpty, "case \(c)")
                ran += 1
            } catch is RuntimeError {
                continue
            }
        }
        if ProcessInfo.processInfo.environment["GAUGE_FUZZ_TRACE"] != nil { print("rejected \(rejected), compiled \(compiled), ran \(ran)") }
        // Both outcomes are exercised, so the test would notice a checker that refuses all.
        #expect(rejected > Self.cases / 2 && compiled > 50 && ran > 50, "rejected \(rejected), compiled \(compiled), ran \(ran)")
    }
}
