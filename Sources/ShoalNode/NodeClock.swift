import Foundation
import ShoalCore

/// The node's two clocks, in the `Timestamp`s the pure cores take: a monotonic one for timers and
/// timeouts, and the wall clock for what other nodes compare (claims, tombstones, Delete freshness).
/// One value serves every part of a node; tests inject their own.
public struct NodeClock: Sendable {
    private let monotonic: @Sendable () -> Timestamp
    private let wall: @Sendable () -> Timestamp

    /// A clock reading `monotonic` and `wall`.
    public init(monotonic: @escaping @Sendable () -> Timestamp, wall: @escaping @Sendable () -> Timestamp) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// The system's clocks: monotonic time since this value was made, and the wall clock.
    public static func system() -> NodeClock {
        let origin = ContinuousClock.now
        return NodeClock(monotonic: { Timestamp(nanoseconds: (ContinuousClock.now - origin).nanosecondsClamped) },
                         wall: { Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)) })
    }

    /// Monotonic time, for timers and timeouts.
    public var now: Timestamp { monotonic() }

    /// Wall-clock time: nanoseconds since the Unix epoch.
    public var wallNow: Timestamp { wall() }

    /// Wall-clock time in whole seconds since the Unix epoch.
    public var wallSeconds: Int64 { wall().nanoseconds / 1_000_000_000 }
}
