import Logging
import ShoalCore
import ShoalRepair
import ShoalStore
import ShoalTransport
import ShoalWire

/// Running one planned exchange over the wire, and reconciling what it found.
extension RepairShell {
    /// Runs one ``ExchangeSession`` with its peer to the end, one request in flight at a time.
    /// - Returns: whether it completed (an outcome, not a failure).
    func exchange(_ planned: PlannedExchange) async -> Bool {
        var session = ExchangeSession(
            peer: planned.peer, ranges: planned.ranges, horizon: tree.horizon,
            limits: settings.exchangeLimits)
        var directives = session.start(now: clock.now)
        // Bounded: the session sends at most `maximumRequestsPerSession` requests, then ends.
        while let directive = directives.first {
            switch directive {
            case .send(let request, let peer, let deadline):
                let timeout = max(deadline - clock.now, .milliseconds(1))
                do {
                    let response = try await transport.request(
                        .antiEntropyRequest(request), to: peer,
                        requiring: PeerCapability.antiEntropy, timeout: timeout)
                    guard case .antiEntropyAnswer(let answer, _) = response else {
                        directives = session.onFailure("AntiEntropyRequest answered with \(response.name)")
                        continue
                    }
                    directives = session.onAnswer(answer, local: &tree, now: clock.now)
                } catch TransportError.timeout {
                    directives = session.onTimeout(now: clock.now)
                } catch {
                    directives = session.onFailure("\(error)")
                }
            case .finished(let outcome):
                await finished(outcome, with: planned.peer)
                return true
            case .failed(let failure):
                await failed(failure, with: planned.peer)
                return false
            }
        }
        return false
    }

    private func finished(_ outcome: ExchangeOutcome, with peer: Contact) async {
        scheduler.onExchangeFinished(outcome, now: clock.now)
        evidence.absorb(outcome)
        statistics.absorb(outcome)
        await reconcile(outcome, with: peer)
    }

    private func failed(_ failure: ExchangeFailure, with peer: Contact) async {
        scheduler.onExchangeFailed(with: peer.id, failure, now: clock.now)
        statistics.failed(failure)
        logger.debug(
            "exchange failed",
            metadata: [
                "peer.id": "\(peer.id.short)", "failure.code": "\(failure.code)",
                "failure.message": "\(failure.message)",
            ])
        if failure.code == .horizonMismatch, let theirs = failure.peerHorizon, theirs > tree.horizon,
            settings.policy.accepts(theirs, at: clock.wallNow)
        {
            await advanceHorizon(to: theirs)
        }
    }

    // MARK: Reconciliation

