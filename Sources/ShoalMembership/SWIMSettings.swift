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

    /// How long a dead or departed member is remembered. While remembered, no update with an
    /// incarnation at or below the tombstone's can bring it back. The effective lifetime is never
    /// shorter than ``SWIMInstance/minimumTombstoneLifetime``. Default 1 hour.
    public var tombstoneLifetime: Duration = .seconds(3600)

    /// Lifeguard's saturation limit S of the local health multiplier; 0 disables local health
    /// awareness. Default 8.
    public var maximumLocalHealthMultiplier: Int = 8

    /// How many members a leaving node tells directly. Default 5.
    public var leaveFanout: Int = 5

    /// Creates the default settings.
    public init() {}
}
