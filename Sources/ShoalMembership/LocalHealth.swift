/// Lifeguard's local health multiplier (Dadgar et al. 2018, section IV.A): a saturating counter
/// from 0 to S that rises when this node shows signs of being slow itself and falls with each
/// successful probe.
///
/// It rises when a probe gets no answer at all, when an indirect probe helper sends neither ack
/// nor nack (the nack would have come back had this node been healthy), when this node has to
/// refute a suspicion of itself, and when a protocol period starts late because this node was
/// starved (its tick came well after it was due). This node's probe period, probe timeout and
/// suspicion timeouts are multiplied by `multiplier + 1`, so a node that is struggling probes
/// less aggressively and waits longer before it accuses anyone.
public struct LocalHealth: Hashable, Sendable {
    /// The current multiplier, between 0 and ``maximum``.
    public private(set) var multiplier: Int = 0
    /// Lifeguard's S.
    public let maximum: Int

    /// Events that move the multiplier.
    public enum Event: Hashable, Sendable {
        /// A probe (direct or indirect) was acked: −1.
        case successfulProbe
        /// A probe got no ack at all within its period: +1.
        case failedProbe
        /// A helper asked to probe indirectly sent neither ack nor nack: +1 per helper.
        case missedNack
        /// This node had to refute a suspicion of itself: +1.
        case refutedSuspicion
        /// A protocol period started late because this node was starved: +1.
        case lateTick

        var delta: Int { self == .successfulProbe ? -1 : 1 }
    }

    /// Creates a healthy counter saturating at `maximum`.
    public init(maximum: Int) {
        self.maximum = max(0, maximum)
    }

    /// Applies `event`.
    public mutating func record(_ event: Event) {
        multiplier = min(maximum, max(0, multiplier + event.delta))
    }

    /// `duration · (multiplier + 1)`.
    public func scale(_ duration: Duration) -> Duration {
        duration * (multiplier + 1)
    }
}
