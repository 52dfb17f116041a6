import ShoalCore

/// "`owner` deleted this object at `deletedAt`": what remains of one owner's claim after its
/// signed Delete. It removes that owner's claim only; the object itself goes when no claim is
/// left. It expires after the grace bound of ``TombstonePolicy``.
public struct Tombstone: Hashable, Sendable, CustomStringConvertible {
    /// Who deleted the object (the Delete's signer).
    public var owner: ObjectOwner
    /// The Delete's `issued_at`, as wall-clock time since the Unix epoch. Expiry counts from here,
    /// so it is the same on every holder.
    public var deletedAt: Timestamp
    /// SHA-256 of the signed Delete message that made this tombstone. A holder that learns the
    /// tombstone from a peer fetches that Delete by this ID and verifies its signature before
    /// applying it; holders keep the Delete as long as the tombstone.
    public var deleteID: Key256

    /// Creates a tombstone.
    public init(owner: ObjectOwner, deletedAt: Timestamp, deleteID: Key256) {
        self.owner = owner
        self.deletedAt = deletedAt
        self.deleteID = deleteID
    }

    public var description: String { "tombstone(\(owner) at \(deletedAt.nanoseconds))" }
}
