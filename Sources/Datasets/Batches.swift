/// Shuffled mini-batches: a fresh permutation each epoch from (seed, epoch), so a run can stop
/// and resume at `cursor` and see the same batches. The last partial batch of an epoch is dropped.
public struct Batches: Sendable {
    public let count: Int
    public let batchSize: Int
    public let seed: UInt64
    /// Where the next batch starts: epoch and position within it.
    public var cursor: (epoch: Int, position: Int) = (0, 0)
    /// The record order of the epoch `next` last drew from (made once per epoch, not per batch).
    private var order: (epoch: Int, records: [Int])?

    /// The caller's contract (as for an array index): `batchSize` in `1...count`; `Trainer.fit`
    /// checks it with a typed error before it makes batches.
    public init(count: Int, batchSize: Int, seed: UInt64) {
        precondition(batchSize > 0 && batchSize <= count, "batch size \(batchSize) must be in 1...\(count)")
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
    }

    public var batchesPerEpoch: Int { count / batchSize }

    /// The record order of an epoch (Fisher–Yates with SplitMix64 keyed by seed and epoch).
    public func permutation(epoch: Int) -> [Int] {
        var random = SplitMix64(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = random.below(i + 1)
            order.swapAt(i, j)
        }
        return order
    }

    /// The records of the next batch; advances the cursor (and the epoch at its end).
    public mutating func next() -> (epoch: Int, records: [Int]) {
        if cursor.position + batchSize > count { cursor = (cursor.epoch + 1, 0) }
        if order?.epoch != cursor.epoch { order = (cursor.epoch, permutation(epoch: cursor.epoch)) }
        let records = Array(order!.records[cursor.position..<(cursor.position + batchSize)])
        let epoch = cursor.epoch
        cursor.position += batchSize
        if cursor.position + batchSize > count { cursor = (cursor.epoch + 1, 0) }
        return (epoch, records)
    }
}