    /// Applies what an exchange found: the peer's claims, its tombstones whose Deletes verify,
    /// quarantined objects the peer knows of, and the records the peer lacks sent to it.
    private func reconcile(_ outcome: ExchangeOutcome, with peer: Contact) async {
        await drainChanges()
        let reconciliation = RecordReconciliation(outcome: outcome, local: tree)
        // Quarantined objects are not in the tree: the peer's record of one, if any, is among
        // those this node lacks.
        let unchecked = quarantined.ascending()
        var settling: [ContentID: ObjectRecord?] = [:]
        if !unchecked.isEmpty {
            let theirs = Dictionary(outcome.weLack.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for range in outcome.ranges {
                for id in SortedIDs.ids(in: range, of: unchecked)
                where !outcome.unexplored.contains(where: { $0.contains(id) }) {
                    settling[id] = .some(theirs[id])
                }
            }
        }
        var needed = reconciliation.deleteIDsToVerify
        for case let record? in settling.values { needed.formUnion(record.tombstones.map(\.deleteID)) }
        let (deletes, fetched) = await verifiedDeletes(needed, from: peer)
        let trusted = { (id: ContentID, tombstone: Tombstone) -> Bool in
            deletes[tombstone.deleteID].map { DeletePolicy.delete($0, madeTombstone: tombstone, of: id) } ?? false
        }
        await drainChanges()
        let updates = reconciliation.localUpdates(trusting: trusted, local: tree).filter {
            settling[$0.id] == nil && isWorthKeeping($0)
        }
        do {
            if !updates.isEmpty || !fetched.isEmpty {
                try await objects.mergeRecords(updates.map(MetadataRecord.init), deletes: fetched)
                statistics.recordsLearned += updates.count
            }
            for (id, theirs) in settling {
                guard let theirs else { continue }
                let learned = ObjectRecord(
                    id: id, kind: theirs.kind, isStored: false, claims: theirs.claims,
                    tombstones: theirs.tombstones.filter { trusted(id, $0) })
                guard !learned.isEmpty else { continue }
                if try await objects.settleQuarantined(
                    id, learned: MetadataRecord(learned), cutoff: tree.horizon.cutoff)
                {
                    statistics.settled += 1
                }
            }
        } catch {
            logger.warning(
                "could not record what an exchange learned; the next exchange finds it again",
                metadata: ["peer.id": "\(peer.id.short)", "error": "\(error)"])
        }
        await drainChanges()
        // Deleted content learned now: its bytes go at once (not at the next repair pass).
        for update in updates {
            guard let now = tree.record(update.id), now.isDeleted, now.isStored else { continue }
            if (try? await objects.discard(update.id)) == true { statistics.discarded += 1 }
        }
        // Withheld replicas this exchange covered have every Delete the peer knew of them,
        // unless one of its tombstones could not be verified yet.
        var unverified: Set<ContentID> = []
        for theirs in outcome.weLack + outcome.differing.map(\.peer) {
            let known = Set(tree.record(theirs.id)?.tombstones.map(\.deleteID) ?? [])
            if theirs.tombstones.contains(where: { !known.contains($0.deleteID) && !trusted(theirs.id, $0) }) {
                unverified.insert(theirs.id)
            }
        }
        let withheld = pending.ascending()
        var covered: [ContentID] = []
        for range in outcome.ranges {
            for id in SortedIDs.ids(in: range, of: withheld)
            where !unverified.contains(id) && !outcome.unexplored.contains(where: { $0.contains(id) }) {
                covered.append(id)
            }
        }
        release(covered)
        await drainChanges()
        await share(reconciliation.recordsForPeer, with: peer)
    }

    /// Whether a merged record learned from a peer is kept: one of an object this node has a
    /// record of, or one with a verified tombstone (a Delete this node must know before it is
    /// pushed the object). Claims alone for an object this node knows nothing of are not kept:
    /// they come with the object's bytes when it is pushed here, and a peer could otherwise fill
    /// the store with claims for objects that do not exist. Nor is a record grown past the bound
    /// of owner entries that peers accept in one record.
    func isWorthKeeping(_ merged: ObjectRecord) -> Bool {
        guard merged.ownerEntryCount <= settings.exchangeLimits.maximumOwnerEntriesPerRecord else {
            statistics.recordsRefused += 1
            return false
        }
        if tree.record(merged.id) != nil || !merged.tombstones.isEmpty { return true }
        statistics.recordsRefused += 1
        return false
    }

    /// Sends `records` to `peer` to merge, in bounded batches.
    private func share(_ records: [ObjectRecord], with peer: Contact) async {
        var start = 0
        // Bounded: each batch advances through the (bounded) list.
        while start < records.count {
            var end = start
            var bytes = 0
            while end < records.count, end - start < settings.maximumShareBatch {
                let size = ExchangeWireSize.record(records[end]) + 4
                if end > start, bytes + size > settings.exchangeLimits.maximumAnswerBytes { break }
                bytes += size
                end += 1
            }
            do {
                _ = try await transport.request(
                    .shareRecords(Array(records[start..<end])), to: peer,
                    requiring: PeerCapability.antiEntropy, timeout: settings.exchangeLimits.requestTimeout)
                statistics.recordsShared += end - start
            } catch {
                logger.debug("could not share records", metadata: ["peer.id": "\(peer.id.short)", "error": "\(error)"])
                return
            }
            start = end
        }
    }

    // MARK: Deletes

    /// The signed Deletes of `ids` that verify: kept here already, or fetched from `peer` (at
    /// most ``Settings/maximumDeleteFetches``; the rest wait for the next exchange).
    /// - Returns: the verified Deletes by ID, and the canonical bytes of those fetched now (to keep).
    func verifiedDeletes(_ ids: Set<Key256>, from peer: Contact) async -> ([Key256: DeleteRequest], [Key256: [UInt8]]) {
        var out: [Key256: DeleteRequest] = [:]
        var fetched: [Key256: [UInt8]] = [:]
        var missing: [Key256] = []
        for id in ids.sorted() {
            if let known = verifiedDeletes[id] {
                out[id] = known
            } else if let bytes = try? await objects.metadata.signedDelete(id),
                let delete = DeletePolicy.verifySigned(bytes, id: id)
            {
                remember(delete, as: id)
                out[id] = delete
            } else if id != .zero {
                missing.append(id)
            }
        }
        for id in missing.prefix(settings.maximumDeleteFetches) {
            guard
                case .signedDelete(let bytes)? = try? await transport.request(
                    .getDelete(id), to: peer, requiring: PeerCapability.antiEntropy,
                    timeout: settings.exchangeLimits.requestTimeout)
            else {
                statistics.deleteFetchFailures += 1
                continue
            }
            guard let delete = DeletePolicy.verifySigned(bytes, id: id) else {
                statistics.tombstonesRefused += 1
                logger.info(
                    "a peer's Delete does not verify; its tombstones are not applied",
                    metadata: ["peer.id": "\(peer.id.short)", "delete.id": "\(id.short)"])
                continue
            }
            statistics.deletesVerified += 1
            remember(delete, as: id)
            out[id] = delete
            fetched[id] = bytes
        }
        return (out, fetched)
    }

    private func remember(_ delete: DeleteRequest, as id: Key256) {
        if verifiedDeletes.count >= 4096 { verifiedDeletes = [:] }
        verifiedDeletes[id] = delete
    }

    /// The tombstones of `tombstones` on `id` whose signed Delete this node keeps and that match
    /// it (for a push's tombstones; the others are learned by the next exchange).
    func knownTombstones(_ tombstones: [Tombstone], of id: ContentID) async -> [Tombstone] {
        var out: [Tombstone] = []
        for t in tombstones {
            var delete = verifiedDeletes[t.deleteID]
            if delete == nil, let bytes = try? await objects.metadata.signedDelete(t.deleteID) {
                delete = DeletePolicy.verifySigned(bytes, id: t.deleteID)
                if let delete { remember(delete, as: t.deleteID) }
            }
            if let delete, DeletePolicy.delete(delete, madeTombstone: t, of: id) { out.append(t) }
        }
        return out
    }
}
