import ShoalCore

/// Maps the monotonic clock onto the `Timestamp`s the pure cores take.
struct NodeClock: Sendable {
    private let origin = ContinuousClock.now

    var now: Timestamp { Timestamp(nanoseconds: (ContinuousClock.now - origin).nanosecondsClamped) }
}
