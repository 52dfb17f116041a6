import DequeModule
import ShoalCore

/// One node's view of cluster membership, maintained with SWIM and Lifeguard's refinements.
///
/// ## Algorithm
///
/// SWIM (Das, Gupta, Motivala: *SWIM: Scalable Weakly-consistent Infection-style Process Group
/// Membership Protocol*, DSN 2002) separates failure detection from dissemination:
///
/// - **Failure detection.** Every protocol period (``SWIMSettings/probeInterval``) this node
///   probes one member, in a randomised round robin (``ProbeOrder``). Without an ack within
///   ``SWIMSettings/probeTimeout`` it asks ``SWIMSettings/indirectProbeCount`` other members to
///   probe the target on its behalf (probe request); they answer ack or, per Lifeguard, nack.
///   Without any ack by the end of the period the target becomes *suspect*.
/// - **Suspicion.** A suspect is not yet dead: when it hears that it is suspected it raises its
///   own incarnation number and gossips `alive` at the new incarnation, which overrides the
///   suspicion everywhere. A suspicion not refuted in time becomes `dead`, and that is final for
///   the incarnation: only a higher incarnation brings the member back.
/// - **Dissemination.** Membership changes are piggybacked on probes, probe requests, acks and
///   nacks (at most ``SWIMSettings/maximumUpdatesPerMessage`` per message), least-transmitted
///   first, each about `λ · log(n)` times, which spreads it to all members in `O(log n)` periods
///   with high probability. At most ``SWIMSettings/maximumPendingUpdates`` wait.
///
/// Lifeguard (Dadgar, Phillips, Currey: *Lifeguard: Local Health Awareness for More Accurate
/// Failure Detection*, DSN Workshops 2018) keeps slow members from accusing healthy ones:
///
/// - the **local health multiplier** (``LocalHealth``) stretches this node's probe period, probe
///   timeout and suspicion timeouts while it sees evidence of its own slowness;
/// - the **dynamic suspicion timeout** (``SuspicionTimeout``) starts long and shrinks as
///   independent *accusers* confirm the suspicion (``MemberUpdate/accuser``);
/// - a **starved** node, whose ticks come late, suspects no one and declares no one dead until it
///   has caught up (``SWIMSettings/starvationThreshold``);
/// - the **buddy system**: a probe of a suspect, direct or through a helper, tells it that it is
///   suspected, and so does the fan-out of the suspicion, so it can refute at once.
///
/// News this node originated (its suspicions, the deaths it accused, its refutations) or heard
/// first-hand (a member's own refutation) is also **fanned out** at once to a few members
/// (``SWIMDirective/sendFanOut(to:updates:timeout:)``), at most
/// ``SWIMSettings/fanOutMessagesPerPeriod`` messages per period and once per update.
///
/// **Members are verified before they count.** A peer heard of through gossip, or one that
/// introduced itself by sending a message (its listen address only claimed), is an
/// ``UnverifiedMember`` until the shell reports that it answered over TLS at its listed address
/// under its node ID (``SWIMDirective/verifyMember(_:updates:timeout:)``), or a verified member
/// probed it on this node's behalf. Unverified peers are not gossiped, not probed, not reported
/// with `.memberChanged`, and do not count towards `n`; they are capped per informer and in
/// total, and forgotten after ``SWIMSettings/unverifiedLifetime``. Gossip from unverified peers
/// counts only about themselves. Informers whose claims keep failing verification are ignored
/// for a while and, repeatedly, disconnected.
///
/// Dead and departed members become ``SWIMTombstone``s that reject every update at or below
/// their incarnation, so stale gossip cannot revive them. After a partition, the membership
/// exchange with a bootstrap peer (``onExchange(with:now:using:)``) tells each side what the
/// other believes of it, so both refute and merge.
///
/// ## Driving an instance
///
/// The instance performs no I/O and reads no clock. The shell calls `on…` methods with the
/// current time and performs the returned ``SWIMDirective``s in order. Call
/// ``onTick(now:using:)`` once to start, then whenever a `.scheduleTick` comes due. The shell
/// correlates requests and responses; each request directive names the `on…` call that reports
/// its outcome.
public struct SWIMInstance: Sendable {
    /// The settings in use.
    public let settings: SWIMSettings
    /// This node.
    public internal(set) var myself: Contact
    /// This node's incarnation; raised only to refute suspicion of this node.
    public internal(set) var incarnation: UInt64 = 0
    /// `true` after ``leave(now:using:)``: the node no longer probes and refutes nothing.
    public internal(set) var isLeaving = false
    /// Running totals, for metrics.
    public internal(set) var counters = SWIMCounters()

