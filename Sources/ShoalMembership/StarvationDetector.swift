import ShoalCore

/// Notices that this node is starved: its ticks arrive well after they were due.
///
/// A node whose process is descheduled (an overloaded machine, a long pause) sees every probe it
/// sent time out at once when it runs again, and would accuse healthy members. So a tick later
/// than ``SWIMSettings/starvationThreshold`` after it was due marks the node as starved until one
/// full protocol period has passed without another late tick: meanwhile it suspects no one and
/// declares no one dead (Lifeguard's premise, section III: a slow node must not accuse others).
struct StarvationDetector: Hashable, Sendable {
    /// Starved until then.
    private(set) var starvedUntil: Timestamp?
    /// Late ticks seen.
    private(set) var lateTicks = 0

    /// Records a tick at `now` that was due at `due`.
    /// - Parameters:
    ///   - due: when the tick was scheduled, or `nil` when none was.
    ///   - now: the current time.
    ///   - threshold: the lateness beyond which the node counts as starved.
    ///   - period: how long starvation lasts after the last late tick.
    /// - Returns: `true` when the tick was late.
    mutating func noteTick(due: Timestamp?, now: Timestamp, threshold: Duration, period: Duration) -> Bool {
        guard let due, now - due > threshold else { return false }
        lateTicks += 1
        starvedUntil = max(starvedUntil ?? now, now + period)
        return true
    }

    /// Whether the node counts as starved at `now`.
    func isStarved(at now: Timestamp) -> Bool { starvedUntil.map { now < $0 } ?? false }
}
