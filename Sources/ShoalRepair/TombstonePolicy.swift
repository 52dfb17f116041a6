import ShoalCore

/// How long tombstones live: the grace bound (Cassandra's `gc_grace_seconds`), and the epoch to
/// which horizons are rounded so that nodes with slightly different clocks agree on one.
///
/// A tombstone made at `deletedAt` expires at the first horizon past `deletedAt + grace`. The
/// horizon at wall-clock time `now` is `now − grace` rounded down to a multiple of ``epoch``, and a
/// node accepts a peer's horizon up to one epoch ahead of its own (clock skew), so by any node's
/// clock a tombstone is kept at least `grace − epoch` and at most `grace + epoch`.
///
/// A node that has not completed an exchange for longer than ``rejoinBound`` (`grace − 2·epoch`:
/// one epoch of rounding, one of skew) may hold objects whose Deletes have expired everywhere else;
/// it must quarantine them (neither serve nor push them) until exchanges have re-checked them
/// (``mustQuarantine(lastSynchronized:now:)``).
///
/// Every node of a cluster must use the same policy; a peer whose horizon is too far ahead is
/// refused, which makes a mismatch visible instead of silently expiring tombstones early.
public struct TombstonePolicy: Hashable, Sendable {
    /// How long a tombstone is kept after its Delete was issued. Default 10 days, as Cassandra's
    /// `gc_grace_seconds`.
    public let grace: Duration
    /// The rounding of horizons. Default 1 hour.
    public let epoch: Duration

    /// Creates a policy.
    /// - Parameters:
    ///   - grace: at least 3 epochs (raised to that).
    ///   - epoch: at least 1 second (raised to that).
    public init(grace: Duration = .seconds(10 * 24 * 3600), epoch: Duration = .seconds(3600)) {
        let epoch = max(epoch, .seconds(1))
        self.epoch = epoch
        self.grace = max(grace, epoch * 3)
    }

    /// The policy for a grace of `grace`, with the epoch scaled to it: 1/240 of the grace (one
    /// hour for the default ten days), at least one second and at most one hour. Every node of a
    /// cluster started with the same grace gets the same policy.
    public static func scaled(grace: Duration) -> TombstonePolicy {
        let epoch = min(max(grace / 240, .seconds(1)), .seconds(3600))
        let whole = Duration.seconds(epoch.components.seconds)
        return TombstonePolicy(grace: grace, epoch: whole)
    }

    /// The longest a node may go without a completed exchange and keep serving its old objects.
    public var rejoinBound: Duration { grace - epoch * 2 }

    /// The horizon at wall-clock time `now` (since the Unix epoch).
    public func horizon(at now: Timestamp) -> TombstoneHorizon {
        let epochNanoseconds = epoch.nanosecondsClamped
        let raw = (now - grace).nanoseconds
        var rounded = raw / epochNanoseconds
        if raw % epochNanoseconds < 0 { rounded -= 1 }
        let (cutoff, overflow) = rounded.multipliedReportingOverflow(by: epochNanoseconds)
        return TombstoneHorizon(cutoff: Timestamp(nanoseconds: overflow ? .min : cutoff))
    }

    /// Whether this node may move to a peer's horizon: no more than one epoch ahead of its own.
    /// (A peer behind this node's horizon must move forward instead.)
    public func accepts(_ horizon: TombstoneHorizon, at now: Timestamp) -> Bool {
        horizon <= self.horizon(at: now + epoch)
    }

    /// Whether a node whose last completed exchange ended at `lastSynchronized` (`nil`: never) must
    /// quarantine the objects it held before, until exchanges have re-checked them. A node that
    /// never held anything has nothing to quarantine; pass its start time.
    public func mustQuarantine(lastSynchronized: Timestamp?, now: Timestamp) -> Bool {
        guard let last = lastSynchronized else { return true }
        return now - last > rejoinBound
    }
}
