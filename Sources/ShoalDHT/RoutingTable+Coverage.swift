import ShoalCore

extension RoutingTable {
    /// Whether the table provably holds every node it knows of that is nearer to `target` than the
    /// `count`-th closest it holds, so that ``closest(to:count:)`` is exact without a lookup.
    ///
    /// A bucket is *complete* when it is not full and no contact waits in its replacement cache:
    /// every node of its range this node has heard of is in it. A node nearer to `target` than the
    /// `count`-th closest contact could only be missing from an incomplete bucket, and the XOR metric
    /// bounds how near any member of a bucket's range can be: with `j` the bucket of `target`, a
    /// node in bucket `b < j` is at least `2^(255−b)` away, one in a bucket `b > j` at least
    /// `2^(255−j)`, and one in bucket `j` may be arbitrarily near. So the table covers `target`
    /// when every incomplete bucket's nearest possible member is at least as far as the
    /// `count`-th closest contact (or, when the table holds fewer than `count`, when every bucket
    /// is complete).
    /// - Parameters:
    ///   - target: any key.
    ///   - count: how many nearest nodes must be exact (e.g. the replication factor).
    public func coversNeighbourhood(of target: Key256, count: Int) -> Bool {
        let nearest = closest(to: target, count: count)
        let incomplete = (0..<RoutingTable.bucketCount).filter { isIncomplete(bucket: $0) }
        guard nearest.count == count, let farthest = nearest.last else { return incomplete.isEmpty }
        let radius = farthest.id ^ target
        let targetBucket = (target ^ localID).leadingZeroBitCount
        for bucket in incomplete {
            guard bucket != targetBucket, targetBucket < RoutingTable.bucketCount else { return false }
            let nearestPossible = Key256.power(255 - min(bucket, targetBucket))
            if nearestPossible < radius { return false }
        }
        return true
    }
}

extension Key256 {
    /// The key with only bit `exponent` set, counting from the least significant bit (0...255).
    static func power(_ exponent: Int) -> Key256 {
        precondition((0...255).contains(exponent), "a 256-bit key has bits 0 to 255")
        let word = 3 - exponent / 64
        let bit = UInt64(1) << UInt64(exponent % 64)
        return Key256(words: (word == 0 ? bit : 0, word == 1 ? bit : 0, word == 2 ? bit : 0, word == 3 ? bit : 0))
    }
}
