import ShoalCore

extension RecordTree {
    /// The summary of `range`: its record count and hash (``RangeHashing``).
    ///
    /// Mutating only to cache the hashes it computes. Costs a walk down the tree when the range's
    /// hashes are fresh, plus rehashing what changed since.
    public mutating func summary(of range: KeyRange) -> RangeSummary {
        let alignedDepth = range.bitLength / 4
        let extraBits = range.bitLength % 4
        var index: Int32 = 0
        var depth = 0
        while depth < alignedDepth {
            if nodes[Int(index)].isLeaf {
                return Self.leafSummary(nodes[Int(index)].records.filter { range.contains($0.record.id) })
            }
            index = nodes[Int(index)].children[range.prefix.nibble(depth)]
            if index == RecordTreeNode.none { return .empty }
            depth += 1
        }
        if extraBits == 0 { return nodeSummary(index) }
        if nodes[Int(index)].isLeaf {
            return Self.leafSummary(nodes[Int(index)].records.filter { range.contains($0.record.id) })
        }
        // An unaligned range is the union of some children of the aligned node above it.
        let first = range.prefix.bits(from: 4 * alignedDepth, count: extraBits) << (4 - extraBits)
        let span = 1 << (4 - extraBits)
        let children = Array(nodes[Int(index)].children[first..<(first + span)])
        let summaries = children.map { $0 == RecordTreeNode.none ? RangeSummary.empty : nodeSummary($0) }
        let count = summaries.reduce(0) { $0 + $1.count }
        guard count > UInt64(Self.leafCapacity) else {
            var records: [StoredRecord] = []
            for child in children where child != RecordTreeNode.none { gather(child, into: &records) }
            return Self.leafSummary(records)
        }
        return RangeSummary(count: count, hash: RangeHashing.nodeHash(children: summaries))
    }

    /// Records in `range` (no hashing: counts are always current).
    public func recordCount(in range: KeyRange) -> Int {
        let alignedDepth = range.bitLength / 4
        let extraBits = range.bitLength % 4
        var index: Int32 = 0
        var depth = 0
        while depth < alignedDepth {
            if nodes[Int(index)].isLeaf {
                return nodes[Int(index)].records.lazy.filter { range.contains($0.record.id) }.count
            }
            index = nodes[Int(index)].children[range.prefix.nibble(depth)]
            if index == RecordTreeNode.none { return 0 }
            depth += 1
        }
        let node = nodes[Int(index)]
        if extraBits == 0 { return node.count }
        if node.isLeaf { return node.records.lazy.filter { range.contains($0.record.id) }.count }
        let first = range.prefix.bits(from: 4 * alignedDepth, count: extraBits) << (4 - extraBits)
        return node.children[first..<(first + (1 << (4 - extraBits)))].reduce(0) {
            $0 + ($1 == RecordTreeNode.none ? 0 : nodes[Int($1)].count)
        }
    }

    /// The summaries of `range`'s ``KeyRange/children``, in key order.
    public mutating func childSummaries(of range: KeyRange) -> [RangeSummary] {
        range.children.map { summary(of: $0) }
    }

    /// Records in `range` with an ID above `after` (all when `nil`), ascending by ID, at most
    /// `limit` of them.
    /// - Returns: the records, and whether they are all there are (`false`: ask again after the
    ///   last one).
    public func records(
        in range: KeyRange, after: ContentID? = nil, limit: Int = .max
    ) -> (records: [ObjectRecord], isComplete: Bool) {
        var out: [ObjectRecord] = []
        guard limit > 0 else { return ([], summaryCountIsZero(range, after: after)) }
        let complete = collect(node: 0, covering: .everything, in: range, after: after, limit: limit, into: &out)
        return (out, complete)
    }

    /// Calls `body` with every record in `range`, in ascending ID order.
    public func forEachRecord(in range: KeyRange, _ body: (ObjectRecord) -> Void) {
        var after: ContentID?
        while true {
            let page = records(in: range, after: after, limit: 4096)
            page.records.forEach(body)
            guard !page.isComplete, let last = page.records.last else { return }
            after = last.id
        }
    }

    // MARK: Internals

    /// The cached or recomputed summary of aligned node `index`.
    mutating func nodeSummary(_ index: Int32) -> RangeSummary {
        let node = nodes[Int(index)]
        if let hash = node.hash { return RangeSummary(count: UInt64(node.count), hash: hash) }
        let summary: RangeSummary
        if node.isLeaf {
            summary = Self.leafSummary(node.records)
        } else if node.count <= Self.leafCapacity {
            var records: [StoredRecord] = []
            gather(index, into: &records)
            summary = Self.leafSummary(records)
        } else {
            let children = node.children.map { $0 == RecordTreeNode.none ? RangeSummary.empty : nodeSummary($0) }
            summary = RangeSummary(count: UInt64(node.count), hash: RangeHashing.nodeHash(children: children))
        }
        nodes[Int(index)].hash = summary.hash
        return summary
    }

    static func leafSummary(_ records: [StoredRecord]) -> RangeSummary {
        RangeSummary(count: UInt64(records.count), hash: RangeHashing.leafHash(digests: records.map(\.digest)))
    }

    /// In-order walk of `node` (whose keys are `covering`): appends the records in `range` above
    /// `after`. Returns `false` once it stopped at `limit` with more left.
    private func collect(
        node index: Int32, covering: KeyRange, in range: KeyRange, after: ContentID?, limit: Int,
        into out: inout [ObjectRecord]
    ) -> Bool {
        let node = nodes[Int(index)]
        if node.isLeaf {
            var start = 0
            if let after { start = Self.position(of: after, in: node.records).0 }
            for stored in node.records[start...] {
                let id = stored.record.id
                guard range.contains(id) else {
                    if id > range.last { return true }
                    continue
                }
                if let after, id <= after { continue }
                guard out.count < limit else { return false }
                out.append(stored.record)
            }
            return true
        }
        for (nibble, child) in node.children.enumerated() where child != RecordTreeNode.none {
            let childRange = KeyRange(
                unchecked: covering.prefix.settingBits(from: covering.bitLength, count: 4, to: nibble),
                bitLength: covering.bitLength + 4)
            guard childRange.overlaps(range) else { continue }
            if let after, childRange.last <= after { continue }
            if !collect(node: child, covering: childRange, in: range, after: after, limit: limit, into: &out) {
                return false
            }
        }
        return true
    }

    private func summaryCountIsZero(_ range: KeyRange, after: ContentID?) -> Bool {
        var probe: [ObjectRecord] = []
        return collect(node: 0, covering: .everything, in: range, after: after, limit: 0, into: &probe)
    }
}
