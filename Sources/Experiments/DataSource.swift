import Datasets
import Runtime

/// Rows of named inputs that `Trainer.fit` batches: a data set on disk, arrays in memory, or
/// anything that can gather rows by index.
public protocol DataSource {
    /// The number of rows.
    var count: Int { get }
    /// The model's inputs for rows `indices`, in that order, by input name.
    func feeds(_ indices: [Int]) -> [String: TensorData]
    /// Writes rows `indices` into `step`'s input memory (`TrainingStep.floatInput`), for
    /// `run(_:losses:)`. The default copies `feeds(indices)`; a source can gather in place.
    func write(_ indices: [Int], into step: TrainingStep) throws
}

extension DataSource {
    public func write(_ indices: [Int], into step: TrainingStep) throws {
        try step.feed(feeds(indices).filter { step.inputNames.contains($0.key) })
    }
}

/// MNIST, Fashion-MNIST, CIFAR-10 and the distorted sets feed `image` ([batch, c, h, w] in
/// [0, 1]) and `label` ([batch] int32).
extension Dataset: DataSource {
    public func feeds(_ indices: [Int]) -> [String: TensorData] {
        let (images, labels) = gather(indices)
        return ["image": .float32(images), "label": .int32(labels)]
    }

    /// The rows gathered straight into the step's `image` and `label` memory.
    public func write(_ indices: [Int], into step: TrainingStep) throws {
        let images = try step.floatInput("image")
        // A model without a label input (an unconditional VAE) leaves the labels out.
        let labels = step.inputNames.contains("label") ? try step.intInput("label") : nil
        guard images.count == indices.count * pixelsPerImage, (labels?.count ?? indices.count) == indices.count else {
            throw ExperimentError(
                "\(indices.count) rows of \(pixelsPerImage) pixels do not fit the step's image [\(images.count)] and label [\(labels?.count ?? 0)]")
        }
        gather(indices, images: images, labels: labels)
    }
}

/// Arrays in memory, each holding `count` rows of equal size, fed under their names.
public struct ArraySource: DataSource {
    public let count: Int
    let columns: [(name: String, data: TensorData, perRow: Int)]

    /// Throws when an array does not split into `count` equal rows.
    public init(_ arrays: [String: TensorData], count: Int) throws {
        guard count > 0 else { throw ExperimentError("an ArraySource needs at least one row, got \(count)") }
        self.count = count
        columns = try arrays.sorted { $0.key < $1.key }.map { name, data in
            let n: Int
            switch data {
            case .float32(let v): n = v.count
            case .int32(let v): n = v.count
            }
            guard n % count == 0, n > 0 else {
                throw ExperimentError("\(name) holds \(n) values, which do not split into \(count) equal rows")
            }
            return (name, data, n / count)
        }
    }

    public func feeds(_ indices: [Int]) -> [String: TensorData] {
        var result: [String: TensorData] = [:]
        for (name, data, perRow) in columns {
            switch data {
            case .float32(let v): result[name] = .float32(Self.rows(v, indices, perRow))
            case .int32(let v): result[name] = .int32(Self.rows(v, indices, perRow))
            }
        }
        return result
    }

    static func rows<T>(_ values: [T], _ indices: [Int], _ perRow: Int) -> [T] {
        var out: [T] = []
        out.reserveCapacity(indices.count * perRow)
        for i in indices { out.append(contentsOf: values[(i * perRow)..<((i + 1) * perRow)]) }
        return out
    }
}
