/// Running totals of what a ``SWIMInstance`` did or refused to do, for metrics and status.
public struct SWIMCounters: Hashable, Sendable {
    /// Ticks that came later than ``SWIMSettings/starvationThreshold``.
    public var lateTicks = 0
    /// Suspicions this node would have raised but did not, being starved.
    public var suppressedSuspicions = 0
    /// Deaths this node would have declared but postponed, being starved (once per member and
    /// starvation episode).
    public var postponedDeaths = 0
    /// Fan-out messages sent.
    public var fanOutMessages = 0
    /// Extra gossip messages sent because of a backlog (``SWIMSettings/backlogGossipMessagesPerPeriod``).
    public var backlogGossipMessages = 0
    /// Verifications requested (direct and indirect).
    public var verificationsRequested = 0
    /// Peers verified and admitted as members.
    public var verificationsSucceeded = 0
    /// Peers whose verification failed for good.
    public var verificationsFailed = 0
    /// Unverified peers forgotten because their time was up.
    public var unverifiedExpired = 0
    /// Claims of new peers refused by the per-informer or total caps.
    public var claimsRefused = 0
    /// Updates ignored because their sender was unverified or penalised.
    public var updatesIgnored = 0
    /// Informers penalised.
    public var informersPenalised = 0
    /// Disconnections requested.
    public var disconnectsRequested = 0
    /// Pending updates evicted from the full piggyback queue.
    public var gossipEvictions = 0

    /// Accusations a starved node held back: ``suppressedSuspicions`` + ``postponedDeaths``.
    public var suppressedAccusations: Int { suppressedSuspicions + postponedDeaths }

    public init() {}
}
