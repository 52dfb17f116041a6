import ShoalCore
import ShoalRepair
import XCTest

final class RecordReconciliationTests: XCTestCase {
    private let ids = randomIDs(300, seed: 71)

    func testTombstonesReachTheNodesThatMissedThemOnceVerified() throws {
        // The local node was away when alice deleted ids[5]; the peer has the tombstone and no copy.
        let delete = tombstone(by: alice, at: wall(5_000))
        var local = RecordTree(records: ids.map { record($0) })
        var peer = local
        peer.upsert(ObjectRecord(id: ids[5], kind: .chunk, isStored: false, tombstones: [delete]))
        // The peer lacks a deleted record we kept, and a live one (that one travels by push).
        let ours = ObjectRecord(
            id: Key256.sha256(of: [9]), kind: .chunk, isStored: false, tombstones: [tombstone(by: bob, at: wall(4_000))]
        )
        local.upsert(ours)
        let live = record(Key256.sha256(of: [8]))
        local.upsert(live)
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &peer))
        let plan = RecordReconciliation(outcome: outcome, local: local)
        XCTAssertEqual(plan.deleteIDsToVerify, [delete.deleteID])
        XCTAssertEqual(plan.recordsForPeer, [ours], "the deleted record; the live one goes with its push")

        XCTAssertEqual(plan.localUpdates(trusting: [], local: local), [], "an unverified tombstone changes nothing")
        let updates = plan.localUpdates(trusting: [delete.deleteID], local: local)
        XCTAssertEqual(updates.count, 1)
        let updated = try XCTUnwrap(updates.first)
        XCTAssertTrue(updated.isDeleted)
        XCTAssertTrue(updated.isStored, "the bytes are still here until the planner discards them")
        for r in updates { local.upsert(r) }
        for r in plan.recordsForPeer { peer.upsert(peer.record(r.id).map { $0.merged(with: r) } ?? r.storing(false)) }
        peer.upsert(live)
        local.upsert(local.record(ids[5])!.storing(false))  // the planner's discard
        let (again, run) = try XCTUnwrap(exchange(&local, with: &peer))
        XCTAssertTrue(again.isIdentical, "\(again.differing)")
        XCTAssertEqual(run.requests, 1)
    }

    func testDifferingClaimsMergeBothWays() throws {
        var local = RecordTree(records: ids.map { record($0) })
        var peer = local
        local.upsert(record(ids[1], owners: [alice, bob]))
        peer.upsert(record(ids[1], owners: [alice, carol]))
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &peer))
        let plan = RecordReconciliation(outcome: outcome, local: local)
        XCTAssertEqual(plan.deleteIDsToVerify, [])
        XCTAssertEqual(plan.recordsForPeer.map(\.owners), [[alice, bob, carol]])
        XCTAssertEqual(plan.localUpdates(trusting: [], local: local).map(\.owners), [[alice, bob, carol]])
    }

    func testRecordsWeLackAreKeptAsMetadataOnly() throws {
        var local = RecordTree()
        var peer = RecordTree(records: ids.prefix(3).map { record($0) })
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &peer))
        let updates = RecordReconciliation(outcome: outcome, local: local).localUpdates(trusting: [], local: local)
        XCTAssertEqual(updates.count, 3)
        XCTAssertTrue(updates.allSatisfy { !$0.isStored && $0.owners == [alice] })
    }
}
