import Foundation
import Testing

/// `gauge dot --stage` shows the graph after each pass of the pipeline, in order: each stage's
/// node count is the count the compile report gives for that pass.
@Suite struct DOTStageTests {
    /// The node count in a DOT file: one line per node, `n<index> [` (indented in clusters).
    static func nodes(_ dot: String) -> Int {
        dot.split(separator: "\n").filter { line in
            let text = line.drop { $0 == " " }
            return text.first == "n" && text.dropFirst().first?.isNumber == true && !line.contains("->")
        }.count
    }

    @Test func everyPassHasAStageAndTheReportAgrees() throws {
        var counts: [String: Int] = [:]
        for stage in ["forward", "gradient", "update", "simplified", "optimized"] {
            let r = try gauge(["dot", "tiny-vae", "--stage", stage, "--no-locations"])
            #expect(r.status == 0, "\(stage): \(r.stderr)")
            counts[stage] = Self.nodes(r.stdout)
        }
        let summary = try gauge(["summary", "tiny-vae", "--batch", "250"])
        // The report's rows: "  autodiff  <ms>  <nodes>", "  optimizer update …", "  simplify …".
        func reported(_ pass: String) -> Int? {
            summary.stdout.split(separator: "\n").first { $0.hasPrefix("  \(pass) ") }
                .flatMap { $0.split(separator: " ").last.flatMap { Int($0) } }
        }
        #expect(counts["update"] == reported("optimizer update"))
        #expect(counts["simplified"] == reported("simplify"))
        #expect(counts["optimized"] == counts["simplified"])
        // Autodiff adds the gradient graph, the update the optimizer, simplification removes.
        #expect(counts["forward"]! < counts["gradient"]! && counts["gradient"]! < counts["update"]!)
        #expect(counts["simplified"]! < counts["update"]!)
    }
}
