import ShoalCore

/// The line before which tombstones have expired: a tombstone whose `deletedAt` is earlier than
/// ``cutoff`` no longer counts. Both sides of an exchange use the same horizon (it travels in every
/// request and answer), so an expired tombstone drops out of both sides' summaries alike.
///
/// Horizons only move forward: a ``RecordTree`` that has advanced to a horizon has forgotten the
/// tombstones before it.
public struct TombstoneHorizon: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Wall-clock time since the Unix epoch; a multiple of ``TombstonePolicy/epoch`` when made by a
    /// policy.
    public let cutoff: Timestamp

    /// Nothing has expired.
    public static let origin = TombstoneHorizon(cutoff: Timestamp(nanoseconds: .min))

    /// Creates a horizon (from the wire: any value is valid; see ``TombstonePolicy/accepts(_:at:)``).
    public init(cutoff: Timestamp) {
        self.cutoff = cutoff
    }

    /// Whether `tombstone` has expired at this horizon.
    @inline(__always)
    public func hasExpired(_ tombstone: Tombstone) -> Bool { tombstone.deletedAt < cutoff }

    public static func < (a: TombstoneHorizon, b: TombstoneHorizon) -> Bool { a.cutoff < b.cutoff }

    public var description: String { self == .origin ? "horizon(origin)" : "horizon(\(cutoff.nanoseconds))" }
}
