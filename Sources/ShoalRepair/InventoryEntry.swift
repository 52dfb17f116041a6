import ShoalCore

/// One object this node holds, as the repair planner sees it.
public struct InventoryEntry: Hashable, Sendable {
    /// The object's content ID.
    public var id: ContentID
    /// Its stored size in bytes (counts against the per-round byte budget).
    public var size: Int
    /// Pinned objects are kept here even after a confirmed hand-off (they are still replicated).
    public var isPinned: Bool
    /// Deleted objects: only the tombstone remains, and repair never copies them anywhere.
    public var isTombstoned: Bool

    /// Creates an inventory entry.
    public init(id: ContentID, size: Int, isPinned: Bool = false, isTombstoned: Bool = false) {
        self.id = id
        self.size = size
        self.isPinned = isPinned
        self.isTombstoned = isTombstoned
    }
}
