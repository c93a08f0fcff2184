import Compiler
import GaugeTesting
import Graph
import Models
import Runtime
import Testing

/// The runtime — every compiler pass (simplification, fusion, scheduling, the arena) and every
/// optimised kernel — against the Float64 reference interpreter, which shares none of them:
/// forward values and every parameter's gradient of each built-in model, of a model holding
/// every primitive, and of random graphs. The reference rounds every value to Float32 here (its
/// operations stay in Float64), so the runtime must agree to 1e-4 of each result's scale (2e-3
/// for the built-in models, whose kernels round in orders of their own): the
/// ACE models' SSN gradients are ill-conditioned enough that Float32 rounding alone moves small
/// elements by a few percent from the exact Float64 values, and the runtime reproduces those
/// rounded values. (The Float64 reference itself agrees with central differences:
/// ReferenceInterpreterTests.)
@Suite(.serialized) struct ReferenceAgreementTests {
    /// The runtime's results after all passes, from the reference's leaves.
    func optimised(_ graph: Graph, batch: Int, seed: UInt64, leaves: [String: [Double]]) throws -> [String: [Float]] {
        try runOnce(Simplify.run(graph).graph, batch: batch, seed: seed, leaves: leaves) { try MemoryPlanner.plan($0, batch: $1).0 }
    }

    func expectAgreement(
        _ graph: Graph, batch: Int, seed: UInt64, _ what: String, tolerance: Double = 1e-4,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        // Parameters moved off their initial values: the identity transform puts every sample
        // point on a pixel, where the sampler's derivative jumps (and Float32 rounding picks a side).
        let leaves = testLeaves(graph, batch: batch, seed: seed, jitter: 0.05)
        let reference = try referenceRun(graph, batch: batch, seed: seed, leaves: leaves, roundsToFloat32: true)
        let worst = worstReferenceDifference(try optimised(graph, batch: batch, seed: seed, leaves: leaves), reference)
        #expect(worst.difference <= tolerance, "\(what): \(worst.key) differs by \(worst.difference)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ModelCatalog.all.map(\.name))
    func builtInModelGradientsAgree(_ name: String) throws {
        let graph = try gradientGraph(try #require(ModelCatalog.named(name)).build())
        // The reference rounds once per node, the kernels once per operation in their own
        // order: the ACE models' SSN gradients show the difference at up to 6e-4 (Zen 3).
        try expectAgreement(graph, batch: 2, seed: 5, name, tolerance: 2e-3)
    }

    @Test func everyPrimitiveModelAgrees() throws {
        try expectAgreement(try gradientGraph(everyPrimitiveModel()), batch: 3, seed: 7, "every-primitive")
    }

    @Test(arguments: 0..<24)
    func randomGraphGradientsAgree(_ seed: UInt64) throws {
        try expectAgreement(try gradientGraph(randomModel(seed: seed)), batch: 3, seed: seed, "random graph \(seed)")
    }

    /// The random primitives draw the very same Float32 uniforms in the runtime and in the
    /// reference (Philox is part of their definition).
    @Test func randomNumbersAreTheReferenceBits() throws {
        let model = try Model("draws") {
            Output("u", random(.uniform, [.batch, 37]))
            Output("kept", Input("x", [.batch, 37]).dropout(0.3))
        }
        let reference = try referenceRun(model.graph, batch: 3, seed: 11)
        let runtime = try runOnce(model.graph, batch: 3, seed: 11)
        #expect(runtime["output u"] == reference["output u"]?.map(Float.init))
        #expect(runtime["output kept"]?.map { $0 == 0 } == reference["output kept"]?.map { $0 == 0 })
    }
}

/// `leakyRelu` is a composition (docs/adding-a-primitive.md): fusion runs it as one kernel, and
/// its values and gradient are the reference's.
@Suite struct LeakyReluTests {
    func model(_ alpha: Float) throws -> Model {
        try Model("leaky") {
            let x = Input("x", [.batch, 8])
            let w = Parameter("w", [8, 8], initializer: .uniform(low: -1, high: 1))
            let y = x.matmul(w).leakyRelu(alpha)
            Loss((y * y).sum(), name: "l")
            Output("y", y)
        }
    }

    @Test func leakyReluIsOneFusedKernelAndAgreesWithTheReference() throws {
        let graph = try gradientGraph(model(0.2))
        let forward = try Model("forward") { Output("y", Input("x", [.batch, 8]).leakyRelu(0.2)) }.graph
        let (plan, _) = try MemoryPlanner.plan(Simplify.run(forward).graph, batch: 4)
        #expect(plan.instructions.count == 1)
        let leaves = testLeaves(graph, batch: 4, seed: 3)
        let worst = worstReferenceDifference(try runOnce(graph, batch: 4, seed: 3, leaves: leaves), try referenceRun(graph, batch: 4, seed: 3, leaves: leaves))
        #expect(worst.difference <= 1e-6, "\(worst)")
        // Below zero the slope: y = 0.2·x there, x itself above.
        let y = try #require(referenceRun(forward, batch: 1, seed: 0, leaves: ["x": [-2, -1, 0, 1, 2, 3, -0.5, 0.5]])["output y"])
        #expect(y == [-0.4, -0.2, 0, 1, 2, 3, -0.1, 0.5].map { Double(Float($0)) })
    }

    @Test func aSlopeOutsideZeroToOneIsAnError() throws {
        #expect(throws: ModelError.self) { try model(1.5) }
        do {
            _ = try model(-0.1)
            Issue.record("a negative slope was taken")
        } catch let error as ModelError {
            #expect(error.diagnostics.contains("the slope -0.1 is outside [0, 1], where max(x, αx) is a leaky ReLU"), "\(error.diagnostics)")
        }
    }
}
