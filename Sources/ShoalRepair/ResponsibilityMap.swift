import ShoalCore

/// The key space cut into ranges by who is responsible for them: for every range, the `r` known
/// nodes XOR-closest to every key in it (Kademlia placement). It tells which neighbours share
/// responsibility for which ranges (what anti-entropy compares) and an object's holders without
/// a lookup per object.
///
/// ## Construction
///
/// For a range with prefix `p` of `l` bits, a node `n`'s distance to every key of the range starts
/// with the same `l` bits, `(n ⊕ p)` truncated to `l` bits: nodes whose truncations differ are
/// ordered the same way for every key in the range. Walking the nodes in that order, if the `r`-th
/// closest ends a group of equal truncations, the same `r` nodes are closest everywhere in the
/// range; otherwise the range is split in two by its next bit and each half is examined with only
/// the nodes that can still be among the `r` closest. Sibling halves with the same holders are
/// merged back. With `N` nodes this yields O(N·r) ranges.
public struct ResponsibilityMap: Sendable {
    /// The replication factor `r`.
    public let replicas: Int
    /// The nodes considered, ascending, without duplicates.
    public let nodes: [NodeID]
    /// The node the map is restricted to, if any.
    public let restrictedTo: NodeID?
    /// The ranges, ascending and disjoint: the whole key space, or with ``restrictedTo`` only the
    /// ranges that node is responsible for.
    public let ranges: [ResponsibleRange]

    /// Computes the map.
    /// - Parameters:
    ///   - nodes: the live nodes known (this node included); duplicates are ignored.
    ///   - replicas: `r`, at least 1.
    ///   - restrictedTo: compute only the ranges this node is one of the holders of (much cheaper
    ///     for a node that only needs its own responsibilities).
    public init(nodes: some Sequence<NodeID>, replicas: Int, restrictedTo: NodeID? = nil) {
        let unique = Array(Set(nodes)).sorted()
        self.nodes = unique
        self.replicas = max(1, replicas)
        self.restrictedTo = restrictedTo
        if let restrictedTo, !unique.contains(restrictedTo) {
            self.ranges = []
        } else {
            self.ranges = Self.partition(.everything, unique, replicas: max(1, replicas), restrictedTo: restrictedTo)
        }
    }

    /// The holders of `key`, closest first; `nil` outside the map's ranges (a restricted map).
    public func holders(of key: Key256) -> [NodeID]? {
        guard let index = rangeIndex(containing: key) else { return nil }
        return ranges[index].holders.sorted { key.isCloser($0, than: $1) }
    }

    /// The ranges `node` is a holder of.
    public func ranges(of node: NodeID) -> [KeyRange] {
        ranges.filter { $0.holders.contains(node) }.map(\.range)
    }

    /// For every other node sharing a range with `node`, the ranges they share, ascending.
    public func sharedRanges(of node: NodeID) -> [NodeID: [KeyRange]] {
        var out: [NodeID: [KeyRange]] = [:]
        for responsible in ranges where responsible.holders.contains(node) {
            for peer in responsible.holders where peer != node { out[peer, default: []].append(responsible.range) }
        }
        return out
    }

    private func rangeIndex(containing key: Key256) -> Int? {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].range.prefix <= key { low = mid + 1 } else { high = mid }
        }
        guard low > 0, ranges[low - 1].range.contains(key) else { return nil }
        return low - 1
    }

    private static func partition(
        _ range: KeyRange, _ candidates: [NodeID], replicas: Int, restrictedTo: NodeID?
    ) -> [ResponsibleRange] {
        if candidates.count <= replicas {
            guard restrictedTo.map(candidates.contains) ?? true else { return [] }
            return [ResponsibleRange(range: range, holders: candidates.sorted())]
        }
        // Each candidate's distance to the range, truncated to the range's fixed bits, in the top
        // words; the node itself in the bottom ones, to sort by both with one comparison.
        let ranked = candidates.map {
            RankedNode(node: $0, distance: ($0 ^ range.prefix).keepingPrefix(range.bitLength))
        }
        .sorted()
        // The end of the group of equal truncations that holds the r-th closest.
        var end = replicas
        while end < ranked.count, ranked[end].distance == ranked[replicas - 1].distance { end += 1 }
        let contenders = ranked[..<end].map(\.node)
        if let restrictedTo, !contenders.contains(restrictedTo) { return [] }
        if end == replicas || range.bitLength == Key256.bitCount {
            return [ResponsibleRange(range: range, holders: contenders.prefix(replicas).sorted())]
        }
        let (zero, one) = range.halves
        let low = partition(zero, contenders, replicas: replicas, restrictedTo: restrictedTo)
        let high = partition(one, contenders, replicas: replicas, restrictedTo: restrictedTo)
        if low.count == 1, high.count == 1, low[0].range == zero, high[0].range == one,
            low[0].holders == high[0].holders
        {
            return [ResponsibleRange(range: range, holders: low[0].holders)]
        }
        return low + high
    }
}
