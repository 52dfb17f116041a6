import ShoalCore

/// What one exchange established about one peer's records in one range.
struct PeerRangeEvidence: Sendable {
    var range: KeyRange
    /// `false` for a range an exchange left unexplored: nothing known.
    var isKnown: Bool
    /// Objects in the range the peer has no copy of: no record, or a record without the bytes.
    var lacking: Set<ContentID> = []
    /// Sub-ranges where the peer has nothing at all.
    var emptyRanges: [KeyRange] = []

    /// This evidence restricted to `part` (a range inside ``range``).
    func restricted(to part: KeyRange) -> PeerRangeEvidence {
        PeerRangeEvidence(
            range: part, isKnown: isKnown, lacking: lacking.filter { part.contains($0) },
            emptyRanges: emptyRanges.compactMap { part.contains($0) ? $0 : ($0.contains(part) ? part : nil) })
    }

    /// Replaces whatever `entries` (disjoint) say about `inner`: entries inside it are removed,
    /// an entry containing it is cut into the pieces around it.
    static func carving(_ inner: KeyRange, from entries: [PeerRangeEvidence]) -> [PeerRangeEvidence] {
        entries.flatMap { entry -> [PeerRangeEvidence] in
            if inner.contains(entry.range) { return [] }
            if entry.range.contains(inner) { return entry.range.excluding(inner).map { entry.restricted(to: $0) } }
            return [entry]
        }
    }

    /// `entries` (disjoint, ascending) without what they say about `ranges` (disjoint, ascending):
    /// in O((n + m) log m), for the common case of an exchange over the same ranges as before.
    static func removing(_ ranges: [KeyRange], from entries: [PeerRangeEvidence]) -> [PeerRangeEvidence] {
        guard !ranges.isEmpty else { return entries }
        var out: [PeerRangeEvidence] = []
        out.reserveCapacity(entries.count)
        for entry in entries {
            // The first range starting at or after the entry; the one before may contain it.
            var low = 0
            var high = ranges.count
            while low < high {
                let mid = (low + high) / 2
                if ranges[mid].prefix < entry.range.prefix { low = mid + 1 } else { high = mid }
            }
            if low > 0, ranges[low - 1].contains(entry.range) { continue }
            var inside: [KeyRange] = []
            var i = low
            while i < ranges.count, entry.range.contains(ranges[i].prefix) {
                if ranges[i].contains(entry.range) { break }
                inside.append(ranges[i])
                i += 1
            }
            if i < ranges.count, ranges[i].contains(entry.range) { continue }
            var pieces = [entry]
            for range in inside { pieces = carving(range, from: pieces) }
            out += pieces
        }
        return out
    }
}
