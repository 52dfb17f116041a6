import ShoalCore

/// One step of a repair plan in the first model's terms (``RepairPlan/actions``): a push without
/// the object's record. ``RepairDirective`` carries the full steps.
public enum RepairAction: Hashable, Sendable, CustomStringConvertible {
    /// Send a copy of the object to `to`, which should hold it and is not known to.
    case push(ContentID, to: Contact)
    /// Delete the local copy: the object was handed off to all of its `r` closest nodes, which
    /// no longer include this one (or, from a ``RepairDirective/discard(_:)``, it was deleted).
    case drop(ContentID)

    public var description: String {
        switch self {
        case .push(let id, let to): return "push(\(id.short), to: \(to))"
        case .drop(let id): return "drop(\(id.short))"
        }
    }
}
