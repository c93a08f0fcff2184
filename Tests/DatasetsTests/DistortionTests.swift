import Datasets
import Foundation
import Testing

/// `count` 28×28 gray "digits": image i is a 3×7 bar of brightness 1 whose top-left corner
/// moves with i, so images differ and each has a clear centre and axis.
func barDigits(_ count: Int) -> Dataset {
    var images = [Float](repeating: 0, count: count * 784)
    for i in 0..<count {
        let (x0, y0) = (10 + i % 5, 9 + i % 3)
        for y in y0..<(y0 + 7) { for x in x0..<(x0 + 3) { images[i * 784 + y * 28 + x] = 1 } }
    }
    return Dataset(
        name: "mnist train", channels: 1, height: 28, width: 28, images: images,
        labels: (0..<count).map { Int32($0 % 10) }, classes: 10)
}

/// Centre of mass (x, y) and total mass of an n×n image.
func centreOfMass(_ image: ArraySlice<Float>, side n: Int) -> (x: Double, y: Double, mass: Double) {
    var m = 0.0, sx = 0.0, sy = 0.0
    for (k, v) in image.enumerated() {
        m += Double(v)
        sx += Double(v) * Double(k % n)
        sy += Double(v) * Double(k / n)
    }
    return (sx / m, sy / m, m)
}

@Suite struct DistortionTests {
    @Test func rtsIsDeterministicPerSeedAndPerImage() throws {
        let source = barDigits(40)
        let (a, drawsA) = try Distortion.rts(source, seed: 7)
        let (b, drawsB) = try Distortion.rts(source, seed: 7)
        let (c, _) = try Distortion.rts(source, seed: 8)
        #expect(a.images == b.images && drawsA == drawsB)
        #expect(a.images != c.images)
        // Image i draws from its own stream: a prefix of the source gives a prefix of the set.
        let (prefix, prefixDraws) = try Distortion.rts(source.prefix(10), seed: 7)
        #expect(prefix.images == Array(a.images.prefix(10 * 42 * 42)))
        #expect(prefixDraws == Array(drawsA.prefix(10)))
        #expect(a.height == 42 && a.width == 42 && a.labels == source.labels && a.name == "mnist-rts train")
    }

    @Test func rtsDrawsCoverThePapersRanges() throws {
        let (_, draws) = try Distortion.rts(barDigits(3000), seed: 1)
        let angles = draws.map(\.angleDegrees), scales = draws.map(\.scale), shifts = draws.flatMap { [$0.dx, $0.dy] }
        #expect(angles.allSatisfy { (-45...45).contains($0) } && angles.min()! < -43 && angles.max()! > 43)
        #expect(scales.allSatisfy { (0.7...1.2).contains($0) } && scales.min()! < 0.71 && scales.max()! > 1.19)
        #expect(shifts.allSatisfy { (-7...7).contains($0) } && shifts.min()! < -6.9 && shifts.max()! > 6.9)
        // Uniform: each quarter of the angle range gets about a quarter of the draws.
        let quarter = angles.filter { $0 < -22.5 }.count
        #expect(abs(quarter - 750) < 110)
    }

    /// The canvas holds s·R(α)·digit + t about the centres: the bar's centre of mass lands where
    /// that map sends it, and its mass scales by s².
    @Test func rtsPlacesTheDigitWhereItsDrawSays() throws {
        let source = barDigits(60)
        let (set, draws) = try Distortion.rts(source, seed: 3)
        for i in 0..<60 {
            let before = centreOfMass(source.images[(i * 784)..<((i + 1) * 784)], side: 28)
            let after = centreOfMass(set.images[(i * 1764)..<((i + 1) * 1764)], side: 42)
            let d = draws[i]
            let a = d.angleDegrees * .pi / 180
            let (u, v) = (before.x - 13.5, before.y - 13.5)
            // Counter-clockwise on screen with y down.
            let expectedX = 20.5 + d.dx + d.scale * (cos(a) * u + sin(a) * v)
            let expectedY = 20.5 + d.dy + d.scale * (-sin(a) * u + cos(a) * v)
            #expect(abs(after.x - expectedX) < 0.1 && abs(after.y - expectedY) < 0.1, "image \(i): \(after) vs \(expectedX), \(expectedY)")
            #expect(abs(after.mass / (before.mass * d.scale * d.scale) - 1) < 0.08, "image \(i)")
        }
    }

