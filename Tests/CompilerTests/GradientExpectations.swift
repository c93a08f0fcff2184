import GaugeTesting
import Testing

/// Expects `gradientMismatches` to find none, each mismatch reported at the caller.
func checkGradients(
    _ harness: Harness, step: Float = 1e-2, tolerance: Float = 1e-2, samples: Int = 12,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
    for mismatch in try gradientMismatches(harness, step: step, tolerance: tolerance, samples: samples) {
        Issue.record("\(mismatch)", sourceLocation: sourceLocation)
    }
}
