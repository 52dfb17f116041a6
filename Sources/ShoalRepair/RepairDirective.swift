import ShoalCore

/// One step of a repair plan.
public enum RepairDirective: Hashable, Sendable, CustomStringConvertible {
    /// Send a copy with its record (``RepairPush``) to a node that should hold it and lacks it.
    /// Report the end with ``RepairPlanner/onPushFinished(_:to:)``; on success also
    /// ``HolderEvidence/noteStored(_:on:)``.
    case push(RepairPush)
    /// Delete the local copy and its record: the object was handed off to all of its `r` closest
    /// nodes, which no longer include this one and keep the record.
    case drop(ContentID)
    /// Free the local bytes of deleted content (every owner's claim is tombstoned), pinned or not
    /// (remove its pins): keep the record and its tombstones until they expire.
    case discard(ContentID)

    public var description: String {
        switch self {
        case .push(let push): return push.description
        case .drop(let id): return "drop(\(id.short))"
        case .discard(let id): return "discard(\(id.short))"
        }
    }
}
