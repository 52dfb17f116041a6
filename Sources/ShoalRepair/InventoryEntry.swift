import ShoalCore

/// One object this node stores, as the repair planner sees it: its record (kind, every owner's
/// claim, tombstones), its size and whether it is pinned here.
public struct InventoryEntry: Hashable, Sendable {
    /// The object's record as this node holds it (``ObjectRecord/isStored`` is expected true).
    public var record: ObjectRecord
    /// Its stored size in bytes (counts against the per-round byte budget).
    public var size: Int
    /// Pinned objects are kept here even after a confirmed hand-off (they are still replicated).
    /// A pin does not keep deleted content: once no owner claims an object, no file needs it.
    public var isPinned: Bool

    /// Creates an inventory entry.
    /// - Parameters:
    ///   - record: the object's record, from the metadata store.
    ///   - size: its stored size in bytes.
    ///   - isPinned: whether a pin keeps it here.
    public init(record: ObjectRecord, size: Int, isPinned: Bool = false) {
        self.record = record
        self.size = size
        self.isPinned = isPinned
    }

    /// Creates an entry from the first model's fields: an ownerless chunk, deleted when
    /// `isTombstoned` (by ``ObjectOwner/unattributed``). Kept for callers not yet passing records.
    public init(id: ContentID, size: Int, isPinned: Bool = false, isTombstoned: Bool = false) {
        let tombstones = isTombstoned ? [Tombstone(owner: .unattributed, deletedAt: .zero, deleteID: .zero)] : []
        self.init(
            record: ObjectRecord(id: id, kind: .chunk, isStored: true, tombstones: tombstones), size: size,
            isPinned: isPinned)
    }

    /// The object's content ID.
    public var id: ContentID { record.id }
    /// What the object is.
    public var kind: ObjectRecord.Kind { record.kind }
    /// Deleted by every owner that claimed it: repair never copies it anywhere.
    public var isDeleted: Bool { record.isDeleted }
    /// The first model's name for ``isDeleted``.
    public var isTombstoned: Bool { record.isDeleted }
}
