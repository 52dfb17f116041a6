import ShoalCore

/// The records a node holds, as a Merkle-style prefix tree over the key space: what anti-entropy
/// summarizes, compares and lists.
///
/// Records sit in leaves of at most ``RangeHashing/leafCapacity`` records under nibble-aligned
/// key prefixes; a leaf that grows past that splits into 16 children by the next nibble, and a
/// subtree that shrinks back to it collapses into a leaf. Each node caches its record count and
/// hash; a change makes only the hashes on its path stale, and they are recomputed when next
/// asked for. So inserting, updating or removing a record costs O(depth) (about
/// log₁₆(n / 16)), a summary of an unchanged range costs a walk down the tree, and memory is the
/// records plus about one node per 8 records.
///
/// Range hashes are defined by the records alone (``RangeHashing``), not by the tree's shape, so
/// two nodes holding the same records in a range get the same summary, whatever order they
/// learned them in.
///
/// The tree keeps its records pruned at its ``horizon``: tombstones the horizon has expired are
/// removed as records arrive and when the horizon advances, and a record left with nothing in it
/// (``ObjectRecord/isEmpty``) is removed.
public struct RecordTree: Sendable {
    /// Tombstones before this have expired; only moves forward (``advanceHorizon(to:)``).
    public internal(set) var horizon: TombstoneHorizon

    /// The tree's nodes; the root is node 0.
    var nodes: [RecordTreeNode] = [RecordTreeNode()]
    /// Indices of released nodes, reused first.
    var released: [Int32] = []
    /// One entry per tombstone held (and perhaps some since replaced): when it expires.
    var expiries: [(deletedAt: Timestamp, id: ContentID)] = []

    static let leafCapacity = RangeHashing.leafCapacity
    static let maximumDepth = 64

    /// An empty tree.
    public init(horizon: TombstoneHorizon = .origin) {
        self.horizon = horizon
    }

    /// A tree of `records`, built in one pass after sorting (faster than inserting them one by
    /// one). Records for the same ID are merged; tombstones `horizon` has expired are dropped.
    public init(records: some Sequence<ObjectRecord>, horizon: TombstoneHorizon = .origin) {
        self.horizon = horizon
        var sorted = records.map { $0.pruned(at: horizon) }.filter { !$0.isEmpty }
        sorted.sort { $0.id < $1.id }
        var stored: [StoredRecord] = []
        stored.reserveCapacity(sorted.count)
        var i = 0
        while i < sorted.count {
            var record = sorted[i]
            i += 1
            while i < sorted.count, sorted[i].id == record.id {
                record = record.merged(with: sorted[i]).storing(record.isStored || sorted[i].isStored)
                i += 1
            }
            stored.append(StoredRecord(record))
            for t in record.tombstones { expiries.append((t.deletedAt, record.id)) }
        }
        nodes[0] = RecordTreeNode(count: stored.count)
        build(node: 0, from: stored[...], depth: 0)
    }

    /// Records in the tree.
    public var count: Int { nodes[0].count }

    /// Nodes in use (for memory figures).
    public var nodeCount: Int { nodes.count - released.count }

    /// The record for `id`, if any.
    public func record(_ id: ContentID) -> ObjectRecord? {
        let leaf = leafIndex(for: id)
        guard leaf != RecordTreeNode.none else { return nil }
        let records = nodes[Int(leaf)].records
        let (position, found) = Self.position(of: id, in: records)
        return found ? records[position].record : nil
    }

    /// Inserts or replaces the record for `record.id`. Tombstones the ``horizon`` has expired are
    /// dropped first; a record left empty removes the ID instead.
    /// - Returns: whether the tree changed.
    @discardableResult
    public mutating func upsert(_ record: ObjectRecord) -> Bool {
        let record = record.pruned(at: horizon)
        if record.isEmpty { return remove(record.id) != nil }
        let id = record.id
        var path: [Int32] = []
        var index: Int32 = 0
        var depth = 0
        while !nodes[Int(index)].isLeaf {
            path.append(index)
            let nibble = id.nibble(depth)
            var child = nodes[Int(index)].children[nibble]
            if child == RecordTreeNode.none {
                child = allocate(RecordTreeNode())
                nodes[Int(index)].children[nibble] = child
            }
            index = child
            depth += 1
        }
        path.append(index)
        let (position, found) = Self.position(of: id, in: nodes[Int(index)].records)
        let stored = StoredRecord(record)
        var previousTombstones: [Tombstone] = []
        if found {
            let previous = nodes[Int(index)].records[position]
            guard previous != stored else { return false }
            previousTombstones = previous.record.tombstones
            nodes[Int(index)].records[position] = stored
        } else {
            nodes[Int(index)].records.insert(stored, at: position)
        }
        for node in path {
            nodes[Int(node)].hash = nil
            if !found { nodes[Int(node)].count += 1 }
        }
        for t in record.tombstones where !previousTombstones.contains(t) { expiries.append((t.deletedAt, id)) }
        if nodes[Int(index)].count > Self.leafCapacity, depth < Self.maximumDepth { split(node: index, depth: depth) }
        return true
    }

