import Logging
import ShoalCore
import ShoalRepair
import ShoalStore
import ShoalTransport
import ShoalWire

/// The responder's side: answering a peer's exchange from the tree, and merging the records a
/// peer shares. Neither keeps state between requests.
extension RepairShell {
    /// Answers one exchange request (`AntiEntropyRequest`) within this node's limits, first moving
    /// to the requester's horizon when it is ahead and the policy accepts it.
    /// - Returns: the answer and this node's horizon.
    func answer(_ request: ExchangeRequest) async -> (ExchangeAnswer, TombstoneHorizon) {
        guard phase != .loading else {
            return (.refused("this node is still loading its records; ask again later"), tree.horizon)
        }
        await drainChanges()
        let before = tree.horizon
        let (answer, expired) = tree.answer(
            request, limits: settings.exchangeLimits, policy: settings.policy, now: clock.wallNow)
        statistics.answered += 1
        if tree.horizon > before {
            statistics.tombstonesExpired += expired
            try? await objects.expireTombstones(before: tree.horizon.cutoff)
        }
        return (answer, tree.horizon)
    }

    /// Merges records a peer shares (`ShareRecords`): its claims, and its tombstones whose signed
    /// Delete this node keeps or fetches from the peer and verifies. Quarantined objects are left
    /// to their exchange.
    /// - Returns: how many records changed here.
    func absorbShared(_ records: [ObjectRecord], from peer: Contact) async -> Int {
        guard phase == .running else { return 0 }
        await drainChanges()
        let candidates = records.filter { !quarantined.contains($0.id) }
        var needed: Set<Key256> = []
        for record in candidates {
            let known = Set(tree.record(record.id)?.tombstones.map(\.deleteID) ?? [])
            for t in record.tombstones where !known.contains(t.deleteID) { needed.insert(t.deleteID) }
        }
        let (deletes, fetched) = await verifiedDeletes(needed, from: peer)
        await drainChanges()
        var changed: [MetadataRecord] = []
        for record in candidates {
            let local = tree.record(record.id)
            let known = Set(local?.tombstones.map(\.deleteID) ?? [])
            let trusted = ObjectRecord(
                id: record.id, kind: record.kind, isStored: false, claims: record.claims,
                tombstones: record.tombstones.filter { t in
                    known.contains(t.deleteID)
                        || deletes[t.deleteID].map { DeletePolicy.delete($0, madeTombstone: t, of: record.id) } == true
                })
            let merged = local.map { $0.merged(with: trusted) } ?? trusted
            if merged != local, !merged.isEmpty, isWorthKeeping(merged) { changed.append(MetadataRecord(trusted)) }
        }
        do {
            try await objects.mergeRecords(changed, deletes: fetched)
        } catch {
            logger.warning(
                "could not merge shared records", metadata: ["peer.id": "\(peer.id.short)", "error": "\(error)"])
            return 0
        }
        statistics.recordsLearned += changed.count
        await drainChanges()
        return changed.count
    }
}