    @Test func tcPutsTheWholeDigitOnTheCanvasWithSixPiecesOfClutter() throws {
        let source = barDigits(200)
        let (set, origins) = try Distortion.tc(source, seed: 5)
        let (again, originsAgain) = try Distortion.tc(source, seed: 5)
        #expect(set.images == again.images && origins.map(\.x) == originsAgain.map(\.x) && origins.map(\.y) == originsAgain.map(\.y))
        #expect(set.height == 60 && set.width == 60 && set.name == "mnist-tc train")
        #expect(origins.allSatisfy { (0...32).contains($0.x) && (0...32).contains($0.y) })
        #expect(Set(origins.map(\.x)).count == 33)  // every position occurs
        var cluttered = 0
        for i in 0..<200 {
            let canvas = set.images[(i * 3600)..<((i + 1) * 3600)]
            let (ox, oy) = origins[i]
            var outside = 0
            for y in 0..<60 {
                for x in 0..<60 {
                    let v = canvas[canvas.startIndex + y * 60 + x]
                    #expect((0...1).contains(v))
                    let inDigit = x >= ox && x < ox + 28 && y >= oy && y < oy + 28
                    if inDigit {
                        // The digit is added in full: never dimmer than the digit's own pixel.
                        if v < source.images[i * 784 + (y - oy) * 28 + x - ox] { Issue.record("image \(i) lost digit pixel \(x),\(y)") }
                    } else if v > 0 {
                        outside += 1
                    }
                }
            }
            #expect(outside <= 6 * 36, "image \(i): \(outside) lit pixels outside the digit")
            if outside > 0 { cluttered += 1 }
        }
        // Crops are 6×6 of 28×28 bars: many land on the bar and bring clutter.
        #expect(cluttered > 60)
    }

    /// Sets the distortions cannot take are typed errors (they were precondition failures; TC of
    /// one image is reachable as `example-ace-mnist tc --limit 1`).
    @Test func unsuitableSetsAreTypedErrors() {
        let colour = Dataset(
            name: "cifar10 train", channels: 3, height: 4, width: 4, images: [Float](repeating: 0, count: 96),
            labels: [0, 1], classes: 10)
        #expect(throws: DataError.unsuitable(dataset: "cifar10 train", reason: "RTS distorts gray images; this set has 3 channels")) {
            try Distortion.rts(colour, seed: 1)
        }
        #expect(throws: DataError.unsuitable(dataset: "cifar10 train", reason: "TC clutters gray images; this set has 3 channels")) {
            try Distortion.tc(colour, seed: 1)
        }
        #expect(throws: DataError.unsuitable(dataset: "mnist train", reason: "TC takes its clutter from other images, so it needs at least 2; this set has 1")) {
            try Distortion.tc(barDigits(1), seed: 1)
        }
        #expect(throws: DataError.unsuitable(
            dataset: "mnist train",
            reason: "TC needs a canvas of at least the image's 28×28 and clutter pieces of 1 to 28 pixels; got canvas 20, pieces of 6")) {
            try Distortion.tc(barDigits(2), seed: 1, canvas: 20)
        }
    }

    @Test func binarisationKeepsTheMeanIntensityAndIsSeeded() {
        let images = (0..<40_000).map { Float($0 % 101) / 100 }
        let a = Distortion.binarized(images, seed: 9)
        #expect(a.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(a == Distortion.binarized(images, seed: 9) && a != Distortion.binarized(images, seed: 10))
        // P(1) equals the intensity: zeros stay 0, ones stay 1, the mean is kept.
        #expect(zip(images, a).allSatisfy { ($0 == 0 && $1 == 0) || ($0 == 1 && $1 == 1) || ($0 > 0 && $0 < 1) })
        let mean = images.reduce(0, +) / Float(images.count), binaryMean = a.reduce(0, +) / Float(a.count)
        #expect(abs(mean - binaryMean) < 0.01)
    }
}
