import ShoalCore
import ShoalRepair
import XCTest

final class ObjectRecordTests: XCTestCase {
    private let id = Key256(words: (1, 2, 3, 4))

    func testOneEntryPerOwnerTheLaterWinsATombstoneWinsATie() {
        let r = ObjectRecord(
            id: id, kind: .chunk, isStored: true,
            claims: [
                OwnerClaim(owner: bob, claimedAt: wall(5)), OwnerClaim(owner: alice, claimedAt: wall(10)),
                OwnerClaim(owner: alice, claimedAt: wall(20)), OwnerClaim(owner: carol, claimedAt: wall(30)),
            ],
            tombstones: [
                tombstone(by: alice, at: wall(15)), tombstone(by: bob, at: wall(5)), tombstone(by: carol, at: wall(29)),
            ])
        XCTAssertEqual(
            r.claims, [OwnerClaim(owner: alice, claimedAt: wall(20)), OwnerClaim(owner: carol, claimedAt: wall(30))],
            "alice claimed again after her delete; carol's claim is later than her tombstone")
        XCTAssertEqual(r.tombstones, [tombstone(by: bob, at: wall(5))], "a tombstone wins a tie with a claim")
        XCTAssertEqual(r.owners, [alice, carol])
        XCTAssertFalse(r.isDeleted)
    }

    func testDeletedOnlyWhenNoClaimRemains() {
        let shared = record(id, owners: [alice, bob])
        XCTAssertFalse(shared.deleting(tombstone(by: alice, at: wall(2_000))).isDeleted, "bob still owns it")
        let gone = shared.deleting(tombstone(by: alice, at: wall(2_000))).deleting(tombstone(by: bob, at: wall(2_001)))
        XCTAssertTrue(gone.isDeleted)
        XCTAssertEqual(gone.owners, [])
        XCTAssertFalse(
            record(id, owners: []).isDeleted, "an ownerless object (stored before owners were recorded) is not deleted")
        XCTAssertFalse(gone.claiming(by: alice, at: wall(3_000)).isDeleted, "an owner may put it again later")
        XCTAssertTrue(
            gone.claiming(by: alice, at: wall(1_500)).isDeleted, "a stale claim from before the delete stays deleted")
    }

    func testMergeIsCommutativeAssociativeAndIdempotent() {
        let a = record(id, owners: [alice], claimedAt: wall(10))
        let b = record(id, owners: [bob], claimedAt: wall(11), kind: .manifest).deleting(
            tombstone(by: alice, at: wall(12)))
        let c = record(id, owners: [carol, alice], claimedAt: wall(13), stored: false)
        func owners(_ r: ObjectRecord) -> ([OwnerClaim], [Tombstone], ObjectRecord.Kind) {
            (r.claims, r.tombstones, r.kind)
        }
        XCTAssertTrue(owners(a.merged(with: b)) == owners(b.merged(with: a)))
        XCTAssertTrue(owners(a.merged(with: b).merged(with: c)) == owners(a.merged(with: b.merged(with: c))))
        XCTAssertEqual(a.merged(with: a), a)
        XCTAssertEqual(a.merged(with: b).merged(with: b), a.merged(with: b))
        XCTAssertEqual(a.merged(with: c).isStored, true, "stored describes this node and survives a merge")
        XCTAssertEqual(c.merged(with: a).isStored, false)
        XCTAssertEqual(a.merged(with: b).kind, .manifest)
        XCTAssertEqual(
            a.merged(with: b).merged(with: c).owners, [alice, bob, carol], "alice's claim at 13 beats her delete at 12")
    }

    func testDigestCoversEveryField() {
        let base = record(id)
        let variants = [
            record(Key256(words: (1, 2, 3, 5))), record(id, kind: .manifest), record(id, stored: false),
            record(id, owners: [bob]), record(id, owners: [alice, bob]), record(id, claimedAt: wall(1_001)),
            base.deleting(tombstone(by: bob, at: wall(1))),
            base.deleting(Tombstone(owner: bob, deletedAt: wall(1), deleteID: .zero)),
        ]
        var digests: Set<RangeHash> = [base.digest]
        for v in variants { digests.insert(v.digest) }
        XCTAssertEqual(digests.count, variants.count + 1, "every change makes a different digest")
        XCTAssertEqual(record(id).digest, base.digest, "the digest is a function of the record")
    }

    func testPruningDropsOnlyExpiredTombstones() {
        let r = record(id, owners: [carol]).deleting(tombstone(by: alice, at: wall(100))).deleting(
            tombstone(by: bob, at: wall(200)))
        let pruned = r.pruned(at: TombstoneHorizon(cutoff: wall(150)))
        XCTAssertEqual(pruned.tombstones.map(\.owner), [bob])
        XCTAssertEqual(pruned.owners, [carol])
        XCTAssertEqual(
            r.pruned(at: TombstoneHorizon(cutoff: wall(100))), r, "a tombstone at the cutoff has not expired")
        XCTAssertTrue(
            ObjectRecord(id: id, kind: .chunk, isStored: false, tombstones: [tombstone(at: wall(1))])
                .pruned(at: TombstoneHorizon(cutoff: wall(2))).isEmpty)
    }

    func testOwnerKeysAreBounded() {
        XCTAssertNil(ObjectOwner(key: []))
        XCTAssertNil(ObjectOwner(key: Array(repeating: 1, count: ObjectOwner.maximumKeyLength + 1)))
        XCTAssertNotNil(ObjectOwner(key: Array(repeating: 1, count: ObjectOwner.maximumKeyLength)))
        XCTAssertLessThan(bob, carol)
    }
}
