import ShoalCore

/// A copy to send: the object's bytes (read by the shell) with its record, so the target stores
/// the right kind and every owner's claim, and the tombstones of owners who deleted it.
public struct RepairPush: Hashable, Sendable, CustomStringConvertible {
    /// The object's record as this node holds it.
    public var record: ObjectRecord
    /// Its stored size in bytes.
    public var size: Int
    /// The node to send it to.
    public var target: Contact

    /// Creates a push.
    public init(record: ObjectRecord, size: Int, target: Contact) {
        self.record = record
        self.size = size
        self.target = target
    }

    /// The object.
    public var object: ContentID { record.id }
    /// What the bytes are (wire: `StoreChunk.kind`).
    public var kind: ObjectRecord.Kind { record.kind }
    /// Every owner's claim (wire: `StoreChunk.claims`).
    public var claims: [OwnerClaim] { record.claims }
    /// The tombstones of owners who deleted it (wire: `StoreChunk.tombstones`).
    public var tombstones: [Tombstone] { record.tombstones }

    public var description: String { "push(\(object.short) \(kind), \(claims.count) owners, to: \(target))" }
}
