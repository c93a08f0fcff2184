import Compiler
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

/// Every pass on every built-in model's whole training step: the results with and without it
/// agree. Serialized: the unoptimised reference plan of `ace-cifar` needs several GB.
@Suite(.serialized) struct BuiltInModelPassTests {
    static let names = ModelCatalog.all.map(\.name)

    func batch(_ name: String) -> Int { name == "ace-cifar" || name == "ace-cifar-colour" ? 2 : 3 }

    @Test(arguments: names)
    func simplifyChangesNoResult(_ name: String) throws {
        let step = try stepGraph(ModelCatalog.named(name)!.build(), weightDecay: 1e-4)
        let plain = try runOnce(step, batch: batch(name), seed: 5)
        let simplified = try runOnce(Simplify.run(step).graph, batch: batch(name), seed: 5)
        #expect(worstDifference(plain, simplified) <= 1e-5)
    }

    @Test(arguments: names)
    func fusionSchedulingAndTheArenaChangeNoResult(_ name: String) throws {
        let step = Simplify.run(try stepGraph(ModelCatalog.named(name)!.build(), weightDecay: 1e-4)).graph
        let reference = try runOnce(step, batch: batch(name), seed: 5)
        let optimized = try runOnce(step, batch: batch(name), seed: 5) { try MemoryPlanner.plan($0, batch: $1).0 }
        #expect(worstDifference(reference, optimized) <= 1e-5)
    }
}
