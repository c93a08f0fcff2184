import Foundation
import Graph

/// The random primitives' numbers, from their definition: Philox 4×32-10 (Salmon, Moraes, Dror
/// & Shaw, SC 2011) keyed by the seed's two 32-bit halves; element i of a random node or dropout
/// mask with `stream` at `step` is word i mod 4 of the block with counter (i / 4, 2³¹ | stream,
/// step's low word, step's high word), as the uniform ((word >> 8) + ½)·2⁻²⁴ in Float32.
public struct ReferencePhilox: Sendable {
    public let key: (UInt32, UInt32)

    public init(seed: UInt64) { key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

    /// The four words of one block under this key.
    public func block(_ counter: (UInt32, UInt32, UInt32, UInt32)) -> [UInt32] { Self.block(counter, key: key) }

    /// Philox 4×32-10 of `counter` under `key`.
    public static func block(_ counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> [UInt32] {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) * UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) * UInt64(c2)
            (c0, c1, c2, c3) = (
                UInt32(p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1), UInt32(p0 >> 32) ^ c3 ^ k1,
                UInt32(truncatingIfNeeded: p0)
            )
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return [c0, c1, c2, c3]
    }

    /// Uniforms in (0, 1) of elements 0..<count, as Float32 (the definition rounds there).
    public func uniforms(step: UInt64, stream: Int, count: Int) -> [Float] {
        let s = UInt32(truncatingIfNeeded: 1 << 31 | stream)
        let (t0, t1) = (UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32))
        var out: [Float] = []
        out.reserveCapacity(count + 4)
        for b in 0..<((count + 3) / 4) {
            for word in block((UInt32(truncatingIfNeeded: b), s, t0, t1)) {
                out.append((Float(word >> 8) + 0.5) * (1 / 16_777_216))
            }
        }
        return Array(out.prefix(count))
    }

    /// Uniform: the uniforms. Laplace(0, 1): the inverse CDF, ln 2u below ½, −ln(2 − 2u) above.
    /// Normal: Box–Muller on pairs (u₂ₚ, u₂ₚ₊₁): √(−2 ln u₂ₚ)·(cos, sin)(2π u₂ₚ₊₁); an odd count
    /// takes its last pair's second uniform from element `count`.
    public func draw(_ distribution: Distribution, step: UInt64, stream: Int, count: Int) -> [Double] {
        switch distribution {
        case .uniform:
            return uniforms(step: step, stream: stream, count: count).map(Double.init)
        case .laplace:
            return uniforms(step: step, stream: stream, count: count).map { u in
                let u = Double(u)
                return u < 0.5 ? Foundation.log(2 * u) : -Foundation.log(2 - 2 * u)
            }
        case .normal:
            let u = uniforms(step: step, stream: stream, count: count + 1).map(Double.init)
            return (0..<count).map { i in
                let p = i / 2 * 2
                let r = (-2 * Foundation.log(u[p])).squareRoot()
                let angle = 2 * Double.pi * u[p + 1]
                return i % 2 == 0 ? r * Foundation.cos(angle) : r * Foundation.sin(angle)
            }
        }
    }
}
