import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

/// Issue 11's scenarios on the pure pieces wired together (RepairSimulation): deletes that stay
/// deleted for a returning holder and a late joiner, and re-replication after a death.
final class RepairSimulationTests: XCTestCase {
    private func cluster(nodes: Int = 7, objects: Int = 150, seed: UInt64) -> (RepairSimulation, [ContentID]) {
        var rng = SeededRandom(seed: seed)
        var sim = RepairSimulation(replicas: 3)
        for _ in 0..<nodes { sim.add(Key256.random(using: &rng)) }
        let ids = (0..<objects).map { _ in Key256.random(using: &rng) }
        sim.put(ids.map { record($0) })
        return (sim, ids)
    }

    func testAStableClusterNeedsNothing() {
        var (sim, ids) = cluster(seed: 81)
        sim.round()
        sim.round()
        XCTAssertTrue(sim.pushes.isEmpty)
        XCTAssertEqual(sim.misplaced(ids), [])
    }

    func testAHolderThatMissedADeleteLearnsItAndFreesItsCopy() throws {
        var (sim, ids) = cluster(seed: 82)
        sim.round()
        let deleted = ids[0]
        let away = try XCTUnwrap(sim.placement().holders(of: deleted)!.first)
        sim.nodes[away]!.isUp = false
        let t = tombstone(by: alice, at: wall(3_000))
        sim.delete(deleted, t)
        for _ in 0..<3 { sim.round() }
        XCTAssertEqual(sim.storers(of: deleted), [], "deleted everywhere that heard it, and repaired nowhere")

        sim.nodes[away]!.isUp = true
        XCTAssertEqual(sim.nodes[away]!.tree.record(deleted)?.isStored, true, "it comes back with its copy")
        let pushesBefore = sim.pushes.count
        for _ in 0..<3 { sim.round() }
        let record = try XCTUnwrap(sim.nodes[away]!.tree.record(deleted))
        XCTAssertTrue(record.isDeleted, "it learned the Delete from its co-holders")
        XCTAssertFalse(record.isStored, "and freed its disk space")
        XCTAssertEqual(sim.storers(of: deleted), [])
        XCTAssertFalse(sim.pushes[pushesBefore...].contains { $0.0 == deleted }, "nothing brought it back")
        XCTAssertEqual(sim.misplaced(ids.dropFirst()), [], "live objects are at r replicas")
    }

    func testALateJoinerIsPushedNothingDeleted() throws {
        var (sim, ids) = cluster(seed: 83)
        sim.round()
        let deleted = Array(ids.prefix(10))
        for id in deleted { sim.delete(id, tombstone(by: alice, at: wall(4_000))) }
        sim.round()
        // A node joins right next to the first deleted object (closest to it of all).
        let joiner = deleted[0].settingBit(255, to: !deleted[0].bit(255))
        sim.add(joiner)
        let pushesBefore = sim.pushes.count
        for _ in 0..<4 { sim.round() }
        let toJoiner = sim.pushes[pushesBefore...].filter { $0.1 == joiner }.map(\.0)
        XCTAssertFalse(toJoiner.isEmpty, "it is given the live objects it is now responsible for")
        XCTAssertTrue(Set(toJoiner).isDisjoint(with: deleted), "and none of the deleted ones")
        let learned = try XCTUnwrap(sim.nodes[joiner]!.tree.record(deleted[0]))
        XCTAssertTrue(learned.isDeleted, "it knows the Delete of the object it is now closest to")
        XCTAssertFalse(learned.isStored)
        XCTAssertEqual(sim.misplaced(ids.dropFirst(10)), [])
    }

    func testSharedContentDeletedByOneOwnerIsStillRepairedWithBothRecords() throws {
        var (sim, ids) = cluster(seed: 84)
        let shared = ids[5]
        for holder in sim.placement().holders(of: shared)! {
            sim.nodes[holder]!.tree.upsert(record(shared, owners: [alice, bob]))
        }
        sim.delete(shared, tombstone(by: alice, at: wall(5_000)))
        let victim = try XCTUnwrap(sim.placement().holders(of: shared)!.last)
        sim.nodes[victim]!.isUp = false
        for _ in 0..<4 { sim.round() }
        XCTAssertEqual(
            sim.storers(of: shared), Set(sim.placement().holders(of: shared)!),
            "back at r replicas without the dead node")
        XCTAssertFalse(sim.storers(of: shared).contains(victim))
        for holder in sim.storers(of: shared) {
            let r = try XCTUnwrap(sim.nodes[holder]!.tree.record(shared))
            XCTAssertEqual(r.owners, [bob])
            XCTAssertEqual(r.tombstones.map(\.owner), [alice])
        }
        XCTAssertEqual(sim.misplaced(ids), [])
    }
}
