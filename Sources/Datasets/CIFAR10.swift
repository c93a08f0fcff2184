/// CIFAR-10, binary version: records of 1 label byte then 1,024 red, green and blue bytes.
public enum CIFAR10 {
    public static let recordBytes = 3073
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFile = "test_batch.bin"
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// One batch file; a size that is not a whole number of records, or not `expectedRecords`
    /// of them when given, is an error.
    public static func readBatch(_ path: String, expectedRecords: Int? = 10_000) throws(DataError) -> (images: [Float], labels: [Int32]) {
        let bytes = try readBytes(path)
        if let expectedRecords, bytes.count != expectedRecords * recordBytes {
            if bytes.count < expectedRecords * recordBytes {
                throw .truncated(file: path, expectedBytes: expectedRecords * recordBytes, foundBytes: bytes.count)
            }
            throw .badHeader(file: path, reason: "\(bytes.count) bytes, expected \(expectedRecords) records of \(recordBytes)")
        }
        guard bytes.count % recordBytes == 0 else {
            throw .truncated(file: path, expectedBytes: (bytes.count / recordBytes + 1) * recordBytes, foundBytes: bytes.count)
        }
        let count = bytes.count / recordBytes
        var images = [Float](repeating: 0, count: count * 3072)
        var labels = [Int32](repeating: 0, count: count)
        for r in 0..<count {
            let base = r * recordBytes
            let label = Int(bytes[base])
            guard label < 10 else { throw .badLabel(file: path, record: r, value: label, classes: 10) }
            labels[r] = Int32(label)
            for p in 0..<3072 { images[r * 3072 + p] = Float(bytes[base + 1 + p]) / 255 }
        }
        return (images, labels)
    }

    /// The training set (five files) or the test set from a `cifar-10-batches-bin` folder.
    public static func load(directory: String, train: Bool, expectedRecords: Int? = 10_000) throws(DataError) -> Dataset {
        var images: [Float] = []
        var labels: [Int32] = []
        for file in train ? trainFiles : [testFile] {
            let (i, l) = try readBatch(directory + "/" + file, expectedRecords: expectedRecords)
            images += i
            labels += l
        }
        return Dataset(
            name: train ? "cifar-10 train" : "cifar-10 test", channels: 3, height: 32, width: 32, images: images,
            labels: labels, classes: 10)
    }
}
