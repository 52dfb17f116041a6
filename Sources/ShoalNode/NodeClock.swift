import Foundation
import ShoalCore

/// The node's two clocks, in the `Timestamp`s the pure cores take: a monotonic one for timers and
/// timeouts, and the wall clock for what other nodes compare (claims, tombstones, Delete freshness),
/// and how to wait on the monotonic one. One value serves every part of a node; tests inject their own.
public struct NodeClock: Sendable {
    private let monotonic: @Sendable () -> Timestamp
    private let wall: @Sendable () -> Timestamp
    private let sleeper: @Sendable (Duration) async throws -> Void

    /// A clock reading `monotonic` and `wall`, waiting with `sleep` (by default `Task.sleep`).
    public init(
        monotonic: @escaping @Sendable () -> Timestamp, wall: @escaping @Sendable () -> Timestamp,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.monotonic = monotonic
        self.wall = wall
        self.sleeper = sleep
    }

    /// Waits `duration` of this clock's monotonic time.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func sleep(for duration: Duration) async throws {
        try await sleeper(duration)
    }

    /// The system's clocks: monotonic time since this value was made, and the wall clock.
    public static func system() -> NodeClock {
        let origin = ContinuousClock.now
        return NodeClock(
            monotonic: { Timestamp(nanoseconds: (ContinuousClock.now - origin).nanosecondsClamped) },
            wall: { Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) })
    }

    /// Monotonic time, for timers and timeouts.
    public var now: Timestamp { monotonic() }

    /// Wall-clock time: nanoseconds since the Unix epoch.
    public var wallNow: Timestamp { wall() }

    /// Wall-clock time in whole seconds since the Unix epoch.
    public var wallSeconds: Int64 { wall().nanoseconds / 1_000_000_000 }

    /// Wall-clock time in seconds since the Unix epoch, rounded up: a time in seconds no earlier
    /// than any wall-clock time read before (what a Delete is dated with, so that it outranks
    /// every claim its owner made before signing it).
    public var wallSecondsRoundedUp: Int64 {
        let ns = wall().nanoseconds
        let (seconds, rest) = ns.quotientAndRemainder(dividingBy: 1_000_000_000)
        return rest > 0 ? seconds + 1 : seconds
    }
}
