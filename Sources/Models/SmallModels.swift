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

/// The models of the benchmark suite that are not ACE (`gauge bench --suite`, issue 23), each
/// with a PyTorch twin in `Benchmarks/reference/small_torch.py` of the same shapes and losses.
extension SmallModels {
    /// A conditional VAE on MNIST: the one-hot label joins the image in the encoder
    /// (794→512→2×16) and the latent in the decoder (26→512→784); Bernoulli likelihood on logits.
    public static func conditionalVAE() throws(ModelError) -> Model {
        try Model("cvae-mnist") {
            let image = Input("image", [.batch, 1, 28, 28])
            let label = Input("label", [.batch], dtype: .int32)
            let x = image.flattened()
            let oneHot = label.oneHot(10)
            let h = Scope("encoder") { concat([x, oneHot], axis: 1).dense(512, activation: .relu) }
            let (mean, logScale) = (h.dense(16), h.dense(16))
            let z = sampleGaussian(mean: mean, logScale: logScale)
            let logits = Scope("decoder") { concat([z, oneHot], axis: 1).dense(512, activation: .relu).dense(784) }
            Loss(bernoulliCrossEntropy(logits: logits, target: x), name: "reconstruction")
            Loss(gaussianKL(mean, logScale), name: "kl")
        }
    }

    /// A convolutional VAE on CIFAR-10 (Fig. 4's auto-encoder with one decoder): conv 32@5 and
    /// 64@5 with ReLU and 2×2 max-pooling to 64×8×8, 32 Gaussian latents, a dense layer back to
    /// 64×8×8 and two stride-2 transposed convolutions (32@5 ReLU, 3@5) to logits.
    public static func convolutionalVAE() throws(ModelError) -> Model {
        try Model("conv-vae-cifar") {
            let image = Input("image", [.batch, 3, 32, 32])
            let h = Scope("encoder") {
                image.conv2d(32, kernel: 5, activation: .relu).maxPool(2)
                    .conv2d(64, kernel: 5, activation: .relu).maxPool(2).flattened()
            }
            let (mean, logScale) = (h.dense(32), h.dense(32))
            let z = sampleGaussian(mean: mean, logScale: logScale)
            let logits = Scope("decoder") {
                z.dense(64 * 8 * 8, activation: .relu).reshaped([.batch, 64, 8, 8])
                    .transposedConv2d(32, kernel: 5, stride: 2, activation: .relu)
                    .transposedConv2d(3, kernel: 5, stride: 2)
            }
            Loss(bernoulliCrossEntropy(logits: logits, target: image), name: "reconstruction")
            Loss(gaussianKL(mean, logScale), name: "kl")
        }
    }

    /// ACE's classifier alone on CIFAR-10 (`ACE.classifier`): dropout 0.2, conv 32-64-128 3×3
    /// with ReLU and max-pooling between, dense 700 with ReLU and dropout 0.5, 10 classes.
    public static func aceClassifier() throws(ModelError) -> Model {
        try Model("cnn-cifar") {
            let image = Input("image", [.batch, 3, 32, 32])
            let label = Input("label", [.batch], dtype: .int32)
            let logits = ACE.classifier(image, .cifar)
            Loss(softmaxCrossEntropy(logits: logits, labels: label), name: "classification")
            Output("logits", logits)
        }
    }
}
