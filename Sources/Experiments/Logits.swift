import Foundation

/// Rows of class logits `[count, classes]`: the class a classifier picks and its probabilities,
/// for the evaluation, the mixture over classes and the judge.
enum Logits {
    /// Softmax of row `i` in double precision (the row's largest logit subtracted first).
    static func probabilities(_ logits: [Float], row i: Int, classes: Int) -> [Double] {
        let row = logits[(i * classes)..<((i + 1) * classes)].map(Double.init)
        let peak = row.max() ?? 0
        let total = row.reduce(0) { $0 + exp($1 - peak) }
        return row.map { exp($0 - peak) / total }
    }

    /// The first largest logit of row `i`; a NaN row (a diverged model) gives class 0, never a
    /// crash.
    static func firstLargest(_ logits: [Float], row i: Int, classes: Int) -> Int {
        var best = 0
        for c in 1..<max(classes, 1) where logits[i * classes + c] > logits[i * classes + best] { best = c }
        return best
    }
}
