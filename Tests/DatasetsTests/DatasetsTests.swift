import CZlib
import Datasets
import Foundation
import Testing

/// A fresh temporary folder.
func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-data-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ bytes: [UInt8], to path: String, gzip: Bool = false) {
    if gzip {
        let file = gzopen(path, "wb")!
        _ = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        gzclose(file)
    } else {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
}

func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

/// IDX files of `count` 2×3 images whose pixel p of image i is (i·7 + p) mod 256, labels i mod 10.
func idxFiles(count: Int, in dir: String, prefix: String, gzip: Bool) -> (String, String) {
    var images = be32(2051) + be32(count) + be32(2) + be32(3)
    for i in 0..<count { for p in 0..<6 { images.append(UInt8((i * 7 + p) % 256)) } }
    let labels = be32(2049) + be32(count) + (0..<count).map { UInt8($0 % 10) }
    let suffix = gzip ? ".gz" : ""
    let (ip, lp) = ("\(dir)/\(prefix)-images-idx3-ubyte\(suffix)", "\(dir)/\(prefix)-labels-idx1-ubyte\(suffix)")
    write(images, to: ip, gzip: gzip)
    write(labels, to: lp, gzip: gzip)
    return (ip, lp)
}

@Suite struct IDXTests {
    @Test(arguments: [false, true])
    func readsImagesAndLabels(_ gzip: Bool) throws {
        let dir = temporaryDirectory()
        let (images, labels) = idxFiles(count: 12, in: dir, prefix: "train", gzip: gzip)
        let data = try IDX.dataset(name: "t", images: images, labels: labels)
        #expect(data.count == 12)
        #expect((data.channels, data.height, data.width) == (1, 2, 3))
        #expect(data.labels == (0..<12).map { Int32($0 % 10) })
        #expect(data.images[5 * 6 + 4] == Float((5 * 7 + 4) % 256) / 255)
    }

    @Test func truncatedGarbledAndMismatchedFilesAreNamedErrors() throws {
        let dir = temporaryDirectory()
        let (images, labels) = idxFiles(count: 12, in: dir, prefix: "train", gzip: false)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: images)))
        write(Array(bytes.dropLast(5)), to: images)
        #expect(throws: DataError.truncated(file: images, expectedBytes: 16 + 72, foundBytes: 16 + 67)) {
            try IDX.readImages(images)
        }
        write([1, 2, 3, 4] + Array(bytes.dropFirst(4)), to: images)
        #expect(throws: DataError.badMagic(file: images, found: 0x0102_0304, expected: 2051)) { try IDX.readImages(images) }
        let (fewer, _) = idxFiles(count: 11, in: dir, prefix: "t10k", gzip: false)
        #expect(throws: DataError.countMismatch(images: fewer, imageCount: 11, labels: labels, labelCount: 12)) {
            try IDX.dataset(name: "t", images: fewer, labels: labels)
        }
        let badLabels = be32(2049) + be32(2) + [3, 12]
        write(badLabels, to: labels)
        #expect(throws: DataError.badLabel(file: labels, record: 1, value: 12, classes: 10)) { try IDX.readLabels(labels) }
        write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8], to: dir + "/garbled.gz")
        #expect(throws: DataError.self) { try IDX.readImages(dir + "/garbled.gz") }
        #expect(throws: DataError.unreadable(file: dir + "/missing", reason: "no such file or not readable")) {
            try IDX.readImages(dir + "/missing")
        }
    }

    @Test func locationSearchesExplicitThenEnvironmentThenCache() throws {
        let explicit = temporaryDirectory()
        let env = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: env + "/mnist", withIntermediateDirectories: true)
        _ = idxFiles(count: 10, in: env + "/mnist", prefix: "t10k", gzip: true)
        let location = DataLocation(explicit: explicit, environment: ["GAUGE_DATA": env, "HOME": "/nonexistent"])
        #expect(location.roots == [explicit, env, "/nonexistent/.cache/gauge"])
        #expect(try location.mnist(train: false).count == 10)
        do {
            _ = try location.mnist(train: true)
            Issue.record("expected an error")
        } catch {
            #expect(error == .notFound(dataset: "MNIST", searched: [explicit + "/mnist", env + "/mnist", "/nonexistent/.cache/gauge/mnist"]))
            #expect(error.description.hasPrefix("MNIST not found; looked in: \(explicit)/mnist"))
            #expect(error.description.contains("Pass --data DIR, set GAUGE_DATA"))
        }
    }
}

