import Compiler
import GaugeTesting
import Graph
import Runtime
import Testing

@Suite struct RandomTests {
    func sample(_ d: Distribution, n: Int = 100_000, seed: UInt64 = 3) throws -> [Float] {
        try runForward(seed: seed) { Output("y", random(d, [.fixed(n)])) }
    }

    func moments(_ x: [Float]) -> (mean: Double, variance: Double) {
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
        return (mean, variance)
    }

    @Test func distributionsHaveTheirMoments() throws {
        let u = try sample(.uniform)
        #expect(u.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(abs(moments(u).mean - 0.5) < 0.005)
        #expect(abs(moments(u).variance - 1.0 / 12) < 0.002)
        let n = try sample(.normal)
        #expect(abs(moments(n).mean) < 0.01)
        #expect(abs(moments(n).variance - 1) < 0.02)
        // Laplace(0, 1): mean 0, variance 2, symmetric (the reference code's one-sided bug would shift the mean).
        let l = try sample(.laplace)
        #expect(abs(moments(l).mean) < 0.015)
        #expect(abs(moments(l).variance - 2) < 0.05)
        #expect(abs(Double(l.filter { $0 < 0 }.count) / Double(l.count) - 0.5) < 0.005)
    }

    @Test func sameSeedSameNumbersOtherSeedOtherNumbers() throws {
        #expect(try sample(.normal, n: 1001, seed: 5) == sample(.normal, n: 1001, seed: 5))
        #expect(try sample(.normal, n: 1001, seed: 5) != sample(.normal, n: 1001, seed: 6))
    }

    @Test func elementValuesDoNotDependOnTheTensorSize() throws {
        // Counter-based: element i is keyed by i, so a longer draw extends a shorter one.
        let short = try sample(.uniform, n: 10)
        let long = try sample(.uniform, n: 1000)
        #expect(Array(long.prefix(10)) == short)
        // Normals pair uniforms (2p, 2p+1); an odd count draws the last pair's partner too.
        #expect(try Array(sample(.normal, n: 1001).prefix(7)) == sample(.normal, n: 7))
    }

    @Test func dropoutKeepsAboutOneMinusRateAndScales() throws {
        let y = try runForward(inputs: ["x": Array(repeating: 1, count: 20_000)]) { Output("y", Input("x", [20_000]).dropout(0.25)) }
        let kept = y.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 20_000 - 0.75) < 0.01)
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
    }

    /// Above the parallel threshold the mask is drawn in runs of whole Philox blocks, one per
    /// worker: the same mask for 1, 2 or 3 threads (100,003 elements: an uneven split and a tail),
    /// each element's draw the one a shorter tensor gets at the same index.
    @Test func dropoutDrawsTheSameMaskWhateverTheThreadCount() throws {
        let n = 100_003
        let x = pseudoRandom(n, seed: 8)
        func masked(threads: Int, count: Int) throws -> [Float] {
            try withThreads(threads) {
                return try runForward(inputs: ["x": Array(x.prefix(count))]) {
                    Output("y", Input("x", [.fixed(count)]).dropout(0.5))
                }
            }
        }
        let one = try masked(threads: 1, count: n)
        for threads in [2, 3] {
            let same = try masked(threads: threads, count: n).map(\.bitPattern) == one.map(\.bitPattern)
            #expect(same, "\(threads) threads")
        }
        // A shorter tensor (one worker) draws the same values at the same indices.
        let short = try masked(threads: 2, count: 1000)
        let sameAsShort = Array(one.prefix(1000)).map(\.bitPattern) == short.map(\.bitPattern)
        #expect(sameAsShort)
        let kept = one.indices.filter { one[$0] != 0 }
        #expect(abs(Double(kept.count) / Double(n) - 0.5) < 0.01)
        #expect(kept.allSatisfy { one[$0] == x[$0] * 2 })
    }
}

/// Parameter initialisation and random nodes draw from disjoint Philox stream domains: the
/// first parameter's uniforms are not the first random node's at step 0 (they were, when both
/// used stream 0). Golden values pin both, so a change to either domain shows here.
@Suite struct RandomStreamDomainTests {
    @Test func initialisationAndRandomNodesDoNotShareUniforms() throws {
        let model = try Model("domains") {
            let x = Input("x", [.batch, 4])
            let p = Parameter("p", [4], initializer: .uniform(low: 0, high: 1))
            Output("noise", random(.uniform, [.batch, 4]))
            Loss((x * p).sum())
        }
        let step = try TrainingStep(model, batch: 1, optimizer: .sgd(learningRate: 0))
        let state = step.initialState(seed: 1)
        let parameter = try #require(state.values("p"))
        let noise = try #require(try Inference(model, batch: 1).evaluate(state, feeding: ["x": .float32([0, 0, 0, 0])])["noise"])
        #expect(parameter != noise)
        #expect(parameter.map { ($0 * 1e6).rounded() / 1e6 } == [0.890259, 0.894685, 0.585726, 0.711268])
        #expect(noise.map { ($0 * 1e6).rounded() / 1e6 } == [0.20564, 0.203342, 0.963201, 0.913897])
    }
}
