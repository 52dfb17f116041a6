import ShoalCore

/// The probe of one protocol period: its target, deadline and what has been heard so far.
struct ProbeRound: Hashable, Sendable {
    var target: Contact
    var endsAt: Timestamp
    var acked = false
    /// Helpers asked to probe the target indirectly.
    var helpers: Set<NodeID> = []
    /// Helpers that answered (ack or nack).
    var answeredHelpers: Set<NodeID> = []
}
