import ShoalCore

/// One node's view of cluster membership, maintained with SWIM and Lifeguard's refinements.
///
/// ## Algorithm
///
/// SWIM (Das, Gupta, Motivala: *SWIM: Scalable Weakly-consistent Infection-style Process Group
/// Membership Protocol*, DSN 2002) separates failure detection from dissemination:
///
/// - **Failure detection.** Every protocol period (``SWIMSettings/probeInterval``) this node
///   probes one member, taken from a shuffled round-robin order that is reshuffled every round
///   and into which new members are inserted at random positions. Without an ack within
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
///   with high probability.
///
/// Lifeguard (Dadgar, Phillips, Currey: *Lifeguard: Local Health Awareness for More Accurate
/// Failure Detection*, DSN Workshops 2018) makes the detector robust against slow members that
/// would otherwise accuse healthy ones:
///
/// - the **local health multiplier** (``LocalHealth``) stretches this node's probe period and
///   timeouts while it sees evidence of its own slowness (failed probes, missing nacks, having to
///   refute suspicions of itself);
/// - the **dynamic suspicion timeout** (``SuspicionTimeout``) starts long,
///   `β · α · log10(n) · period`, and shrinks towards `α · log10(n) · period` as independent
///   confirmations of the suspicion arrive;
/// - a **suspect is told** of its suspicion whenever it is probed, so it can refute promptly.
///
/// Dead and departed members become ``SWIMTombstone``s that reject every update at or below
/// their incarnation for ``SWIMSettings/tombstoneLifetime`` (never less than
/// ``minimumTombstoneLifetime``), so stale gossip cannot revive them. A node that learns it is
/// considered dead or departed while it is running refutes like a suspect, which is how a
/// restarted node rejoins.
///
/// Confirmations are counted per distinct node that relayed the suspicion to this one, as the
/// wire format's member update does not name the original accuser.
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

    var membersByID: [NodeID: SWIMMember] = [:]
    var tombstonesByID: [NodeID: SWIMTombstone] = [:]
    var suspects: Set<NodeID> = []
    var probeOrder = ProbeOrder()
    var gossip = GossipQueue()
    var health: LocalHealth
    var round: ProbeRound?
    var nextPeriodAt: Timestamp?
    var scheduledTick: Timestamp?
    var earliestTombstoneExpiry: Timestamp?

    /// Creates the membership view of `myself`.
    ///
    /// This node's own `alive` state is queued for gossip, so the first probe it sends announces
    /// it (join).
    /// - Parameters:
    ///   - myself: this node's ID and listen address.
    ///   - members: members already known (e.g. bootstrap peers or a saved view), assumed alive
    ///     at incarnation 0; they are probed in due course but not gossiped.
    ///   - settings: tunables; `probeTimeout` must be shorter than `probeInterval`.
    ///   - rng: shuffles the probe order.
    public init(
        myself: Contact,
        members: [Contact] = [],
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
        var added: [NodeID] = []
        for contact in members where contact.id != myself.id && membersByID[contact.id] == nil {
            membersByID[contact.id] = SWIMMember(contact: contact, status: .alive, incarnation: 0)
            added.append(contact.id)
        }
        probeOrder.insert(contentsOf: added, using: &rng)
        gossip.enqueue(MemberUpdate(member: myself, status: .alive, incarnation: 0))
    }

    // MARK: Observing

    /// Alive and suspect members other than this node, ordered by node ID.
    public var members: [SWIMMember] { membersByID.values.sorted { $0.id < $1.id } }

    /// Dead and departed members still remembered, ordered by node ID.
    public var tombstones: [SWIMTombstone] { tombstonesByID.values.sorted { $0.contact.id < $1.contact.id } }

    /// The member `id`, when it is alive or suspect.
    public func member(_ id: NodeID) -> SWIMMember? { membersByID[id] }

    /// The tombstone of `id`, when it is remembered as dead or departed.
    public func tombstone(_ id: NodeID) -> SWIMTombstone? { tombstonesByID[id] }

    /// What this node believes about `id`: its status, or `nil` when it has never heard of it
    /// (or has forgotten its tombstone). This node itself is `.alive`, or `.left` once leaving.
    public func status(of id: NodeID) -> MemberStatus? {
        if id == myself.id { return isLeaving ? .left : .alive }
        return membersByID[id]?.status ?? tombstonesByID[id]?.status
    }

    /// Live members (alive or suspect), this node included: SWIM's `n`.
    public var memberCount: Int { membersByID.count + 1 }

    /// Lifeguard's local health multiplier: 0 is healthy.
    public var localHealthMultiplier: Int { health.multiplier }

    /// Updates waiting to be piggybacked.
    public var pendingUpdateCount: Int { gossip.count }

    /// The current suspicion timeout bounds, for the current ``memberCount``.
    public var suspicionTimeout: SuspicionTimeout { SuspicionTimeout(memberCount: memberCount, settings: settings) }

    /// When the suspect `id` will be declared dead unless it refutes or more confirmations arrive.
    public func suspicionDeadline(of id: NodeID) -> Timestamp? {
        guard let suspicion = membersByID[id]?.suspicion else { return nil }
        return suspicion.startedAt + suspicionTimeout.timeout(confirmations: suspicion.confirmations)
    }

    /// How many times an update is piggybacked at the current cluster size: `λ · ceil(log10(n + 1))`.
    public var transmissionLimit: Int {
        GossipQueue.transmissionLimit(memberCount: memberCount, multiplier: settings.retransmitMultiplier)
    }

    /// The shortest time a tombstone is kept: long enough for every suspicion to have timed out
    /// and every update about the member to have been retransmitted for the last time, even by
    /// a node whose local health multiplier is saturated.
    public var minimumTombstoneLifetime: Duration {
        let slowestPeriod = settings.probeInterval * (settings.maximumLocalHealthMultiplier + 1)
        return suspicionTimeout.maximum + slowestPeriod * (2 * transmissionLimit)
    }

    /// The lifetime given to new tombstones.
    var effectiveTombstoneLifetime: Duration { max(settings.tombstoneLifetime, minimumTombstoneLifetime) }
}
