import Foundation

/// The distorted MNIST sets of the paper's Figs. 1–2 (PAPER.md §4), made deterministically from
/// a seed: image `i` draws from its own stream, so the same seed gives the same bytes whatever
/// the split size, and a prefix of the set is the distortion of the source's prefix.
public enum Distortion {
    /// What RTS drew for one image: rotation (degrees, counter-clockwise on screen), scale, and
    /// the translation of the digit's centre from the canvas centre, in pixels (x right, y down).
    public struct RTSDraw: Sendable, Equatable {
        public var angleDegrees: Double
        public var scale: Double
        public var dx: Double
        public var dy: Double
    }

    /// Rotated, translated and scaled digits (PAPER.md §4.1): α ~ U(−45°, 45°), s ~ U(0.7, 1.2),
    /// (t_x, t_y) ~ U(−7, 7)² px; canvas = s·R(α)·digit + t about the centres, filled by inverse
    /// mapping with bilinear interpolation and zero outside the source.
    public static func rts(_ source: Dataset, seed: UInt64, canvas: Int = 42) throws -> (Dataset, [RTSDraw]) {
        guard source.channels == 1 else {
            throw DataError.unsuitable(dataset: source.name, reason: "RTS distorts gray images; this set has \(source.channels) channels")
        }
        guard canvas > 0 else { throw DataError.unsuitable(dataset: source.name, reason: "the RTS canvas must be positive, got \(canvas)") }
        let (h, w) = (source.height, source.width)
        var images = [Float](repeating: 0, count: source.count * canvas * canvas)
        var draws: [RTSDraw] = []
        draws.reserveCapacity(source.count)
        let (sourceCentreX, sourceCentreY) = (Double(w - 1) / 2, Double(h - 1) / 2)
        let centre = Double(canvas - 1) / 2
        source.images.withUnsafeBufferPointer { src in
            images.withUnsafeMutableBufferPointer { dst in
                for i in 0..<source.count {
                    var random = stream(seed, i)
                    let draw = RTSDraw(
                        angleDegrees: random.uniform(-45, 45), scale: random.uniform(0.7, 1.2),
                        dx: random.uniform(-7, 7), dy: random.uniform(-7, 7))
                    draws.append(draw)
                    // On screen (y down) a counter-clockwise turn by α is (x, y) → (x cos α + y sin α, −x sin α + y cos α);
                    // the inverse map takes a canvas pixel back to the digit.
                    let a = draw.angleDegrees * .pi / 180
                    let (c, s) = (cos(a) / draw.scale, sin(a) / draw.scale)
                    let image = src.baseAddress! + i * h * w
                    let out = dst.baseAddress! + i * canvas * canvas
                    for y in 0..<canvas {
                        for x in 0..<canvas {
                            let u = Double(x) - centre - draw.dx
                            let v = Double(y) - centre - draw.dy
                            let sx = c * u - s * v + sourceCentreX
                            let sy = s * u + c * v + sourceCentreY
                            out[y * canvas + x] = bilinear(image, h, w, sx, sy)
                        }
                    }
                }
            }
        }
        let name = source.name.replacingOccurrences(of: "mnist", with: "mnist-rts")
        return (
            Dataset(
                name: name, channels: 1, height: canvas, width: canvas, images: images, labels: source.labels,
                classes: source.classes), draws
        )
    }

