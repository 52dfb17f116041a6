import ShoalCore

/// Decides, object by object, how this node keeps every object it holds on the object's `r`
/// closest live nodes (Kademlia placement), within a bandwidth budget.
///
/// For each object this node stores, with `R` the `r` nodes of its placement closest to it by XOR
/// distance and, for each node of `R`, the evidence of whether it holds the object (anti-entropy
/// exchanges, ``HolderEvidence``: holds, lacks, or unknown):
/// - **Deleted** (``ObjectRecord/isDeleted``: a tombstone from every owner, no claim left): never
///   pushed; its bytes here are freed (``RepairDirective/discard(_:)``). An object another owner
///   still claims is not deleted and is repaired like any other, its push carrying the remaining
///   claims and the tombstones.
/// - **This node is in `R`**: it pushes the object to every node of `R` known to lack it, unless a
///   node of `R` known to hold it is closer to the object than this node; that node is
///   responsible, which keeps the replicas from all pushing the same copy.
/// - **This node is not in `R`** (closer nodes joined): it hands the object off, pushing it to
///   every node of `R` known to lack it. Once all `r` nodes of `R` are known to hold it, it drops
///   its copy (``RepairDirective/drop(_:)``), unless the object is pinned.
/// - A node of `R` whose holding is unknown (no exchange has covered the object yet) is neither
///   pushed to nor counted as a replica; the object counts in ``RepairPlan/awaitingEvidence``.
///
/// Pushes carry the object's record (``RepairPush``): its kind, every owner's claim, its
/// tombstones. They go out most endangered object first (fewest known replicas). At most
/// ``RepairLimits/maximumPushes`` pushes and ``RepairLimits/maximumBytes`` bytes are outstanding
/// at once; the rest is reported as backlog and planned again next round. An emitted push is not
/// emitted again until it is reported finished (``onPushFinished(_:to:)``) or its
/// ``RepairLimits/pushTimeout`` has passed.
///
/// The planner performs no I/O: the shell runs a round on membership changes, after exchanges and
/// on a timer, supplying the inventory, placements and evidence, and performs the directives.
public struct RepairPlanner: Sendable {
    /// This node.
    public let localID: NodeID
    /// The replication factor `r`.
    public let replicas: Int
    /// Bandwidth bounds.
    public let limits: RepairLimits

    private var inFlight: [InFlightPush.Key: InFlightPush] = [:]

    /// Creates a planner.
    /// - Parameters:
    ///   - localID: this node's ID.
    ///   - replicas: `r`, at least 1.
    ///   - limits: bandwidth bounds.
    public init(localID: NodeID, replicas: Int = 3, limits: RepairLimits = RepairLimits()) {
        self.localID = localID
        self.replicas = max(1, replicas)
        self.limits = limits
    }

    /// Pushes emitted and not yet finished or timed out.
    public var inFlightCount: Int { inFlight.count }

    /// Plans one repair round.
    /// - Parameters:
    ///   - inventory: the objects this node stores (cached copies excluded), with their records.
    ///   - now: the current time (expires in-flight pushes).
    ///   - evidence: who holds what, from anti-entropy exchanges and acknowledged pushes.
    ///   - closest: the live nodes closest to an object by XOR distance, this node included if it
    ///     is among them; at least the `r` closest (``ResponsibilityMap/holders(of:)`` gives them
    ///     without a lookup). Called once per object that is not deleted.
    /// - Returns: pushes (most endangered first), then drops, then discards, with the backlog.
    public mutating func plan(
        inventory: some Sequence<InventoryEntry>,
        now: Timestamp,
        evidence: HolderEvidence,
        closest: (ContentID) -> [Contact]
    ) -> RepairPlan {
        plan(inventory: inventory, now: now, freeDeleted: true, closest: closest) { evidence.holds($0, on: $1) }
    }

    /// Plans the hand-off of a node that is leaving: every object that is not deleted goes to its
    /// `r` closest nodes other than this one, except those known to hold it (unknown counts as
    /// lacking: there is no time to wait for evidence, and a store of a held object is harmless).
    /// Nothing is dropped. Call it repeatedly (reporting finished pushes) until the backlog is empty.
    /// - Parameters:
    ///   - inventory: the objects this node stores.
    ///   - now: the current time (expires in-flight pushes).
    ///   - evidence: who holds what.
    ///   - closest: the live nodes closest to an object; should list `r + 1` when this node is
    ///     among them.
    /// - Returns: pushes, most endangered first, with the backlog.
    public mutating func leavePlan(
        inventory: some Sequence<InventoryEntry>,
        now: Timestamp,
        evidence: HolderEvidence,
        closest: (ContentID) -> [Contact]
    ) -> RepairPlan {
        leavePlan(inventory: inventory, now: now, closest: closest) { evidence.holds($0, on: $1) ?? false }
    }

