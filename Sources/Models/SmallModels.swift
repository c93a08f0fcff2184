import Graph

/// Small models for trying the toolchain and for tests.
public enum SmallModels {
    /// A Gaussian VAE on 28×28 images: 784-400-20-400-784, Bernoulli likelihood on logits.
    public static func tinyVAE() throws(ModelError) -> Model {
        try Model("tiny-vae") {
            let x = Input("image", [.batch, 1, 28, 28])
            let h = Scope("encoder") { x.flattened().dense(400, activation: .tanh) }
            let mean = h.dense(20)
            let logScale = h.dense(20)
            let z = sampleGaussian(mean: mean, logScale: logScale)
            let logits = Scope("decoder") { z.dense(400, activation: .tanh).dense(784) }
            Loss(bernoulliCrossEntropy(logits: logits, target: x.flattened()) + gaussianKL(mean, logScale))
            Output("reconstruction", logits.sigmoid())
        }
    }

    /// A conv classifier on 28×28 images written as a layer stack.
    public static func convClassifier() throws(ModelError) -> Model {
        try Model("conv-classifier") {
            let x = Input("image", [.batch, 1, 28, 28])
            let y = Input("label", [.batch], dtype: .int32)
            let logits = x.apply(
                Sequential("features") {
                    Conv2D(32, kernel: 3, activation: .relu)
                    MaxPool(2)
                    Conv2D(64, kernel: 3, activation: .relu)
                    MaxPool(2)
                    Flatten()
                    Dense(128, activation: .relu)
                    Dense(10)
                })
            Loss(softmaxCrossEntropy(logits: logits, labels: y))
            Output("logits", logits)
        }
    }
}