    /// Translated, cluttered digits (PAPER.md §4.2, after DeepMind's `mnist_cluttered`): on a
    /// zero 60×60 canvas, six 6×6 crops of other images of the same split, each at a uniform
    /// position, added and clamped to ≤ 1; then the digit added at a uniform position fully
    /// inside the canvas and clamped to [0, 1]. Returns the digit's top-left corner per image.
    public static func tc(
        _ source: Dataset, seed: UInt64, canvas: Int = 60, pieces: Int = 6, pieceSize: Int = 6
    ) throws -> (Dataset, [(x: Int, y: Int)]) {
        guard source.channels == 1 else {
            throw DataError.unsuitable(dataset: source.name, reason: "TC clutters gray images; this set has \(source.channels) channels")
        }
        guard source.count >= 2 else {
            throw DataError.unsuitable(dataset: source.name, reason: "TC takes its clutter from other images, so it needs at least 2; this set has \(source.count)")
        }
        let (h, w) = (source.height, source.width)
        guard canvas >= max(h, w), pieceSize > 0, pieceSize <= min(h, w), pieces >= 0 else {
            throw DataError.unsuitable(
                dataset: source.name,
                reason: "TC needs a canvas of at least the image's \(h)×\(w) and clutter pieces of 1 to \(min(h, w)) pixels; got canvas \(canvas), pieces of \(pieceSize)")
        }
        var images = [Float](repeating: 0, count: source.count * canvas * canvas)
        var origins: [(x: Int, y: Int)] = []
        origins.reserveCapacity(source.count)
        source.images.withUnsafeBufferPointer { src in
            images.withUnsafeMutableBufferPointer { dst in
                for i in 0..<source.count {
                    var random = stream(seed, i)
                    let out = dst.baseAddress! + i * canvas * canvas
                    for _ in 0..<pieces {
                        var j = random.below(source.count - 1)
                        if j >= i { j += 1 }  // another image, never the digit itself
                        let (cx, cy) = (random.below(w - pieceSize + 1), random.below(h - pieceSize + 1))
                        let (px, py) = (random.below(canvas - pieceSize + 1), random.below(canvas - pieceSize + 1))
                        let other = src.baseAddress! + j * h * w
                        for y in 0..<pieceSize {
                            for x in 0..<pieceSize {
                                let k = (py + y) * canvas + px + x
                                out[k] = min(1, out[k] + other[(cy + y) * w + cx + x])
                            }
                        }
                    }
                    let (ox, oy) = (random.below(canvas - w + 1), random.below(canvas - h + 1))
                    origins.append((ox, oy))
                    let digit = src.baseAddress! + i * h * w
                    for y in 0..<h {
                        for x in 0..<w {
                            let k = (oy + y) * canvas + ox + x
                            out[k] = max(0, min(1, out[k] + digit[y * w + x]))
                        }
                    }
                }
            }
        }
        let name = source.name.replacingOccurrences(of: "mnist", with: "mnist-tc")
        return (
            Dataset(
                name: name, channels: 1, height: canvas, width: canvas, images: images, labels: source.labels,
                classes: source.classes), origins
        )
    }

    /// Image `index`'s own random stream.
    static func stream(_ seed: UInt64, _ index: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }

    /// Bilinear sample of an h×w image at pixel coordinates (x, y); corners outside count as 0.
    static func bilinear(_ image: UnsafePointer<Float>, _ h: Int, _ w: Int, _ x: Double, _ y: Double) -> Float {
        guard x > -1, y > -1, x < Double(w), y < Double(h) else { return 0 }
        let (x0, y0) = (Int(x.rounded(.down)), Int(y.rounded(.down)))
        let (a, b) = (Float(x - Double(x0)), Float(y - Double(y0)))
        func at(_ yy: Int, _ xx: Int) -> Float { yy >= 0 && yy < h && xx >= 0 && xx < w ? image[yy * w + xx] : 0 }
        return (1 - a) * (1 - b) * at(y0, x0) + a * (1 - b) * at(y0, x0 + 1) + (1 - a) * b * at(y0 + 1, x0)
            + a * b * at(y0 + 1, x0 + 1)
    }
}

extension Distortion {
    /// Stochastic binarisation (the 2015a code's `binomial(X)`, PAPER.md §1.1): each pixel
    /// becomes 1 with probability equal to its intensity, from `seed`'s stream.
    public static func binarized(_ images: [Float], seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return images.map { Float(random.unit()) < $0 ? 1 : 0 }
    }
}
