import Graph

/// The model whose DOT is kept as a golden file. Editing this file changes line numbers in the
/// snapshot: regenerate with `GAUGE_UPDATE_GOLDEN=1 swift test --filter DOTTests`.
func snapshotModel() throws -> Model {
    try Model("snapshot") {
        let x = Input("image", [.batch, 1, 4, 4])
        let y = Input("label", [.batch], dtype: .int32)
        let h = Scope("encoder") { x.flattened().dense(3, activation: .tanh) }
        let logits = Scope("head") { h.dense(2) }
        Loss(softmaxCrossEntropy(logits: logits, labels: y) * 0.5, name: "class")
        Output("logits", logits)
    }
}
