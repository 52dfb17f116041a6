import ShoalCore

/// Who holds what, as established by anti-entropy exchanges: the repair planner's evidence of
/// replicas, instead of asking every holder about every object.
///
/// An exchange with peer `P` over range `R` that completed shows, for every object in `R`, whether
/// `P` stores it: `P` does unless the exchange found it missing on `P` (no record, a record
/// without the bytes, or a part of `R` empty on `P`). Ranges left unexplored, and ranges never
/// compared, are unknown. A newer exchange replaces older evidence for its ranges; a push
/// acknowledged by `P` counts `P` as a holder until the next exchange covering the object.
///
/// Memory is the differences, not the inventory; a lookup is a binary search.
public struct HolderEvidence: Sendable {
    /// Per peer, disjoint ranges ascending.
    private var evidence: [NodeID: [PeerRangeEvidence]] = [:]
    /// Per peer, objects it acknowledged storing since the last exchange covering them.
    private var stored: [NodeID: Set<ContentID>] = [:]

    /// No evidence.
    public init() {}

    /// Takes in what an exchange found (call with every ``ExchangeDirective/finished(_:)``).
    public mutating func absorb(_ outcome: ExchangeOutcome) {
        var fresh = outcome.ranges.map { PeerRangeEvidence(range: $0, isKnown: true) }
        func slot(_ key: Key256) -> Int? { Self.index(containing: key, in: fresh) }
        for record in outcome.peerLacks { if let i = slot(record.id) { fresh[i].lacking.insert(record.id) } }
        for d in outcome.differing where !d.peer.isStored {
            if let i = slot(d.local.id) { fresh[i].lacking.insert(d.local.id) }
        }
        for record in outcome.weLack where !record.isStored {
            if let i = slot(record.id) { fresh[i].lacking.insert(record.id) }
        }
        for range in outcome.peerLacksRanges { if let i = slot(range.prefix) { fresh[i].emptyRanges.append(range) } }
        for range in outcome.unexplored {
            fresh = PeerRangeEvidence.carving(range, from: fresh) + [PeerRangeEvidence(range: range, isKnown: false)]
            fresh.sort { $0.range < $1.range }
        }
        let entries =
            PeerRangeEvidence.removing(outcome.ranges, from: evidence[outcome.peer] ?? [])
            + fresh
        evidence[outcome.peer] = entries.sorted { $0.range < $1.range }
        if let acknowledged = stored[outcome.peer] {
            let kept = acknowledged.filter { id in
                Self.index(containing: id, in: fresh).map { !fresh[$0].isKnown } ?? true
            }
            stored[outcome.peer] = kept.isEmpty ? nil : kept
        }
    }

    /// Whether `peer` stores `object`: `true` or `false` as the latest evidence says, `nil` when
    /// no exchange covering the object has told.
    public func holds(_ object: ContentID, on peer: NodeID) -> Bool? {
        if stored[peer]?.contains(object) == true { return true }
        guard let entries = evidence[peer], let i = Self.index(containing: object, in: entries) else { return nil }
        let entry = entries[i]
        guard entry.isKnown else { return nil }
        if entry.lacking.contains(object) || entry.emptyRanges.contains(where: { $0.contains(object) }) { return false }
        return true
    }

    /// `peer` acknowledged storing `object` (a repair push succeeded).
    public mutating func noteStored(_ object: ContentID, on peer: NodeID) {
        stored[peer, default: []].insert(object)
    }

    /// Forgets everything about `peer` (it died or left).
    public mutating func forget(_ peer: NodeID) {
        evidence[peer] = nil
        stored[peer] = nil
    }

    /// Peers with evidence.
    public var peers: [NodeID] { Set(evidence.keys).union(stored.keys).sorted() }

    /// The entry of `entries` (disjoint, ascending) containing `key`.
    private static func index(containing key: Key256, in entries: [PeerRangeEvidence]) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].range.prefix <= key { low = mid + 1 } else { high = mid }
        }
        guard low > 0, entries[low - 1].range.contains(key) else { return nil }
        return low - 1
    }
}
