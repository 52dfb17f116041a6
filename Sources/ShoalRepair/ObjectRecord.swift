import ShoalCore

/// What one node knows about one object: the state that holders of a key range reconcile by
/// anti-entropy, and that a repair push carries.
///
/// Per owner a record holds at most one entry, either an ``OwnerClaim`` or a ``Tombstone``: the
/// later one by time, the tombstone on a tie (a last-writer-wins register per owner, so merging is
/// commutative, associative and idempotent and every holder converges on the same record).
/// The initializer normalizes any input to that form, claims and tombstones sorted by owner.
///
/// A record's ``digest`` covers every field, so a changed claim, a new tombstone or a lost copy
/// shows up as a difference between two holders' range summaries.
public struct ObjectRecord: Hashable, Sendable, CustomStringConvertible {
    /// What the object's bytes are.
    public typealias Kind = ObjectKind

    /// The object's content ID.
    public let id: ContentID
    /// What the bytes are. Merging keeps the larger (``Kind/manifest``) when two records disagree.
    public var kind: Kind
    /// Whether the node that made this record keeps the object's bytes as one of its replicas
    /// (a copy cached for a reader does not count). A record without the bytes still carries
    /// claims and tombstones, so a node that lost a copy, or never had it, still learns Deletes.
    public var isStored: Bool
    /// The live claims, one per owner, ascending by owner.
    public private(set) var claims: [OwnerClaim]
    /// The tombstones not yet expired, one per owner, ascending by owner.
    public private(set) var tombstones: [Tombstone]

    /// Creates a record, keeping per owner only the entry that wins (see the type's description).
    public init(id: ContentID, kind: Kind, isStored: Bool, claims: [OwnerClaim] = [], tombstones: [Tombstone] = []) {
        self.id = id
        self.kind = kind
        self.isStored = isStored
        if tombstones.isEmpty, claims.count <= 1 {
            self.claims = claims
            self.tombstones = []
        } else {
            (self.claims, self.tombstones) = Self.normalized(claims: claims, tombstones: tombstones)
        }
    }

    /// Every owner that still claims the object.
    public var owners: [ObjectOwner] { claims.map(\.owner) }

    /// Deleted content: every owner that claimed the object deleted it, and none claims it now.
    /// Repair never copies it; its bytes may be freed. (An object with no claims and no
    /// tombstones, stored before owners were recorded, is not deleted.)
    public var isDeleted: Bool { claims.isEmpty && !tombstones.isEmpty }

    /// A record that carries nothing: no bytes, no claims, no tombstones. Trees do not keep it.
    public var isEmpty: Bool { !isStored && claims.isEmpty && tombstones.isEmpty }

    /// Owner entries (claims plus tombstones).
    public var ownerEntryCount: Int { claims.count + tombstones.count }

    /// The record's digest (``RangeHashing/digest(of:)``): what range hashes are made of.
    public var digest: RangeHash { RangeHashing.digest(of: self) }

    /// This record with `owner`'s claim at `time` merged in.
    public func claiming(by owner: ObjectOwner, at time: Timestamp) -> ObjectRecord {
        ObjectRecord(
            id: id, kind: kind, isStored: isStored, claims: claims + [OwnerClaim(owner: owner, claimedAt: time)],
            tombstones: tombstones)
    }

    /// This record with `tombstone` merged in: it replaces its owner's claim unless that claim is later.
    public func deleting(_ tombstone: Tombstone) -> ObjectRecord {
        ObjectRecord(id: id, kind: kind, isStored: isStored, claims: claims, tombstones: tombstones + [tombstone])
    }

    /// This record with ``isStored`` set to `stored`.
    public func storing(_ stored: Bool) -> ObjectRecord {
        var copy = self
        copy.isStored = stored
        return copy
    }

    /// This record merged with `other`'s claims and tombstones (the same object as known by another
    /// node). ``isStored`` stays this record's: it describes this node.
    /// - Precondition: `other.id == id`.
    public func merged(with other: ObjectRecord) -> ObjectRecord {
        precondition(other.id == id, "merging the records of two different objects")
        return ObjectRecord(
            id: id, kind: max(kind, other.kind), isStored: isStored, claims: claims + other.claims,
            tombstones: tombstones + other.tombstones)
    }

    /// This record without the tombstones that `horizon` has expired.
    public func pruned(at horizon: TombstoneHorizon) -> ObjectRecord {
        guard tombstones.contains(where: { horizon.hasExpired($0) }) else { return self }
        var copy = self
        copy.tombstones.removeAll { horizon.hasExpired($0) }
        return copy
    }

    /// Whether two records carry the same claims and tombstones (``isStored`` aside).
    public func hasSameOwnerEntries(as other: ObjectRecord) -> Bool {
        claims == other.claims && tombstones == other.tombstones
    }

    public var description: String {
        "record(\(id.short) \(kind) \(isStored ? "stored" : "metadata") \(claims) \(tombstones))"
    }

    /// One entry per owner: the later, a tombstone on a tie; among tombstones of one owner at the
    /// same time, the larger delete ID (any fixed rule would do; both sides must agree).
    static func normalized(claims: [OwnerClaim], tombstones: [Tombstone]) -> ([OwnerClaim], [Tombstone]) {
        var latestClaim: [ObjectOwner: OwnerClaim] = [:]
        for claim in claims where latestClaim[claim.owner].map({ claim.claimedAt > $0.claimedAt }) ?? true {
            latestClaim[claim.owner] = claim
        }
        var latestTombstone: [ObjectOwner: Tombstone] = [:]
        for t in tombstones {
            if let known = latestTombstone[t.owner],
                (known.deletedAt, known.deleteID) >= (t.deletedAt, t.deleteID)
            {
                continue
            }
            latestTombstone[t.owner] = t
        }
        for (owner, t) in latestTombstone {
            if let claim = latestClaim[owner] {
                if claim.claimedAt > t.deletedAt { latestTombstone[owner] = nil } else { latestClaim[owner] = nil }
            }
        }
        return (
            latestClaim.values.sorted { $0.owner < $1.owner }, latestTombstone.values.sorted { $0.owner < $1.owner }
        )
    }
}
