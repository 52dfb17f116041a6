import ShoalCore

/// Everything this node knows of one object as anti-entropy compares it: its kind, whether the
/// node keeps its bytes as a replica, and per owner a claim or a tombstone.
///
/// A node keeps a record of every object it holds as a replica, and of objects it holds no bytes
/// of but knows claims or tombstones for (learned from a Delete, or from the object's other
/// holders), so that a node that never got the bytes still learns a Delete. A copy cached for a
/// reader is not a record.
public struct MetadataRecord: Sendable, Hashable, CustomStringConvertible {
    public var id: ContentID
    /// What the bytes are, as the store or the holders said (the larger kind when they disagree).
    public var kind: ObjectKind
    /// How this node keeps the bytes: `.replica`, `.unchecked` (quarantined: neither served nor
    /// pushed), or `nil` when it keeps none.
    public var state: ObjectState?
    /// The claims, one per owner, ascending by owner.
    public var claims: [OwnerClaim]
    /// The tombstones, one per owner, ascending by owner.
    public var tombstones: [Tombstone]

    public init(
        id: ContentID, kind: ObjectKind, state: ObjectState? = nil, claims: [OwnerClaim] = [],
        tombstones: [Tombstone] = []
    ) {
        self.id = id
        self.kind = kind
        self.state = state
        self.claims = claims
        self.tombstones = tombstones
    }

    public var description: String {
        "metadata(\(id.short) \(kind) \(state.map { "\($0)" } ?? "no bytes") \(claims) \(tombstones))"
    }
}
