import Datasets
import Foundation
import GaugeTesting
import Graph
import Runtime
import Testing

/// 1,000 seeded corruptions of a safetensors checkpoint — bit flips in header and data, every
/// kind of truncation, the header length set to 0, small, huge or negative, and edits inside
/// the JSON (numbers made negative or huge, quotes and braces removed): each load ends in a
/// `CheckpointError` or in a state whose every tensor has its shape — never a signal.
@Suite struct CheckpointFuzzTests {
    @Test func corruptCheckpointsGiveACheckpointErrorOrAWholeState() throws {
        let model = try Model("small") { Loss(Input("x", [.batch, 2]).dense(3).square().sum()) }
        let step = try TrainingStep(model, batch: 2, optimizer: .adam(learningRate: 0.01))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-ckpt-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.safetensors").path
        try step.initialState(seed: 1).save(to: good)
        let valid = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        let headerLength = Int(valid[0]) | Int(valid[1]) << 8
        var random = SplitMix64(seed: 31)
        func next() -> Int { Int(truncatingIfNeeded: random.next() >> 1) }
        var (errors, loaded) = (0, 0)
        for i in 0..<1000 {
            var b = valid
            switch next() % 5 {
            case 0:  // bit flips, mostly in the header
                for _ in 0...(next() % 3) { b[next() % min(b.count, 8 + headerLength + 16)] ^= UInt8(1 << (next() % 8)) }
            case 1:
                b = Array(b.prefix(next() % b.count))
            case 2:  // the header length
                let values: [UInt64] = [0, 1, 7, UInt64(headerLength - 1), UInt64(headerLength + 1), 1 << 40, .max, UInt64(bitPattern: -8)]
                let v = values[next() % values.count]
                for k in 0..<8 { b[k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
            case 3:  // a JSON number made negative or huge
                let digits = (8..<(8 + headerLength)).filter { (48...57).contains(b[$0]) }
                let at = digits[next() % digits.count]
                let replacement = [Array("-".utf8), Array("99999999999999999999".utf8), Array("-1".utf8), Array("1e30".utf8)][next() % 4]
                b.replaceSubrange(at...at, with: replacement)
                let length = UInt64(headerLength + b.count - valid.count)  // the header grew
                for k in 0..<8 { b[k] = UInt8(truncatingIfNeeded: length >> (8 * k)) }
            default:  // a structural character removed
                let marks = (8..<(8 + headerLength)).filter { [34, 123, 125, 91, 93, 58, 44].contains(b[$0]) }
                b[marks[next() % marks.count]] = 32
            }
            let path = dir.appendingPathComponent("case-\(i % 8).safetensors").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(b))
            do {
                let loadedState = try step.loadState(from: path)
                #expect(zip(loadedState.tensors, step.layout.entries).allSatisfy { $0.0.shape == $0.1.shape }, "case \(i)")
                _ = try Parameters.load(path, for: model)
                loaded += 1
            } catch is CheckpointError {
                errors += 1
            } catch {
                Issue.record("case \(i): not a CheckpointError: \(error)")
            }
        }
        #expect(errors > 500 && loaded > 20, "\(errors) errors, \(loaded) loaded")
    }

    /// Found by the fuzzing above: a header length of 2⁶³ or more crashed the conversion to Int.
    @Test func aHeaderLengthBeyondIntIsABadHeader() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-huge-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data([UInt8](repeating: 0xFF, count: 8) + Array("{}".utf8)))
        #expect(throws: CheckpointError.badHeader(path: path, reason: "header length 9223372036854775807 does not fit a 10-byte file")) {
            _ = try SafeTensors.readHeader(path)
        }
    }
}
