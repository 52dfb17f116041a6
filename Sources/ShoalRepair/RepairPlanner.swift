import ShoalCore

/// Decides, object by object, how this node keeps every object it holds on the object's `r`
/// closest live nodes (Kademlia placement), within a bandwidth budget.
///
/// For each object that is not tombstoned, with `R` the `r` nodes of its placement closest to it
/// by XOR distance and `H` the nodes confirmed to hold it:
/// - **This node is in `R`**: it pushes the object to every node of `R` outside `H`, unless a
///   node of `R ∩ H` is closer to the object than this node; that node is responsible, which
///   keeps the replicas from all pushing the same copy.
/// - **This node is not in `R`** (closer nodes joined): it hands the object off, pushing it to
///   every node of `R` outside `H`. Once all `r` nodes of `R` are in `H` it drops its copy,
///   unless the object is pinned.
/// - **Tombstoned** objects are never pushed nor dropped: repair never brings deleted content back.
///
/// Pushes go out most endangered object first (fewest confirmed replicas). At most
/// ``RepairLimits/maximumPushes`` pushes and ``RepairLimits/maximumBytes`` bytes are outstanding at
/// once; the rest is reported as backlog and planned again next round. An emitted push is not
/// emitted again until it is reported finished (``onPushFinished(_:to:)``) or its
/// ``RepairLimits/pushTimeout`` has passed.
///
/// The planner performs no I/O: the shell runs a round on membership changes and on a timer,
/// supplying the inventory and placements, and performs the actions.
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
    ///   - inventory: the objects this node holds.
    ///   - now: the current time (expires in-flight pushes).
    ///   - placement: the current placement of an object; called once per non-tombstoned object.
    /// - Returns: pushes (most endangered first) then drops, with the backlog left by the limits.
    public mutating func plan(
        inventory: some Sequence<InventoryEntry>,
        now: Timestamp,
        placement: (ContentID) -> ObjectPlacement
    ) -> RepairPlan {
        expire(now: now)
        var candidates: [PushCandidate] = []
        var drops: [RepairAction] = []
        for entry in inventory where !entry.isTombstoned {
            let placed = placement(entry.id)
            let nearest = closest(to: entry.id, in: placed.closest)
            let confirmed = nearest.filter { $0.id != localID && placed.holders.contains($0.id) }
            let lacking = nearest.filter { $0.id != localID && !placed.holders.contains($0.id) }
            if nearest.contains(where: { $0.id == localID }) {
                let someoneCloserHolds = confirmed.contains { entry.id.isCloser($0.id, than: localID) }
                guard !someoneCloserHolds else { continue }
                candidates += lacking.map {
                    PushCandidate(object: entry.id, size: entry.size, target: $0, confirmedReplicas: confirmed.count)
                }
            } else if lacking.isEmpty {
                if nearest.count >= replicas, !entry.isPinned { drops.append(.drop(entry.id)) }
            } else {
                candidates += lacking.map {
                    PushCandidate(object: entry.id, size: entry.size, target: $0, confirmedReplicas: confirmed.count)
                }
            }
        }
        var result = schedule(candidates, now: now)
        result.actions += drops
        return result
    }

    /// Plans the hand-off of a node that is leaving: every object that is not tombstoned goes to
    /// its `r` closest nodes other than this one that are not known to hold it. Nothing is
    /// dropped. Call it repeatedly (reporting finished pushes) until the backlog is empty.
    /// - Parameters:
    ///   - inventory: the objects this node holds.
    ///   - now: the current time (expires in-flight pushes).
    ///   - placement: the current placement of an object; should list `r + 1` nodes when this
    ///     node is among them.
    /// - Returns: pushes, most endangered first, with the backlog left by the limits.
    public mutating func leavePlan(
        inventory: some Sequence<InventoryEntry>,
        now: Timestamp,
        placement: (ContentID) -> ObjectPlacement
    ) -> RepairPlan {
        expire(now: now)
        var candidates: [PushCandidate] = []
        for entry in inventory where !entry.isTombstoned {
            let placed = placement(entry.id)
            let successors = closest(to: entry.id, in: placed.closest.filter { $0.id != localID })
            let confirmed = successors.filter { placed.holders.contains($0.id) }.count
            for target in successors where !placed.holders.contains(target.id) {
                candidates.append(
                    PushCandidate(object: entry.id, size: entry.size, target: target, confirmedReplicas: confirmed))
            }
        }
        return schedule(candidates, now: now)
    }

    /// A push ended, successfully or not; its object may be planned again for that node.
    ///
    /// On success, the shell should also count `node` among the object's holders from now on.
    /// - Parameters:
    ///   - object: the pushed object.
    ///   - node: the node it was pushed to.
    public mutating func onPushFinished(_ object: ContentID, to node: NodeID) {
        inFlight[InFlightPush.Key(object: object, target: node)] = nil
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
                plan.actions.append(.push(candidate.object, to: candidate.target))
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