@Suite struct CIFAR10Tests {
    func record(_ label: UInt8, _ seed: Int) -> [UInt8] { [label] + (0..<3072).map { UInt8(($0 * 3 + seed) % 256) } }

    @Test func readsRecordsAsNCHWInTheUnitInterval() throws {
        let dir = temporaryDirectory()
        let path = dir + "/test_batch.bin"
        write(record(7, 1) + record(2, 5), to: path)
        let (images, labels) = try CIFAR10.readBatch(path, expectedRecords: 2)
        #expect(labels == [7, 2])
        #expect(images.count == 2 * 3072)
        #expect(images[1024] == Float((1024 * 3 + 1) % 256) / 255)  // first green byte of record 0
        #expect(images[3072 + 5] == Float((5 * 3 + 5) % 256) / 255)
    }

    @Test func shortOddOrMislabelledFilesAreNamedErrors() throws {
        let dir = temporaryDirectory()
        let path = dir + "/data_batch_1.bin"
        write(record(1, 0) + Array(record(2, 0).prefix(100)), to: path)
        #expect(throws: DataError.truncated(file: path, expectedBytes: 2 * 3073, foundBytes: 3073 + 100)) {
            try CIFAR10.readBatch(path, expectedRecords: nil)
        }
        #expect(throws: DataError.truncated(file: path, expectedBytes: 10_000 * 3073, foundBytes: 3073 + 100)) {
            try CIFAR10.readBatch(path)
        }
        write(record(11, 0), to: path)
        #expect(throws: DataError.badLabel(file: path, record: 0, value: 11, classes: 10)) {
            try CIFAR10.readBatch(path, expectedRecords: 1)
        }
    }
}

@Suite struct BatchesTests {
    @Test func everyEpochIsAPermutationAndTheSameSeedGivesTheSameOrder() {
        let b = Batches(count: 100, batchSize: 10, seed: 3)
        #expect(b.permutation(epoch: 0).sorted() == Array(0..<100))
        #expect(b.permutation(epoch: 0) == Batches(count: 100, batchSize: 10, seed: 3).permutation(epoch: 0))
        #expect(b.permutation(epoch: 0) != b.permutation(epoch: 1))
        #expect(b.permutation(epoch: 0) != Batches(count: 100, batchSize: 10, seed: 4).permutation(epoch: 0))
    }

    @Test func resumingFromTheCursorGivesTheSameBatches() {
        var uninterrupted = Batches(count: 25, batchSize: 10, seed: 1)
        let all = (0..<7).map { _ in uninterrupted.next() }
        #expect(all.map(\.epoch) == [0, 0, 1, 1, 2, 2, 3])  // 25 records: two batches per epoch
        var first = Batches(count: 25, batchSize: 10, seed: 1)
        for _ in 0..<3 { _ = first.next() }
        var resumed = Batches(count: 25, batchSize: 10, seed: 1)
        resumed.cursor = first.cursor
        #expect((0..<4).map { _ in resumed.next().records } == all.suffix(4).map(\.records))
    }
}

/// The real files, when `GAUGE_DATA` points at them (CI sets it to the shared data folder).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["GAUGE_DATA"] != nil, "set GAUGE_DATA to the data folder"))
struct RealDataTests {
    let location = DataLocation()

    @Test func mnistHasItsKnownCountsAndFirstLabels() throws {
        let train = try location.mnist(train: true)
        #expect(train.count == 60_000)
        #expect(Array(train.labels.prefix(6)) == [5, 0, 4, 1, 9, 2])
        #expect(train.classCounts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        let test = try location.mnist(train: false)
        #expect(Array(test.labels.prefix(6)) == [7, 2, 1, 0, 4, 1])
    }

    @Test func cifar10HasFiveThousandImagesPerTrainingClass() throws {
        let train = try location.cifar10(train: true)
        #expect(train.count == 50_000)
        #expect(train.classCounts == Array(repeating: 5000, count: 10))
        #expect(try location.cifar10(train: false).classCounts == Array(repeating: 1000, count: 10))
        #expect(train.images.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}
