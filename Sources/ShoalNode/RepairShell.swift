import Foundation
import Logging
import ShoalCore
import ShoalRepair
import ShoalStore
import ShoalTransport
import ShoalWire

/// Keeps every object this node holds on its `r` closest live nodes, at a cost that follows what
/// changed rather than what is held: the shell around ShoalRepair's pure pieces.
///
/// It owns the in-memory ``RecordTree`` of this node's records (kept in step with the metadata
/// store: every store, Delete, drop and learned record reaches it), the ``ExchangeScheduler``, the
/// ``HolderEvidence`` and the ``RepairPlanner``. Each round, on a timer and soon after membership
/// changes, it
/// 1. moves the tombstone horizon (``TombstonePolicy``): tombstones past the grace bound expire, in
///    the tree and in the store alike;
/// 2. runs the exchanges the scheduler plans with the neighbours it shares key ranges with
///    (``ExchangeSession`` over the wire, `AntiEntropyRequest`), absorbs each outcome as holder
///    evidence, and reconciles the records: tombstones learned are applied once their signed
///    Delete was fetched (`GetDelete`) and verified, records the peer lacks are sent to it
///    (`ShareRecords`), and quarantined objects are settled;
/// 3. plans repair from the records, pins and evidence: pushes (every owner's claim, the
///    tombstones and the kind travel with the bytes) under a bandwidth bound, drops of handed-off
///    copies, and the freeing of deleted content.
///
/// It answers peers' exchanges from the same tree (``answer(_:)``), without session state.
///
/// After a restart, the replicas the node held are withheld (neither served nor pushed) until an
/// exchange with their other holders has brought any Delete it missed while down; then they are
/// released, or freed if deleted. A node that has not completed an exchange for longer than the
/// policy's rejoin bound quarantines them instead: its claims older than the horizon may belong to
/// Deletes whose tombstones have expired everywhere, so an object is settled only by what its
/// other holders know of it (``TombstonePolicy/mustQuarantine(lastSynchronized:now:)``).
///
/// Everything runs in ``run()``: one loop the node starts, reading the injected clock. Exchanges
/// of one round run concurrently as child tasks of the round.
actor RepairShell {
    /// What the shell is tuned by.
    struct Settings: Sendable {
        var replicas: Int
        /// Time between rounds (rounds also run soon after membership changes).
        var interval: Duration
        /// Bytes per second pushes may send.
        var bandwidth: UInt64
        /// Tombstone grace and horizon epoch; the same on every node.
        var policy: TombstonePolicy
        var exchangeLimits = ExchangeLimits()
        var scheduleLimits = ExchangeScheduleLimits()
        var repairLimits = RepairLimits(maximumPushes: 64, maximumBytes: 64 << 20, pushTimeout: .seconds(60))
        /// Signed Deletes fetched from one peer per reconciliation; the rest wait for the next.
        var maximumDeleteFetches = 64
        /// Records sent in one `ShareRecords`.
        var maximumShareBatch = 1024
        /// How long after start replicas no exchange could check are withheld at most.
        var withholdingLimit: Duration = .seconds(120)
        /// Whether the node joins through bootstrap peers: without any known peer it is then not
        /// alone but not yet joined (nothing is released or counted as in step for having no one
        /// to compare with).
        var joinsPeers = false

        init(replicas: Int, interval: Duration, bandwidth: UInt64, policy: TombstonePolicy) {
            self.replicas = replicas
            self.interval = interval
            self.bandwidth = bandwidth
            self.policy = policy
        }

        /// A node's repair settings.
        init(_ configuration: NodeConfiguration) {
            self.init(
                replicas: configuration.replicas, interval: configuration.repairInterval,
                bandwidth: configuration.repairBandwidth, policy: .scaled(grace: configuration.tombstoneGrace))
            joinsPeers = !configuration.bootstrap.isEmpty
        }
    }

    enum Phase: Sendable {
        /// The tree is being built; exchanges are refused.
        case loading
        case running
        /// Handing off before a graceful stop: no more rounds.
        case leaving
    }

    /// The node-state key of the wall-clock time (ns) this node last knew its records in step with
    /// its co-holders (an exchange completed, or it had none).
    static let lastSynchronizedKey = "repair.last_synchronized"

    let local: Contact
    let settings: Settings
    let transport: Transport
    let dht: DHTShell
    let objects: LocalObjects
    let clock: NodeClock
    let logger: Logger
    var membership: MembershipShell?
    let signal = RoundSignal()

    var phase = Phase.loading
    var tree: RecordTree
    /// Objects held unchecked (quarantined after a long absence, or found on disk without a
    /// record): not in the tree, neither served nor pushed.
    var quarantined = SortedIDs()
    /// Replicas held since before this start, withheld (neither served nor pushed) until an
    /// exchange with their other holders has brought any Delete missed meanwhile.
    var pending = SortedIDs()
    /// When the records were loaded (monotonic).
    var loadedAt: Timestamp?
    var scheduler: ExchangeScheduler
    var evidence = HolderEvidence()
    var planner: RepairPlanner
    /// Whether a drain of changed records is running (one at a time, so none applies stale rows).
    var draining = false
    /// One shared value per owner key, so that records share their keys' storage.
    var owners: [ObjectOwner: ObjectOwner] = [:]
    /// Signed Deletes verified so far, by ID (bounded; cleared when full).
    var verifiedDeletes: [Key256: DeleteRequest] = [:]
    var statistics = RepairStatistics()

    init(
        local: Contact, settings: Settings, transport: Transport, dht: DHTShell, objects: LocalObjects,
        clock: NodeClock,
        logger: Logger
    ) {
        self.local = local
        self.settings = settings
        self.transport = transport
        self.dht = dht
        self.objects = objects
        self.clock = clock
        self.logger = logger
        self.tree = RecordTree(horizon: settings.policy.horizon(at: clock.wallNow))
        self.scheduler = ExchangeScheduler(
            localID: local.id, replicas: settings.replicas, limits: settings.scheduleLimits)
        self.planner = RepairPlanner(localID: local.id, replicas: settings.replicas, limits: settings.repairLimits)
    }

    func attach(membership: MembershipShell) async {
        self.membership = membership
        let signal = self.signal
        await membership.observe { _ in signal.signal() }
    }

    /// Asks for a round soon (membership changed).
    nonisolated func requestRound() {
        signal.signal()
    }

    // MARK: The loop

    /// Builds the tree, then runs rounds every interval and soon after membership changes, until
    /// the task is cancelled.
    func run() async {
        await load()
        while !Task.isCancelled, phase == .running {
            await round()
            await waitForNextRound()
        }
    }

    private func waitForNextRound() async {
        let (clock, interval, signal) = (self.clock, settings.interval, self.signal)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(for: interval) }
            group.addTask { await signal.wait() }
            _ = await group.next()
            group.cancelAll()
        }
        // Let a burst of membership changes settle into one round.
        try? await clock.sleep(for: .milliseconds(200))
    }

    /// One repair round (see the type's description).
    func round() async {
        guard phase == .running else { return }
        let started = clock.now
        await drainChanges()
        await advanceHorizon(to: settings.policy.horizon(at: clock.wallNow))
        let live = await liveContacts()
        let unchecked = quarantined.ascending()
        let planned = scheduler.planRound(
            neighbourhood: live + [local], local: tree, now: clock.now,
            alsoHolding: { !SortedIDs.ids(in: $0, of: unchecked).isEmpty })
        var completed = false
        await withTaskGroup(of: Bool.self) { group in
            for exchange in planned { group.addTask { await self.exchange(exchange) } }
            for await finished in group where finished { completed = true }
        }
        let alone = live.isEmpty && !settings.joinsPeers
        if completed || alone { await noteSynchronized() }
        await drainChanges()
        releaseUnshared(live: live)
        await repair(live: live)
        await forgetRecordsHandedOff(live: live)
        statistics.rounds += 1
        statistics.lastRound = clock.now - started
    }

    /// The live nodes other than this one: alive and suspect members, and the routing table's
    /// contacts membership has not declared dead or departed (while membership spreads, the
    /// routing table often knows an object's closest nodes first; a partial view would push
    /// copies to nodes that are not among them).
    func liveContacts() async -> [Contact] {
        var live: [NodeID: Contact] = [:]
        for member in await membership?.liveMembers ?? [] where member.id != local.id { live[member.id] = member }
        for contact in await dht.allContacts() where contact.id != local.id && live[contact.id] == nil {
            switch await membership?.status(of: contact.id) {
            case .dead?, .left?: continue
            default: live[contact.id] = contact
            }
        }
        return live.values.sorted { $0.id < $1.id }
    }

    /// Records that this node's records were in step with its co-holders now.
    private func noteSynchronized() async {
        let now = clock.wallNow
        statistics.lastSynchronized = now
        try? await objects.metadata.setValue(now.nanoseconds, of: Self.lastSynchronizedKey)
    }

    // MARK: Withheld replicas

    /// Releases withheld replicas that no other live node is responsible for (nobody to ask),
    /// and, past ``Settings/withholdingLimit`` since start, every one left (with a warning).
    private func releaseUnshared(live: [Contact]) {
        guard pending.count > 0 else { return }
        // Not joined yet: every range would look like this node's alone.
        let joining = live.isEmpty && settings.joinsPeers
        let map = ResponsibilityMap(nodes: live.map(\.id) + [local.id], replicas: settings.replicas)
        var released: [ContentID] = []
        let overdue = loadedAt.map { clock.now - $0 > settings.withholdingLimit } ?? false
        for id in pending.ascending()
        where overdue || (!joining && (map.holders(of: id) ?? []).allSatisfy { $0 == local.id }) {
            released.append(id)
        }
        if overdue, !released.isEmpty {
            logger.warning(
                "replicas no exchange could check since start are served again",
                metadata: [
                    "objects": "\(released.count)",
                    "withheld.seconds": "\(settings.withholdingLimit.components.seconds)",
                ])
        }
        release(released)
    }

    /// Serves `ids` again.
    func release(_ ids: [ContentID]) {
        guard !ids.isEmpty else { return }
        for id in ids { pending.remove(id) }
        objects.release(ids)
        statistics.released += ids.count
    }

    // MARK: Horizon

    /// Moves the tree to `horizon` (expiring its tombstones) and forgets the same tombstones, and
    /// the Deletes no tombstone names any more, in the store.
    func advanceHorizon(to horizon: TombstoneHorizon) async {
        guard horizon > tree.horizon else { return }
        let expired = tree.advanceHorizon(to: horizon)
        statistics.tombstonesExpired += expired
        do {
            try await objects.expireTombstones(before: horizon.cutoff)
        } catch {
            logger.warning(
                "could not forget expired tombstones; will retry next round", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Status

    /// What `/v1/status` and `/metrics` report of repair (the records as the store has them now).
    func status() async -> RepairStatus {
        await drainChanges()
        return RepairStatus(
            statistics: statistics, records: tree.count, tombstones: tree.tombstoneCount,
            quarantined: quarantined.count,
            withheld: pending.count, horizon: tree.horizon, policy: settings.policy, loading: phase == .loading)
    }

    /// Objects waiting for a push beyond the last round's limits.
    var backlog: Int { statistics.backlog }
}
