import ShoalCore

/// A clock that moves only when a test says so.
public struct ManualClock: Sendable {
    public private(set) var now: Timestamp

    public init(start: Timestamp = .zero) {
        self.now = start
    }

    /// Moves the clock forward by `duration`.
    public mutating func advance(by duration: Duration) {
        now = now + duration
    }

    /// Moves the clock to `instant`, which must not be in the past.
    public mutating func advance(to instant: Timestamp) {
        precondition(instant >= now, "a ManualClock never goes back")
        now = instant
    }
}
