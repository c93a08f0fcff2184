import CKernels
import Testing

/// Philox 4×32-10 written out plainly, one block at a time, as the reference.
func philoxReference(key: (UInt32, UInt32), counter: (UInt32, UInt32, UInt32, UInt32)) -> [UInt32] {
    var (c0, c1, c2, c3) = counter
    var (k0, k1) = key
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) * UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
        (c0, c1, c2, c3) = (UInt32(p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1), UInt32(p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        k0 &+= 0x9E37_79B9
        k1 &+= 0xBB67_AE85
    }
    return [c0, c1, c2, c3]
}

@Suite struct PhiloxTests {
    /// The known-answer vectors of Random123 (Salmon et al. 2011) for philox4x32-10.
    @Test func referenceMatchesTheKnownAnswers() {
        #expect(philoxReference(key: (0, 0), counter: (0, 0, 0, 0)) == [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        let all = UInt32.max
        #expect(philoxReference(key: (all, all), counter: (all, all, all, all)) == [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD])
        #expect(
            philoxReference(key: (0xA409_3822, 0x299F_31D0), counter: (0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344))
                == [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1])
    }

    /// `gauge_philox_uniforms` (8 blocks at a time with AVX2, one at a time after) against the
    /// reference, bit for bit: runs of 1 to 41 blocks, from block 0, from an odd block, and across
    /// the 2³² wrap of the block counter.
    @Test(arguments: [UInt32(0), 13, UInt32.max - 20])
    func uniformsMatchTheReferenceBitForBit(_ first: UInt32) {
        let key: (UInt32, UInt32) = (0x1234_5678, 0x9ABC_DEF0)
        let (c1, c2, c3): (UInt32, UInt32, UInt32) = (7, 0xDEAD_BEEF, 3)
        for blocks in 1...41 {
            var out = [Float](repeating: -1, count: 4 * blocks + 1)
            gauge_philox_uniforms(key.0, key.1, c1, c2, c3, first, blocks, &out)
            var expected: [Float] = []
            for b in 0..<blocks {
                let words = philoxReference(key: key, counter: (first &+ UInt32(b), c1, c2, c3))
                expected += words.map { (Float($0 >> 8) + 0.5) * (1.0 / 16_777_216.0) }
            }
            #expect(out.prefix(4 * blocks).map(\.bitPattern) == expected.map(\.bitPattern), "\(blocks) blocks from \(first)")
            #expect(out[4 * blocks] == -1, "wrote past \(blocks) blocks")
        }
    }
}
