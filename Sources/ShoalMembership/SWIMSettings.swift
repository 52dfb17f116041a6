import ShoalCore

/// Tunables of a ``SWIMInstance``. The defaults suit a LAN or a data-centre cluster of up to a few
/// thousand nodes; every duration is scaled at run time by the Lifeguard local health multiplier.
public struct SWIMSettings: Sendable, Hashable {
    /// The most updates one message may carry, mirroring the wire limit (`Gossip.updates`, 32).
    public static let wireUpdateLimit = 32

    /// Length of one protocol period: one member is probed per period. Default 1 s.
    public var probeInterval: Duration = .seconds(1)

    /// How long to wait for a direct probe's ack before asking others to probe the member.
    /// Must be shorter than ``probeInterval``. Default 500 ms.
    public var probeTimeout: Duration = .milliseconds(500)

    /// How long a node helping with an indirect probe waits for the target before answering the
    /// requester with a nack. Should be shorter than `probeInterval - probeTimeout` so the nack
    /// arrives before the requester gives up. Default 400 ms.
    public var indirectProbeTimeout: Duration = .milliseconds(400)

    /// How many other members are asked to probe a member that missed its direct probe. Default 3.
    public var indirectProbeCount: Int = 3

    /// Lifeguard's α: the minimum suspicion timeout is `α · log10(n) · probeInterval`. Default 5.
    public var suspicionAlpha: Double = 5

    /// Lifeguard's β: the maximum suspicion timeout is `β` times the minimum. Default 6.
    public var suspicionBeta: Double = 6

    /// Lifeguard's K: independent confirmations after which a suspicion times out at the minimum.
    /// Capped at `n - 2` in small clusters. Default 3.
    public var expectedConfirmations: Int = 3

    /// λ: each update is piggybacked on about `λ · ceil(log10(n + 1))` messages. Default 3.
    public var retransmitMultiplier: Double = 3

    /// Updates per outgoing message, at most ``wireUpdateLimit``. Default 32.
    public var maximumUpdatesPerMessage: Int = SWIMSettings.wireUpdateLimit

    /// Spare room in a message is filled with up to this many randomly chosen members' current
    /// state (anti-entropy), so that a node that joined late learns the membership without a
    /// full-state transfer. 0 disables it. Default 2.
    public var antiEntropyUpdatesPerMessage: Int = 2

    /// Answers to a member verified less than this long ago are filled with members' state, like
    /// answers to a stranger: a newcomer learns the cluster in its first periods rather than two
    /// members per message. Default 30 s.
    public var newMemberFillWindow: Duration = .seconds(30)

    /// How long a dead or departed member is remembered. While remembered, no update with an
    /// incarnation at or below the tombstone's can bring it back. The effective lifetime is never
    /// shorter than ``SWIMInstance/minimumTombstoneLifetime``. Default 1 hour.
    public var tombstoneLifetime: Duration = .seconds(3600)

    /// Lifeguard's saturation limit S of the local health multiplier; 0 disables local health
    /// awareness. Default 8.
    public var maximumLocalHealthMultiplier: Int = 8

    /// How many members a leaving node tells directly. Default 5.
    public var leaveFanout: Int = 5

    // MARK: Starvation

    /// A tick that comes more than this fraction of ``probeInterval`` after it was due marks this
    /// node as starved: its local health multiplier rises (if the tick starts a period) and it
    /// suspects no one and declares no one dead until one full protocol period has passed without
    /// another late tick. Default 0.5 (half a period, the slack a healthy timer never needs).
    public var starvationThresholdFraction: Double = 0.5

    /// The lateness beyond which a tick counts as starved: ``starvationThresholdFraction`` of
    /// ``probeInterval``.
    public var starvationThreshold: Duration {
        .nanoseconds(Int64(Double(probeInterval.nanosecondsClamped) * max(0, starvationThresholdFraction)))
    }

    // MARK: Dissemination budgets

    /// The most updates waiting to be piggybacked; when full, the update sent most often makes
    /// room. A node piggybacks about `32 · 3` updates per period, each about `λ · log10(n)` times,
    /// so a few hundred pending updates are many periods of backlog. Default 256.
    public var maximumPendingUpdates: Int = 256

    /// How many members receive each fan-out (news sent at once rather than on the next probes).
    /// A suspect is always among the recipients of its own suspicion. 0 disables fan-out. Default 3.
    public var fanOutTargets: Int = 3

    /// The most fan-out messages per protocol period. Default 6 (two rounds of ``fanOutTargets``).
    public var fanOutMessagesPerPeriod: Int = 6

    /// Extra gossip messages per protocol period while more deaths and membership news wait than
    /// one message holds (a join storm, a partition healing): each carries the most urgent pending
    /// updates to a random member. A fixed budget, so a backlog of any size costs at most this
    /// many messages per period; 0 leaves dissemination to piggybacking alone. Default 2.
    public var backlogGossipMessagesPerPeriod: Int = 2

    // MARK: Verification

    /// The most verifications started per protocol period. A verification is one dial and a
    /// `Ping`; a new member must be verified by every node, and a node must verify every member
    /// that joins, so in a join storm of `j` members each node needs `j / 32` periods. Default 32.
    public var verificationsPerPeriod: Int = 32

    /// The most verifications out at once. Default 64.
    public var maximumVerificationsInFlight: Int = 64

    /// How long the shell may take to reach a peer being verified (dial, TLS, answer); scaled by
    /// the local health multiplier. Default 2 s.
    public var verificationTimeout: Duration = .seconds(2)

    /// How long an unverified peer is remembered, from when it was first heard of. Default 60 s.
    public var unverifiedLifetime: Duration = .seconds(60)

    /// The most unverified peers remembered. Default 1,024.
    public var maximumUnverifiedMembers: Int = 1024

    /// The most unverified peers one informer may have waiting: one message's worth of claims.
    /// Default 32.
    public var maximumUnverifiedPerInformer: Int = 32

    /// Failed claims (net of verified ones) after which an informer is penalised. Default 4.
    public var informerFailuresBeforePenalty: Int = 4

    /// How long a penalised informer's gossip is ignored. Default 60 s.
    public var informerPenalty: Duration = .seconds(60)

    /// The penalty at which an informer is also disconnected. Default 3.
    public var penaltiesBeforeDisconnect: Int = 3

    /// How long a disconnected informer stays disconnected. Default 10 minutes.
    public var disconnectDuration: Duration = .seconds(600)

    /// Tombstones of peers this node never knew (deaths heard as gossip) are remembered only while
    /// fewer than this many tombstones are held, so that gossip about made-up peers cannot grow
    /// the table. Default 4,096.
    public var maximumStrangerTombstones: Int = 4096

    /// Creates the default settings.
    public init() {}
}
