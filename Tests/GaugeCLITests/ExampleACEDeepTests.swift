import Foundation
import Testing

/// ACE with symmetry statistics at depth (public API only): a tiny epoch on real RTS MNIST, with
/// the test error in the metrics, and the group count checked before anything loads.
@Suite struct ExampleACEDeepTests {
    @Test(.enabled(if: hasData, "set GAUGE_DATA to the data folder"))
    func aTinyEpochWritesTheTestError() throws {
        let output = scratchFolder("ace-deep")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try execute("example-ace-deep", ["--limit", "100", "--batch", "50", "--groups", "2", "--out", output])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ace-deep-rts-groups2: 100 training and 100 test images, 2 steps an epoch; writing to \(output)/"))
        let metrics = try String(contentsOfFile: output + "/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"error\":") && metrics.contains("\"group_theta_1\":") && !metrics.contains("\"group_theta_2\":"))
        #expect(r.stdout.contains("wrote \(output)/samples.png: 10 samples of each class from the prior, canonical frame"))
        #expect(try PNGSize(path: output + "/samples.png") == (10 * 42 + 9 * 2, 10 * 42 + 9 * 2))
    }

    @Test func groupsThatDoNotDivideTheMapsAreRefused() throws {
        let r = try execute("example-ace-deep", ["--groups", "3"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--groups must divide the 8 level-1 maps evenly (or be 0), got 3"), "\(r.stderr)")
    }
}
