import ShoalCore

/// "`owner` stores this object": recorded when a store names an owner key, carried by repair
/// pushes and anti-entropy records so that every holder keeps every owner.
///
/// Per owner, a claim and a ``Tombstone`` are one last-writer-wins register: the later time wins,
/// a tombstone wins a tie (see ``ObjectRecord``). So an owner that deletes an object and stores it
/// again later owns it again, while a stale claim from before the delete stays deleted.
public struct OwnerClaim: Hashable, Sendable, CustomStringConvertible {
    /// Who claims the object.
    public var owner: ObjectOwner
    /// When the claim was made: wall-clock time since the Unix epoch, set once by the node that
    /// accepted the store and then carried unchanged, so that every holder hashes the same record.
    public var claimedAt: Timestamp

    /// Creates a claim.
    public init(owner: ObjectOwner, claimedAt: Timestamp) {
        self.owner = owner
        self.claimedAt = claimedAt
    }

    public var description: String { "claim(\(owner) at \(claimedAt.nanoseconds))" }
}
