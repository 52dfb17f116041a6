import ShoalCore

/// What to do with an exchange's differences besides pushing bytes (the planner's job): merge the
/// peer's claims and tombstones into this node's records, and send the peer the records it should
/// merge. Both sides converge on the same records (``ObjectRecord`` merging is a join), so the next
/// exchange of the range costs one round trip.
///
/// Tombstones learned from a peer are applied only once verified: the shell fetches each Delete
/// named in ``deleteIDsToVerify`` (wire: `GetDelete`), checks its owner signature, that it names
/// the object and matches the tombstone, then calls `localUpdates(trusting:local:)` with the IDs that
/// passed, or with a check per tombstone. Claims are taken as they come (a store's owner key is not signed either).
public struct RecordReconciliation: Sendable {
    /// The exchange's peer.
    public let peer: NodeID
    /// The Deletes to verify before their tombstones are applied here.
    public let deleteIDsToVerify: Set<Key256>
    /// Records the peer should merge into its own (send with `ShareRecords`): what this node knows
    /// that the peer does not, except records the peer will get with a repair push anyway (stored,
    /// live objects it lacks). At most `limit` (``init(outcome:local:limit:)``); the rest next round.
    public let recordsForPeer: [ObjectRecord]

    /// The peer's version of each record to merge, by ID.
    private let theirs: [ObjectRecord]

    /// Works out the reconciliation of `outcome`.
    /// - Parameters:
    ///   - outcome: a finished exchange.
    ///   - tree: this node's records (for the ranges the peer has nothing in).
    ///   - limit: the most records to list for the peer.
    public init(outcome: ExchangeOutcome, local tree: RecordTree, limit: Int = 10_000) {
        peer = outcome.peer
        var forPeer: [ObjectRecord] = []
        var theirs: [ObjectRecord] = []
        var toVerify: Set<Key256> = []
        func learn(_ peerRecord: ObjectRecord, over local: ObjectRecord?) {
            let known = Set(local?.tombstones.map(\.deleteID) ?? [])
            let merged = local.map { $0.merged(with: peerRecord) } ?? peerRecord.storing(false)
            for t in merged.tombstones where !known.contains(t.deleteID) { toVerify.insert(t.deleteID) }
            if merged != local { theirs.append(peerRecord) }
        }
        /// Whether a record this node has and the peer lacks reaches it by a push (bytes and record).
        func travelsByPush(_ record: ObjectRecord) -> Bool { record.isStored && !record.isDeleted }
        for record in outcome.weLack { learn(record, over: nil) }
        for d in outcome.differing {
            learn(d.peer, over: d.local)
            let merged = d.local.merged(with: d.peer)
            if !merged.hasSameOwnerEntries(as: d.peer) || merged.kind != d.peer.kind, forPeer.count < limit {
                forPeer.append(merged)
            }
        }
        for record in outcome.peerLacks where !travelsByPush(record) && forPeer.count < limit { forPeer.append(record) }
        for range in outcome.peerLacksRanges where forPeer.count < limit {
            tree.forEachRecord(in: range) { record in
                if !travelsByPush(record), forPeer.count < limit { forPeer.append(record) }
            }
        }
        self.recordsForPeer = forPeer
        self.theirs = theirs
        self.deleteIDsToVerify = toVerify
    }

    /// The merged records to store here (``RecordTree/upsert(_:)`` and the metadata store), with
    /// only the learned tombstones whose Delete was verified. A record this node had no copy of
    /// is stored as metadata only (``ObjectRecord/isStored`` false).
    /// - Parameters:
    ///   - verified: delete IDs whose Delete passed verification.
    ///   - tree: this node's records now (records may have changed since the exchange).
    public func localUpdates(trusting verified: Set<Key256>, local tree: RecordTree) -> [ObjectRecord] {
        localUpdates(trusting: { verified.contains($1.deleteID) }, local: tree)
    }

    /// The merged records to store here, like `localUpdates(trusting:local:)` with delete IDs, with
    /// each learned tombstone judged on its own: `isTrusted(object, tombstone)` says whether its
    /// verified Delete lists that object and matches the tombstone's owner and time (a Delete
    /// that verifies does not make every tombstone naming it true).
    /// - Parameters:
    ///   - isTrusted: whether a learned tombstone of an object may be applied.
    ///   - tree: this node's records now.
    public func localUpdates(
        trusting isTrusted: (ContentID, Tombstone) -> Bool, local tree: RecordTree
    ) -> [ObjectRecord] {
        theirs.compactMap { peerRecord in
            let local = tree.record(peerRecord.id)
            let known = Set(local?.tombstones.map(\.deleteID) ?? [])
            let trusted = ObjectRecord(
                id: peerRecord.id, kind: peerRecord.kind, isStored: false, claims: peerRecord.claims,
                tombstones: peerRecord.tombstones.filter { known.contains($0.deleteID) || isTrusted(peerRecord.id, $0) }
            )
            let merged = local.map { $0.merged(with: trusted) } ?? trusted
            return merged == local || merged.isEmpty ? nil : merged
        }
    }
}
