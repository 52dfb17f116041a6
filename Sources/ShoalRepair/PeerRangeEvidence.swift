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
        PeerRangeEvidence(range: part, isKnown: isKnown, lacking: lacking.filter { part.contains($0) },
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
}