    var table: MemberTable
    var tombstonesByID: [NodeID: SWIMTombstone] = [:]
    var probeOrder = ProbeOrder()
    var gossip: GossipQueue
    var fanOut: FanOutQueue
    var unverified: UnverifiedMembers
    var informers = InformerReputations()
    var health: LocalHealth
    var starvation = StarvationDetector()
    var round: ProbeRound?
    var nextPeriodAt: Timestamp?
    var scheduledTick: Timestamp?
    var earliestTombstoneExpiry: Timestamp?
    /// No suspicion times out before this; it may be earlier than the earliest deadline (then
    /// the next tick finds nothing due and computes it exactly).
    var suspicionCheckAt: Timestamp?
    var verificationTokens: Int
    var verificationsInFlight = 0
    /// Suspects whose death was postponed in the current starvation episode.
    var postponedDeaths: Set<Int32> = []
    /// Senders of the message being handled that hold a stale view of this node: the answer
    /// carries this node's current state first.
    var staleViewers: [NodeID] = []
    /// Accusations and refutations owed directly to members (see ``DirectNotice``).
    var directNotices: [DirectNotice] = []
    /// Members verified recently, with the time (at most 1,024, oldest dropped first): answers to
    /// them are filled with members (see ``SWIMSettings/newMemberFillWindow``).
    var recentlyAdmitted: [NodeKey: Timestamp] = [:]
    var recentlyAdmittedOrder = Deque<NodeKey>()

    /// Creates the membership view of `myself`.
    ///
    /// This node's own `alive` state is queued for gossip, so the first probe it sends announces
    /// it (join).
    /// - Parameters:
    ///   - myself: this node's ID and listen address.
    ///   - members: members already known and vouched for (a saved view, a test), assumed alive
    ///     at incarnation 0 and verified; they are probed in due course but not gossiped. Peers
    ///     the shell merely heard of go through ``onMemberDiscovered(_:now:using:)`` instead.
    ///   - settings: tunables; `probeTimeout` must be shorter than `probeInterval`.
    ///   - rng: unused (the probe order is drawn lazily); kept for source compatibility.
    public init(
        myself: Contact,
        members: [Contact] = [],
        settings: SWIMSettings = SWIMSettings(),
        using rng: inout some RandomNumberGenerator
    ) {
        self.init(myself: myself, roster: SWIMRoster(members), settings: settings, using: &rng)
    }

    /// Creates the membership view of `myself` from a shared roster of verified members (see
    /// ``SWIMRoster``); `myself` may be in it.
    public init(
        myself: Contact,
        roster: SWIMRoster,
        settings: SWIMSettings = SWIMSettings(),
        using rng: inout some RandomNumberGenerator
    ) {
        precondition(
            settings.probeTimeout < settings.probeInterval,
            "SWIMSettings.probeTimeout (\(settings.probeTimeout)) must be shorter than probeInterval"
                + " (\(settings.probeInterval)); lower the timeout or lengthen the period"
        )
        self.settings = settings
        self.myself = myself
        self.health = LocalHealth(maximum: settings.maximumLocalHealthMultiplier)
        self.table = MemberTable(roster: roster, excluding: myself.id)
        self.gossip = GossipQueue(capacity: settings.maximumPendingUpdates)
        self.fanOut = FanOutQueue()
        self.fanOut.refill(to: settings.fanOutMessagesPerPeriod)
        self.unverified = UnverifiedMembers(
            maximumTotal: settings.maximumUnverifiedMembers,
            maximumPerInformer: settings.maximumUnverifiedPerInformer)
        self.verificationTokens = max(0, settings.verificationsPerPeriod)
        gossip.enqueue(MemberUpdate(member: myself, status: .alive, incarnation: 0), priority: .membership)
    }

    // MARK: Observing

    /// Alive and suspect (verified) members other than this node, ordered by node ID.
    public var members: [SWIMMember] { table.presentSlots.compactMap(table.member(at:)).sorted { $0.id < $1.id } }

