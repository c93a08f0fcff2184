/// Images and labels held in memory: images as float32 in [0, 1], NCHW, one after another.
public struct Dataset: Sendable {
    public var name: String
    public var channels: Int
    public var height: Int
    public var width: Int
    public var images: [Float]
    public var labels: [Int32]
    public var classes: Int

    public init(name: String, channels: Int, height: Int, width: Int, images: [Float], labels: [Int32], classes: Int) {
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.images = images
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }
    public var pixelsPerImage: Int { channels * height * width }

    /// Images and labels of the given records, in that order.
    public func gather(_ records: [Int]) -> (images: [Float], labels: [Int32]) {
        var images = [Float](repeating: 0, count: records.count * pixelsPerImage)
        var labels = [Int32](repeating: 0, count: records.count)
        images.withUnsafeMutableBufferPointer { i in
            labels.withUnsafeMutableBufferPointer { l in gather(records, images: i, labels: l) }
        }
        return (images, labels)
    }

    /// Records `records`, in that order, into memory of `records.count` images and labels
    /// (labels left out when nil).
    public func gather(
        _ records: [Int], images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>?
    ) {
        precondition(images.count >= records.count * pixelsPerImage && (labels?.count ?? records.count) >= records.count)
        self.images.withUnsafeBufferPointer { source in
            for (k, r) in records.enumerated() {
                let from = UnsafeBufferPointer(rebasing: source[(r * pixelsPerImage)..<((r + 1) * pixelsPerImage)])
                _ = UnsafeMutableBufferPointer(rebasing: images[(k * pixelsPerImage)...]).update(fromContentsOf: from)
                labels?[k] = self.labels[r]
            }
        }
    }

    /// The first `n` records (all of them when there are fewer).
    public func prefix(_ n: Int) -> Dataset {
        let n = min(n, count)
        var copy = self
        copy.images = Array(images.prefix(n * pixelsPerImage))
        copy.labels = Array(labels.prefix(n))
        return copy
    }

    /// This set followed by `other`'s records (for example a second draw of a distortion);
    /// throws when the image size or the classes differ.
    public func appending(_ other: Dataset) throws -> Dataset {
        guard (other.channels, other.height, other.width, other.classes) == (channels, height, width, classes) else {
            throw DataError.unsuitable(
                dataset: other.name,
                reason: "its \(other.channels)×\(other.height)×\(other.width) images of \(other.classes) classes cannot follow \(name)'s \(channels)×\(height)×\(width) of \(classes)")
        }
        var copy = self
        copy.images += other.images
        copy.labels += other.labels
        return copy
    }

    /// Number of records of each class.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for l in labels { counts[Int(l)] += 1 }
        return counts
    }
}
