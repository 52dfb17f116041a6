/// "`owner` keeps this object": the right that an owner-signed Delete removes. An object is kept
/// while any claim remains. Anonymous stores make a claim by ``ObjectOwner/anonymous``, which no
/// Delete removes.
///
/// Per owner, a claim and a ``Tombstone`` are one last-writer-wins register: the later time wins,
/// a tombstone wins a tie. So an owner that deletes an object and stores it again later owns it
/// again, while a stale claim from before the delete stays deleted.
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

/// "`owner` deleted this object at `deletedAt`": what remains of one owner's claim after its
/// signed Delete. It removes that owner's claim only; the object itself goes when no claim is
/// left. It expires after the tombstone grace period.
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

/// The outcome of offering claims for one object, by the ownership rules every holder applies.
///
/// A *claim* says "owner O keeps object X"; an owner-signed Delete removes the signer's claim and
/// leaves a *tombstone* "O deleted X at T". An object is kept while any claim remains. The rules,
/// per owner, are last-writer-wins between a claim and a tombstone:
/// - a *fresh* store (an owner putting a file now) always makes a claim and clears that owner's
///   tombstone: an owner can delete a file and put it again (the claim is dated after the
///   tombstone it clears, so every holder merging the two keeps the claim);
/// - a *pushed* claim (repair or hand-off carrying a claim made earlier elsewhere) is refused when
///   the owner's tombstone is at least as recent, so a holder that missed a Delete cannot bring the
///   object back; a newer pushed claim clears the tombstone;
/// - a tombstone never refuses another owner's claim, so no one can block content others publish.
public struct ClaimDecision: Sendable, Hashable {
    /// Claims to record (each replacing that owner's older claim).
    public var accepted: [OwnerClaim]
    /// Owners whose tombstone the accepted claims supersede.
    public var clearedTombstones: [ObjectOwner]
    /// Offered claims refused because their owner deleted the object later.
    public var refused: [OwnerClaim]

    /// Applies the rules above.
    /// - Parameters:
    ///   - offered: the claims a store carries (an anonymous claim when it names no owner).
    ///   - fresh: an owner storing now (`true`), or a push of earlier claims (`false`).
    ///   - now: the time a fresh claim is recorded with.
    ///   - tombstones: the object's tombstones here.
    public init(offered: [OwnerClaim], fresh: Bool, now: Timestamp, tombstones: [Tombstone]) {
        var latestDeletion: [ObjectOwner: Timestamp] = [:]
        for t in tombstones { latestDeletion[t.owner] = max(latestDeletion[t.owner] ?? t.deletedAt, t.deletedAt) }
        var accepted: [ObjectOwner: OwnerClaim] = [:]
        var refused: [OwnerClaim] = []
        for claim in offered {
            // A fresh claim is dated after the owner's tombstone it clears, so that holders merging
            // the two keep the claim (a Delete is dated to the second, rounded up).
            let after =
                latestDeletion[claim.owner].map { Timestamp(nanoseconds: $0.nanoseconds.saturatingAdd(1)) } ?? now
            let candidate = fresh ? OwnerClaim(owner: claim.owner, claimedAt: max(now, after)) : claim
            if !fresh, !claim.owner.isAnonymous, let deleted = latestDeletion[claim.owner], deleted >= claim.claimedAt {
                refused.append(claim)
                continue
            }
            if let existing = accepted[claim.owner], existing.claimedAt >= candidate.claimedAt { continue }
            accepted[claim.owner] = candidate
        }
        self.accepted = accepted.values.sorted { $0.owner < $1.owner }
        self.clearedTombstones = self.accepted.map(\.owner).filter { latestDeletion[$0] != nil }
        self.refused = refused
    }
}