    /// Dead and departed members still remembered, ordered by node ID.
    public var tombstones: [SWIMTombstone] { tombstonesByID.values.sorted { $0.contact.id < $1.contact.id } }

    /// The member `id`, when it is verified and alive or suspect.
    public func member(_ id: NodeID) -> SWIMMember? { table.member(id) }

    /// The tombstone of `id`, when it is remembered as dead or departed.
    public func tombstone(_ id: NodeID) -> SWIMTombstone? { tombstonesByID[id] }

    /// What this node believes about `id`: its status, or `nil` when it is not a verified member
    /// and has no tombstone (never heard of, forgotten, or still unverified). This node itself is
    /// `.alive`, or `.left` once leaving.
    public func status(of id: NodeID) -> MemberStatus? {
        if id == myself.id { return isLeaving ? .left : .alive }
        return table.member(id)?.status ?? tombstonesByID[id]?.status
    }

    /// Peers heard of but not yet verified, ordered by node ID.
    public var unverifiedMembers: [UnverifiedMember] { unverified.all.sorted { $0.contact.id < $1.contact.id } }

    /// The unverified peer `id`, if it is waiting for verification.
    public func unverifiedMember(_ id: NodeID) -> UnverifiedMember? { unverified[id] }

    /// How many peers wait for verification.
    public var unverifiedCount: Int { unverified.count }

    /// How many unverified peers `informer` has waiting on its word.
    public func unverifiedCount(informedBy informer: NodeID) -> Int { unverified.waiting(informedBy: informer) }

    /// Whether gossip from `id` is ignored at `now` (a penalised or disconnected informer).
    public func isIgnoringGossip(from id: NodeID, now: Timestamp) -> Bool { informers.isIgnored(id, now: now) }

    /// Whether this node counts itself as starved at `now` (see ``SWIMSettings/starvationThreshold``).
    public func isStarved(at now: Timestamp) -> Bool { starvation.isStarved(at: now) }

    /// Verified live members (alive or suspect), this node included: SWIM's `n`.
    public var memberCount: Int { table.count + 1 }

    /// Lifeguard's local health multiplier: 0 is healthy.
    public var localHealthMultiplier: Int { health.multiplier }

    /// Updates waiting to be piggybacked.
    public var pendingUpdateCount: Int { gossip.count }

    /// The current suspicion timeout bounds for the current ``memberCount``, before the local
    /// health multiplier stretches them.
    public var suspicionTimeout: SuspicionTimeout { SuspicionTimeout(memberCount: memberCount, settings: settings) }

    /// When this node will declare the suspect `id` dead unless it refutes or more accusers
    /// confirm: this node's own accusation plus the timeout, stretched by the local health
    /// multiplier. `nil` when `id` is not suspect, or when this node did not accuse it (then it
    /// waits for an accuser's verdict).
    public func suspicionDeadline(of id: NodeID) -> Timestamp? {
        guard let slot = table.slot(of: id), let suspicion = table.suspicions[slot] else { return nil }
        return deadline(of: suspicion, bounds: suspicionTimeout)
    }

    /// How many times an update is piggybacked at the current cluster size: `λ · ceil(log10(n + 1))`.
    public var transmissionLimit: Int {
        GossipQueue.transmissionLimit(memberCount: memberCount, multiplier: settings.retransmitMultiplier)
    }

    /// The shortest time a tombstone is kept: long enough for every suspicion to have timed out
    /// and every update about the member to have been retransmitted for the last time, even by
    /// a node whose local health multiplier is saturated.
    public var minimumTombstoneLifetime: Duration {
        let slowest = settings.maximumLocalHealthMultiplier + 1
        return suspicionTimeout.maximum * slowest + settings.probeInterval * slowest * (2 * transmissionLimit)
    }

    /// The lifetime given to new tombstones.
    var effectiveTombstoneLifetime: Duration { max(settings.tombstoneLifetime, minimumTombstoneLifetime) }

    /// When the timer of a suspicion this node accused runs out; `nil` for one it only heard of.
    func deadline(of suspicion: Suspicion, bounds: SuspicionTimeout) -> Timestamp? {
        suspicion.accusedAt.map { $0 + health.scale(bounds.timeout(confirmations: suspicion.confirmations)) }
    }
}
