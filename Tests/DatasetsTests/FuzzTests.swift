import Datasets
import Foundation
import Testing

/// Seeded random corruptions of IDX (raw and gzip) and CIFAR-10 files, 1,000 cases each: every
/// case ends in a `DataError` or in data that agrees with its own header (counts, sizes, values
/// in range) — no signal, no hang, and no allocation a header merely claims (counts of 2³² − 1).
@Suite struct FuzzTests {
    /// One corruption of `bytes`: bit flips, a truncation, extra bytes, or a 32-bit header word
    /// (at `headerWords` offsets) set to 0, 1, 2³¹, 2³² − 1 or a random value.
    static func corrupt(_ bytes: [UInt8], headerWords: [Int], _ r: inout SplitMix64) -> [UInt8] {
        var b = bytes
        switch r.below(4) {
        case 0:
            for _ in 0...r.below(3) where !b.isEmpty { b[r.below(b.count)] ^= UInt8(1 << r.below(8)) }
        case 1:
            b = Array(b.prefix(r.below(b.count)))
        case 2:
            b += (0...r.below(40)).map { _ in UInt8(r.below(256)) }
        default:
            guard let at = headerWords.isEmpty ? nil : headerWords[r.below(headerWords.count)], at + 4 <= b.count else { break }
            let values: [UInt32] = [0, 1, 1 << 31, .max, UInt32(truncatingIfNeeded: r.next())]
            let v = values[r.below(values.count)]
            for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * k)) }
        }
        return b
    }

    static func idx(count: Int, rows: Int, cols: Int) -> (images: [UInt8], labels: [UInt8]) {
        func word(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
        let images = word(2051) + word(count) + word(rows) + word(cols) + (0..<(count * rows * cols)).map { UInt8($0 % 256) }
        let labels = word(2049) + word(count) + (0..<count).map { UInt8($0 % 10) }
        return (images, labels)
    }

    func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func corruptIDXFilesGiveADataErrorOrConsistentData() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (images, labels) = Self.idx(count: 12, rows: 6, cols: 5)
        var r = SplitMix64(seed: 19)
        var (errors, read) = (0, 0)
        for i in 0..<1000 {
            let path = dir.appendingPathComponent("case-\(i % 8)").path
            let isImages = i % 2 == 0
            let bytes = Self.corrupt(isImages ? images : labels, headerWords: isImages ? [0, 4, 8, 12] : [0, 4], &r)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                if isImages {
                    let (pixels, count, rows, cols) = try IDX.readImages(path)
                    #expect(pixels.count == count * rows * cols && pixels.allSatisfy { (0...1).contains($0) }, "case \(i)")
                } else {
                    let l = try IDX.readLabels(path)
                    #expect(l.count == bytes.count - 8 && l.allSatisfy { (0..<10).contains($0) }, "case \(i)")
                }
                read += 1
            } catch {
                errors += 1
            }
        }
        #expect(errors > 500 && read > 50, "\(errors) errors, \(read) read")
    }

    @Test func corruptGzipFilesGiveADataErrorOrConsistentData() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let raw = dir.appendingPathComponent("images").path
        _ = FileManager.default.createFile(atPath: raw, contents: Data(Self.idx(count: 40, rows: 7, cols: 7).images))
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", "-n", raw]
        try gzip.run()
        gzip.waitUntilExit()
        let valid = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw + ".gz")))
        #expect(try IDX.readImages(raw + ".gz").count == 40)
        var r = SplitMix64(seed: 23)
        var errors = 0
        for i in 0..<1000 {
            let path = dir.appendingPathComponent("case-\(i % 8).gz").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(Self.corrupt(valid, headerWords: [4], &r)))
            do {
                let (pixels, count, rows, cols) = try IDX.readImages(path)
                #expect(pixels.count == count * rows * cols, "case \(i)")
            } catch {
                errors += 1
            }
        }
        #expect(errors > 400, "\(errors) errors")
    }

    @Test func corruptCIFARBatchesGiveADataErrorOrConsistentData() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let valid = (0..<(4 * CIFAR10.recordBytes)).map { $0 % CIFAR10.recordBytes == 0 ? UInt8($0 / CIFAR10.recordBytes) : UInt8($0 % 251) }
        var r = SplitMix64(seed: 29)
        var errors = 0
        for i in 0..<1000 {
            let path = dir.appendingPathComponent("case-\(i % 8).bin").path
            let bytes = Self.corrupt(valid, headerWords: [0, CIFAR10.recordBytes], &r)
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                let (images, labels) = try CIFAR10.readBatch(path, expectedRecords: i % 3 == 0 ? 4 : nil)
                #expect(images.count == labels.count * 3072 && bytes.count == labels.count * CIFAR10.recordBytes, "case \(i)")
                #expect(labels.allSatisfy { (0..<10).contains($0) }, "case \(i)")
            } catch {
                errors += 1
            }
        }
        #expect(errors > 300, "\(errors) errors")
    }
}