    /// Removes the record for `id`.
    /// - Returns: the removed record, `nil` when there was none.
    @discardableResult
    public mutating func remove(_ id: ContentID) -> ObjectRecord? {
        var path: [Int32] = []
        var index: Int32 = 0
        var depth = 0
        while !nodes[Int(index)].isLeaf {
            path.append(index)
            let child = nodes[Int(index)].children[id.nibble(depth)]
            guard child != RecordTreeNode.none else { return nil }
            index = child
            depth += 1
        }
        let (position, found) = Self.position(of: id, in: nodes[Int(index)].records)
        guard found else { return nil }
        let removed = nodes[Int(index)].records.remove(at: position).record
        path.append(index)
        for node in path {
            nodes[Int(node)].hash = nil
            nodes[Int(node)].count -= 1
        }
        if let shallowest = path.first(where: { !nodes[Int($0)].isLeaf && nodes[Int($0)].count <= Self.leafCapacity }) {
            collapse(node: shallowest)
        } else if nodes[Int(index)].count == 0, path.count >= 2 {
            let parent = path[path.count - 2]
            nodes[Int(parent)].children[id.nibble(depth - 1)] = RecordTreeNode.none
            release(index)
        }
        return removed
    }

    // MARK: Structure

    /// The leaf that would hold `id`, or ``RecordTreeNode/none``.
    func leafIndex(for id: ContentID) -> Int32 {
        var index: Int32 = 0
        var depth = 0
        while !nodes[Int(index)].isLeaf {
            index = nodes[Int(index)].children[id.nibble(depth)]
            if index == RecordTreeNode.none { return index }
            depth += 1
        }
        return index
    }

    /// Where `id` is, or would be inserted, in `records` (ascending by ID).
    static func position(of id: ContentID, in records: [StoredRecord]) -> (Int, found: Bool) {
        var low = 0
        var high = records.count
        while low < high {
            let mid = (low + high) / 2
            if records[mid].record.id < id { low = mid + 1 } else { high = mid }
        }
        return (low, low < records.count && records[low].record.id == id)
    }

    /// Makes `node` (whose count is already set) hold `records`, all under its prefix, splitting
    /// while more than a leaf's worth.
    private mutating func build(node: Int32, from records: ArraySlice<StoredRecord>, depth: Int) {
        guard records.count > Self.leafCapacity, depth < Self.maximumDepth else {
            nodes[Int(node)].records = Array(records)
            nodes[Int(node)].children = []
            return
        }
        var children = [Int32](repeating: RecordTreeNode.none, count: 16)
        var start = records.startIndex
        while start < records.endIndex {
            let nibble = records[start].record.id.nibble(depth)
            var end = start + 1
            while end < records.endIndex, records[end].record.id.nibble(depth) == nibble { end += 1 }
            let child = allocate(RecordTreeNode(count: end - start))
            children[nibble] = child
            build(node: child, from: records[start..<end], depth: depth + 1)
            start = end
        }
        nodes[Int(node)].children = children
        nodes[Int(node)].records = []
    }

    /// Turns leaf `node` at `depth` into an internal node over its records.
    private mutating func split(node: Int32, depth: Int) {
        let records = nodes[Int(node)].records
        build(node: node, from: records[...], depth: depth)
        nodes[Int(node)].hash = nil
    }

    /// Turns internal `node` back into a leaf holding every record of its subtree.
    private mutating func collapse(node: Int32) {
        var records: [StoredRecord] = []
        records.reserveCapacity(nodes[Int(node)].count)
        gather(node, into: &records)
        for child in nodes[Int(node)].children where child != RecordTreeNode.none { releaseSubtree(child) }
        nodes[Int(node)].children = []
        nodes[Int(node)].records = records
        nodes[Int(node)].hash = nil
    }

    /// Appends every record under `node` to `records`, in ascending ID order.
    func gather(_ node: Int32, into records: inout [StoredRecord]) {
        let n = nodes[Int(node)]
        if n.isLeaf {
            records.append(contentsOf: n.records)
        } else {
            for child in n.children where child != RecordTreeNode.none { gather(child, into: &records) }
        }
    }

    private mutating func allocate(_ node: RecordTreeNode) -> Int32 {
        if let index = released.popLast() {
            nodes[Int(index)] = node
            return index
        }
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    private mutating func release(_ node: Int32) {
        nodes[Int(node)] = RecordTreeNode()
        released.append(node)
    }

    private mutating func releaseSubtree(_ node: Int32) {
        for child in nodes[Int(node)].children where child != RecordTreeNode.none { releaseSubtree(child) }
        release(node)
    }
}
