import Foundation
import Logging
import ShoalCore
import ShoalRepair
import ShoalStore
import ShoalTransport
import ShoalWire

/// Planning and performing repair: pushes, drops and the freeing of deleted content, and the
/// hand-off before a graceful leave.
extension RepairShell {
    /// One repair pass over the inventory, page by page: the planner, fed each replica's record,
    /// pin and the holder evidence, decides; the directives are performed under the bandwidth bound.
    func repair(live: [Contact]) async {
        let map = ResponsibilityMap(nodes: live.map(\.id) + [local.id], replicas: settings.replicas)
        let contacts = Dictionary((live + [local]).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var totals = RoundTotals()
        var pacing = Pacing(bandwidth: settings.bandwidth, started: clock.now)
        await forEachInventoryPage { inventory in
            let plan = planner.plan(inventory: inventory, now: clock.now, evidence: evidence) { id in
                (map.holders(of: id) ?? []).compactMap { contacts[$0] }
            }
            totals.add(plan)
            await perform(plan, pacing: &pacing)
        }
        statistics.finishRound(totals, inFlight: planner.inFlightCount)
        if totals.pushed > 0 || totals.dropped > 0 || totals.discarded > 0 {
            logger.info(
                "repair round",
                metadata: [
                    "pushed": "\(totals.pushed)", "dropped": "\(totals.dropped)",
                    "discarded": "\(totals.discarded)", "backlog": "\(totals.backlog)",
                    "awaiting.evidence": "\(totals.awaitingEvidence)",
                ])
        }
    }

    /// Pushes every object to its next closest nodes before this node leaves. Stops the rounds.
    /// - Returns: objects pushed.
    func handOffAll(deadline: Duration = .seconds(60)) async -> Int {
        phase = .leaving
        let started = clock.now
        let live = await liveContacts()
        let map = ResponsibilityMap(nodes: live.map(\.id), replicas: settings.replicas)
        let contacts = Dictionary(live.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var pushed = 0
        // Bounded: at most 20 passes, and the deadline.
        for _ in 0..<20 {
            guard clock.now - started < deadline else { break }
            var totals = RoundTotals()
            var pacing = Pacing(bandwidth: settings.bandwidth, started: clock.now)
            await forEachInventoryPage { inventory in
                let plan = planner.leavePlan(inventory: inventory, now: clock.now, evidence: evidence) { id in
                    (map.holders(of: id) ?? []).compactMap { contacts[$0] }
                }
                totals.add(plan)
                await perform(plan, pacing: &pacing)
            }
            pushed += totals.pushed
            if totals.backlog == 0 { break }
        }
        return pushed
    }

    /// Calls `body` with the stored replicas, 1024 at a time, each with its record and pin.
    private func forEachInventoryPage(_ body: ([InventoryEntry]) async -> Void) async {
        await drainChanges()
        let pinned = (try? await objects.metadata.pinnedObjects()) ?? []
        var cursor: ContentID?
        // Bounded: each page advances the cursor through finitely many objects.
        while true {
            guard let page = try? await objects.metadata.objects(in: [.replica], after: cursor, limit: 1024),
                let last = page.last
            else { break }
            cursor = last.id
            let inventory = page.compactMap { held -> InventoryEntry? in
                guard !pending.contains(held.id), let record = tree.record(held.id), record.isStored else { return nil }
                return InventoryEntry(
                    record: record, size: Int(clamping: held.size), isPinned: pinned.contains(held.id))
            }
            if !inventory.isEmpty { await body(inventory) }
        }
    }

    /// Performs one plan's directives, in order.
    private func perform(_ plan: RepairPlan, pacing: inout Pacing) async {
        for directive in plan.directives {
            switch directive {
            case .push(let push):
                await pacing.wait(clock: clock)
                let stored = await send(push)
                planner.onPushFinished(push.object, to: push.target.id)
                pacing.sent(push.size)
                if stored {
                    evidence.noteStored(push.object, on: push.target.id)
                    statistics.pushed += 1
                }
            case .drop(let id):
                do {
                    if try await objects.drop(id) { statistics.dropped += 1 }
                } catch {
                    logger.warning(
                        "could not drop a handed-off copy", metadata: ["chunk.id": "\(id.short)", "error": "\(error)"])
                }
            case .discard(let id):
                do {
                    if try await objects.discard(id) { statistics.discarded += 1 }
                } catch {
                    logger.warning(
                        "could not free the bytes of deleted content",
                        metadata: ["chunk.id": "\(id.short)", "error": "\(error)"])
                }
            }
        }
        await drainChanges()
    }

    /// Sends one copy with its record: every owner's claim, the tombstones, the kind.
    /// - Returns: whether the target stored it.
    private func send(_ push: RepairPush) async -> Bool {
        do {
            guard let bytes = try await objects.get(push.object) else { return false }
            // A peer that predates claims reads the first owner from `owner_key`.
            let firstOwner = push.claims.first { !$0.owner.isAnonymous }?.owner.key ?? []
            let store = StoreChunk(
                id: push.object, data: bytes, kind: push.kind, root: .zero, ownerKey: Data(firstOwner),
                force: true, claims: push.claims, tombstones: push.tombstones)
            let response = try await transport.request(.storeChunk(store), to: push.target, timeout: .seconds(30))
            if case .storeAck(let ack) = response, ack.stored { return true }
            return false
        } catch {
            logger.debug(
                "repair push failed",
                metadata: [
                    "chunk.id": "\(push.object.short)", "peer.id": "\(push.target.id.short)",
                    "error": "\(error)",
                ])
            return false
        }
    }

    /// Forgets records without bytes (claims learned from peers) in ranges this node is no longer
    /// responsible for, once every responsible node was compared with since: they keep them.
    /// Records with tombstones stay until the tombstones expire.
    func forgetRecordsHandedOff(live: [Contact]) async {
        let map = ResponsibilityMap(nodes: live.map(\.id) + [local.id], replicas: settings.replicas)
        var stale: [ContentID] = []
        for responsible in map.ranges
        where !responsible.holders.contains(local.id) && tree.recordCount(in: responsible.range) > 0 {
            tree.forEachRecord(in: responsible.range) { record in
                guard !record.isStored, record.tombstones.isEmpty, stale.count < 4096 else { return }
                if responsible.holders.allSatisfy({ evidence.holds(record.id, on: $0) != nil }) {
                    stale.append(record.id)
                }
            }
        }
        guard !stale.isEmpty else { return }
        for id in stale { _ = try? await objects.forgetRecordWithoutBytes(id) }
        await drainChanges()
    }
}

/// Keeps pushes at or below a byte rate.
struct Pacing {
    let bandwidth: UInt64
    let started: Timestamp
    private(set) var bytes: UInt64 = 0

    init(bandwidth: UInt64, started: Timestamp) {
        self.bandwidth = max(bandwidth, 1 << 20)
        self.started = started
    }

    /// Waits until the bytes sent so far are within the rate.
    func wait(clock: NodeClock) async {
        let budget = Duration.nanoseconds(Int64(Double(bytes) / Double(bandwidth) * 1e9))
        let elapsed = clock.now - started
        if budget > elapsed { try? await clock.sleep(for: budget - elapsed) }
    }

    mutating func sent(_ size: Int) { bytes += UInt64(max(0, size)) }
}

/// What one repair pass planned, over all its pages.
struct RoundTotals: Sendable {
    var backlog = 0
    var backlogBytes = 0
    var awaitingEvidence = 0
    var pushed = 0
    var dropped = 0
    var discarded = 0

    mutating func add(_ plan: RepairPlan) {
        backlog += plan.backlog
        backlogBytes += plan.backlogBytes
        awaitingEvidence += plan.awaitingEvidence
        pushed += plan.objectPushes.count
        dropped += plan.handedOff.count
        discarded += plan.discarded.count
    }
}
