import ShoalCore
import ShoalStore
import ShoalWire

/// Who may delete what, decided without I/O: a pure policy handed the request, the time and what
/// the holder found.
///
/// 1. A Delete is authentic when its signature verifies against the key it carries, over the
///    deterministic encoding of its statement; it is fresh when issued within
///    ``DeleteRequest/maximumAge`` seconds before `now` and at most ``DeleteRequest/maximumClockSkew``
///    after it, so a captured Delete cannot be replayed later.
/// 2. It removes only the signer's claims. When the signer has no claim on any listed object the
///    holder keeps for others, it is refused as a whole (FORBIDDEN): only an owner deletes.
enum DeletePolicy {
    /// Checks the signature and freshness.
    /// - Returns: the owner the Delete removes claims of.
    /// - Throws: `WireError(.forbidden)` for a bad signature, `WireError(.badRequest)` for a stale or
    ///   future Delete.
    static func authorize(_ delete: DeleteRequest, nowSeconds: Int64) throws -> ObjectOwner {
        guard
            OwnerSignature.verify(
                signature: [UInt8](delete.signature), message: delete.statementBytes,
                publicKey: [UInt8](delete.ownerKey))
        else {
            throw WireError(.forbidden, "the Delete signature does not verify against the key it carries")
        }
        let age = nowSeconds.saturatingSubtract(delete.issuedAt)
        guard age <= DeleteRequest.maximumAge, age >= -DeleteRequest.maximumClockSkew else {
            throw WireError(
                .badRequest,
                "the Delete was issued \(age) s ago; only Deletes issued within the last \(DeleteRequest.maximumAge) s (and at most \(DeleteRequest.maximumClockSkew) s in the future) are accepted, so an old one cannot be replayed — sign a new one"
            )
        }
        guard let owner = ObjectOwner(key: [UInt8](delete.ownerKey)) else {
            throw WireError(
                .badRequest, "the Delete's owner key is \(delete.ownerKey.count) bytes; a P-256 public key is expected")
        }
        return owner
    }

    /// Whether the signer may delete here at all, given what this holder keeps: refused when some
    /// listed object is kept here for other owners only and the signer claims none of them.
    /// - Parameter claims: for each listed object held here as a replica, its claims.
    static func permits(owner: ObjectOwner, claims: [[OwnerClaim]]) -> Bool {
        let held = claims.filter { !$0.isEmpty }
        guard !held.isEmpty else { return true }
        return held.contains { $0.contains { $0.owner == owner } }
    }

    /// A signed Delete as holders hand it to each other (its canonical encoding), if it is one:
    /// the bytes hash to `id`, they are the canonical encoding of what they decode to, and its
    /// owner signature verifies. Its age is not checked: a kept Delete is evidence of a deletion
    /// that already happened, not a request to delete now.
    /// - Returns: the Delete, or `nil` when any check fails.
    static func verifySigned(_ bytes: [UInt8], id: Key256) -> DeleteRequest? {
        guard bytes.count <= WireLimits.maximumSignedDeleteBytes, Key256.sha256(of: bytes) == id,
            let delete = try? DeleteRequest(canonicalBytes: bytes), delete.canonicalBytes == bytes,
            OwnerSignature.verify(
                signature: [UInt8](delete.signature), message: delete.statementBytes,
                publicKey: [UInt8](delete.ownerKey))
        else { return nil }
        return delete
    }

    /// Whether `delete` (verified) made `tombstone` on `object`: it lists the object, its signer is
    /// the tombstone's owner, and its `issued_at` the tombstone's time.
    static func delete(_ delete: DeleteRequest, madeTombstone tombstone: Tombstone, of object: ContentID) -> Bool {
        tombstone.owner.key == [UInt8](delete.ownerKey) && tombstone.deletedAt == Timestamp(seconds: delete.issuedAt)
            && tombstone.deleteID == delete.deleteID && delete.objects.contains(object)
    }

    /// The answer to send once the Delete was applied to `objects`.
    static func acknowledgement(_ effects: [DeleteEffect], objects: [ContentID]) -> DeleteAck {
        var ack = DeleteAck(removed: 0, absent: 0)
        for (id, effect) in zip(objects, effects) {
            switch effect {
            case .removed, .droppedFromCache: ack.removed += 1
            case .retained: ack.retained.append(id)
            case .notClaimed: ack.absent += 1
            }
        }
        return ack
    }
}
