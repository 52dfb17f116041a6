import ShoalCore

/// An exchange the scheduler wants run this round: start an ``ExchangeSession`` with ``peer``
/// over ``ranges``, then report its end to ``ExchangeScheduler``.
public struct PlannedExchange: Hashable, Sendable, CustomStringConvertible {
    /// The peer to compare with.
    public var peer: Contact
    /// The ranges both are responsible for (or, when resuming, what the last session left
    /// unexplored).
    public var ranges: [KeyRange]

    /// Creates a planned exchange.
    public init(peer: Contact, ranges: [KeyRange]) {
        self.peer = peer
        self.ranges = ranges
    }

    public var description: String { "exchange(\(peer.id.short), \(ranges.count) ranges)" }
}
