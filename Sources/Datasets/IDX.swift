/// MNIST and Fashion-MNIST files in IDX format (plain or `.gz`): big-endian headers, then bytes.
public enum IDX {
    public static let imageMagic: UInt32 = 2051
    public static let labelMagic: UInt32 = 2049

    /// Images as floats in [0, 1] with their count, rows and columns.
    public static func readImages(_ path: String) throws(DataError) -> (images: [Float], count: Int, rows: Int, cols: Int) {
        let bytes = try readBytes(path)
        guard bytes.count >= 16 else { throw .truncated(file: path, expectedBytes: 16, foundBytes: bytes.count) }
        let magic = bigEndian32(bytes, 0)
        guard magic == imageMagic else { throw .badMagic(file: path, found: magic, expected: imageMagic) }
        let (count, rows, cols) = (Int(bigEndian32(bytes, 4)), Int(bigEndian32(bytes, 8)), Int(bigEndian32(bytes, 12)))
        guard rows > 0, cols > 0, rows * cols <= 1 << 20 else {
            throw .badHeader(file: path, reason: "image size \(rows)×\(cols)")
        }
        let expected = 16 + count * rows * cols
        guard bytes.count >= expected else { throw .truncated(file: path, expectedBytes: expected, foundBytes: bytes.count) }
        guard bytes.count == expected else {
            throw .badHeader(file: path, reason: "\(bytes.count - expected) bytes after the \(count) images")
        }
        let images = bytes[16...].map { Float($0) / 255 }
        return (images, count, rows, cols)
    }

    public static func readLabels(_ path: String, classes: Int = 10) throws(DataError) -> [Int32] {
        let bytes = try readBytes(path)
        guard bytes.count >= 8 else { throw .truncated(file: path, expectedBytes: 8, foundBytes: bytes.count) }
        let magic = bigEndian32(bytes, 0)
        guard magic == labelMagic else { throw .badMagic(file: path, found: magic, expected: labelMagic) }
        let count = Int(bigEndian32(bytes, 4))
        guard bytes.count >= 8 + count else { throw .truncated(file: path, expectedBytes: 8 + count, foundBytes: bytes.count) }
        guard bytes.count == 8 + count else {
            throw .badHeader(file: path, reason: "\(bytes.count - 8 - count) bytes after the \(count) labels")
        }
        var labels = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let v = Int(bytes[8 + i])
            guard v < classes else { throw .badLabel(file: path, record: i, value: v, classes: classes) }
            labels[i] = Int32(v)
        }
        return labels
    }

    /// An image file and its label file as one data set; the counts must agree.
    public static func dataset(name: String, images: String, labels: String) throws(DataError) -> Dataset {
        let (pixels, count, rows, cols) = try readImages(images)
        let l = try readLabels(labels)
        guard l.count == count else { throw .countMismatch(images: images, imageCount: count, labels: labels, labelCount: l.count) }
        return Dataset(name: name, channels: 1, height: rows, width: cols, images: pixels, labels: l, classes: 10)
    }
}
