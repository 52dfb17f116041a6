/// "Owner `owner` keeps this object": the right that an owner-signed Delete removes. An object is
/// kept while any claim remains. Anonymous stores (no owner key) make a claim with an empty owner,
/// which no Delete removes.
public struct OwnerClaim: Sendable, Hashable {
    /// The owner's P-256 public key (X9.63), or empty for an anonymous store.
    public var owner: [UInt8]
    /// When the claim was made (wall clock: nanoseconds since the Unix epoch).
    public var at: Timestamp

    public init(owner: [UInt8], at: Timestamp) {
        self.owner = owner
        self.at = at
    }
}

/// "Owner `owner` deleted this object at `at`": refuses claims by that owner dated before it
/// (a stale copy pushed back by repair), never a store by another owner, and never a fresh put.
public struct Tombstone: Sendable, Hashable {
    public var owner: [UInt8]
    /// When the Delete was applied here (wall clock: nanoseconds since the Unix epoch).
    public var at: Timestamp

    public init(owner: [UInt8], at: Timestamp) {
        self.owner = owner
        self.at = at
    }
}

/// The outcome of offering claims for one object, by the ownership rules every holder applies.
///
/// A *claim* says "owner O keeps object X"; an owner-signed Delete removes the signer's claim and
/// leaves a *tombstone* "O deleted X at T". An object is kept while any claim remains. The rules,
/// per owner, are last-writer-wins between a claim and a tombstone:
/// - a *fresh* store (an owner putting a file now) always makes a claim and clears that owner's
///   tombstone: an owner can delete a file and put it again;
/// - a *pushed* claim (repair or hand-off carrying a claim made earlier elsewhere) is refused when
///   the owner's tombstone is at least as recent, so a holder that missed a Delete cannot bring the
///   object back; a newer pushed claim clears the tombstone;
/// - a tombstone never refuses another owner's claim, so no one can block content others publish.
/// Anonymous stores (no owner key) make a claim with an empty owner, which no Delete removes.
public struct ClaimDecision: Sendable, Hashable {
    /// Claims to record (each replacing that owner's older claim).
    public var accepted: [OwnerClaim]
    /// Owners whose tombstone the accepted claims supersede.
    public var clearedTombstones: [[UInt8]]
    /// Offered claims refused because their owner deleted the object later.
    public var refused: [OwnerClaim]

    /// Applies the rules above.
    /// - Parameters:
    ///   - offered: the claims a store carries (an anonymous claim when it names no owner).
    ///   - fresh: an owner storing now (`true`), or a push of earlier claims (`false`).
    ///   - now: the time a fresh claim is recorded with.
    ///   - tombstones: the object's tombstones here.
    public init(offered: [OwnerClaim], fresh: Bool, now: Timestamp, tombstones: [Tombstone]) {
        var latestDeletion: [[UInt8]: Timestamp] = [:]
        for t in tombstones { latestDeletion[t.owner] = max(latestDeletion[t.owner] ?? t.at, t.at) }
        var accepted: [[UInt8]: OwnerClaim] = [:]
        var refused: [OwnerClaim] = []
        for claim in offered {
            let candidate = fresh ? OwnerClaim(owner: claim.owner, at: now) : claim
            if !fresh, !claim.owner.isEmpty, let deleted = latestDeletion[claim.owner], deleted >= claim.at {
                refused.append(claim)
                continue
            }
            if let existing = accepted[claim.owner], existing.at >= candidate.at { continue }
            accepted[claim.owner] = candidate
        }
        self.accepted = accepted.values.sorted { $0.owner.lexicographicallyPrecedes($1.owner) }
        self.clearedTombstones = self.accepted.map(\.owner).filter { latestDeletion[$0] != nil }
        self.refused = refused
    }
}