    /// A push ended, successfully or not; its object may be planned again for that node.
    ///
    /// On success, the shell should also note `node` as a holder (``HolderEvidence/noteStored(_:on:)``).
    /// - Parameters:
    ///   - object: the pushed object.
    ///   - node: the node it was pushed to.
    public mutating func onPushFinished(_ object: ContentID, to node: NodeID) {
        inFlight[InFlightPush.Key(object: object, target: node)] = nil
    }

    // MARK: Rules

    /// The round, with holders told by `holds` (`nil`: unknown).
    mutating func plan(
        inventory: some Sequence<InventoryEntry>, now: Timestamp, freeDeleted: Bool,
        closest: (ContentID) -> [Contact], holds: (ContentID, NodeID) -> Bool?
    ) -> RepairPlan {
        expire(now: now)
        var candidates: [PushCandidate] = []
        var drops: [RepairDirective] = []
        var discards: [RepairDirective] = []
        var awaiting = 0
        for entry in inventory {
            if entry.isDeleted {
                if freeDeleted { discards.append(.discard(entry.id)) }
                continue
            }
            let nearest = self.closest(to: entry.id, in: closest(entry.id))
            var confirmed: [Contact] = []
            var lacking: [Contact] = []
            var unknown = 0
            for node in nearest where node.id != localID {
                switch holds(entry.id, node.id) {
                case true?: confirmed.append(node)
                case false?: lacking.append(node)
                case nil: unknown += 1
                }
            }
            if unknown > 0 { awaiting += 1 }
            let push = lacking.map {
                PushCandidate(record: entry.record, size: entry.size, target: $0, confirmedReplicas: confirmed.count)
            }
            if nearest.contains(where: { $0.id == localID }) {
                let someoneCloserHolds = confirmed.contains { entry.id.isCloser($0.id, than: localID) }
                if !someoneCloserHolds { candidates += push }
            } else if lacking.isEmpty, unknown == 0 {
                if nearest.count >= replicas, !entry.isPinned { drops.append(.drop(entry.id)) }
            } else {
                candidates += push
            }
        }
        var result = schedule(candidates, now: now)
        result.directives += drops + discards
        result.awaitingEvidence = awaiting
        return result
    }

    /// The hand-off, with holders told by `holds`.
    mutating func leavePlan(
        inventory: some Sequence<InventoryEntry>, now: Timestamp,
        closest: (ContentID) -> [Contact], holds: (ContentID, NodeID) -> Bool
    ) -> RepairPlan {
        expire(now: now)
        var candidates: [PushCandidate] = []
        for entry in inventory where !entry.isDeleted {
            let successors = self.closest(to: entry.id, in: closest(entry.id).filter { $0.id != localID })
            let confirmed = successors.filter { holds(entry.id, $0.id) }.count
            for target in successors where !holds(entry.id, target.id) {
                candidates.append(
                    PushCandidate(record: entry.record, size: entry.size, target: target, confirmedReplicas: confirmed))
            }
        }
        return schedule(candidates, now: now)
    }

    // MARK: Internals

    /// The `r` nodes of `candidates` closest to `id`, closest first, without duplicates.
    private func closest(to id: ContentID, in candidates: [Contact]) -> [Contact] {
        var seen: Set<NodeID> = []
        let unique = candidates.filter { seen.insert($0.id).inserted }
        return Array(unique.sorted { id.isCloser($0.id, than: $1.id) }.prefix(replicas))
    }

    private mutating func expire(now: Timestamp) {
        inFlight = inFlight.filter { $0.value.expiresAt > now }
    }

    /// Emits candidates in priority order within the limits, counting what is already in flight.
    private mutating func schedule(_ candidates: [PushCandidate], now: Timestamp) -> RepairPlan {
        var plan = RepairPlan()
        var pushes = inFlight.count
        var bytes = inFlight.values.reduce(0) { $0 + $1.size }
        for candidate in candidates.sorted(by: PushCandidate.precedes) {
            let key = InFlightPush.Key(object: candidate.object, target: candidate.target.id)
            guard inFlight[key] == nil else { continue }
            let fits = pushes < limits.maximumPushes && (pushes == 0 || bytes + candidate.size <= limits.maximumBytes)
            if fits {
                plan.directives.append(
                    .push(RepairPush(record: candidate.record, size: candidate.size, target: candidate.target)))
                inFlight[key] = InFlightPush(size: candidate.size, expiresAt: now + limits.pushTimeout)
                pushes += 1
                bytes += candidate.size
            } else {
                plan.backlog += 1
                plan.backlogBytes += candidate.size
            }
        }
        plan.inFlight = inFlight.count
        return plan
    }
}
