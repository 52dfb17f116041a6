import ShoalCore

/// What the ``ExchangeScheduler`` remembers about one neighbour.
struct PeerExchangeState: Sendable {
    /// The shared ranges the last complete exchange covered.
    var comparedRanges: [KeyRange]?
    /// When the last exchange ended without failing.
    var lastCompleted: Timestamp?
    /// What the last exchange left unexplored.
    var unexplored: [KeyRange] = []
    /// The ranges of the exchange in flight, and until when it counts as running.
    var inFlight: (ranges: [KeyRange], until: Timestamp)?
    /// Failures in a row, and when to try again.
    var failures = 0
    var retryAt: Timestamp?
}
