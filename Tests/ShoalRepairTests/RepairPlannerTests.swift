import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

final class RepairPlannerTests: XCTestCase {
    private let r = 3

    private func plan(
        local: UInt64, closest: [UInt64], holders: Set<UInt64>,
        entry: InventoryEntry = InventoryEntry(id: object(0), size: 10)
    ) -> RepairPlan {
        var planner = RepairPlanner(localID: node(local).id, replicas: r)
        return planner.plan(inventory: [entry], now: .zero) { _ in
            ObjectPlacement(closest: closest.map(node), holders: Set(holders.map { node($0).id }))
        }
    }

    func testPushesToCloserNodesThatLackIt() {
        let p = plan(local: 3, closest: [3, 1, 2], holders: [])
        XCTAssertEqual(p.actions, [.push(object(0), to: node(1)), .push(object(0), to: node(2))])
        XCTAssertEqual(p.backlog, 0)
        XCTAssertEqual(p.inFlight, 2)
    }

    func testTheClosestConfirmedHolderIsResponsible() {
        XCTAssertEqual(plan(local: 3, closest: [1, 2, 3], holders: [1]).actions, [], "node 1 is closer and holds it")
        XCTAssertEqual(plan(local: 1, closest: [1, 2, 3], holders: [2]).actions, [.push(object(0), to: node(3))])
        XCTAssertEqual(plan(local: 2, closest: [1, 2, 3], holders: [3]).actions, [.push(object(0), to: node(1))])
        XCTAssertEqual(plan(local: 2, closest: [1, 2, 3], holders: [1, 3]).actions, [])
    }

    func testOnlyTheRClosestCount() {
        // Node 4 is the fourth closest: neither pushed to nor a reason to push.
        XCTAssertEqual(plan(local: 1, closest: [4, 3, 2, 1], holders: [2, 3]).actions, [])
    }

    func testTombstonedContentIsNeverPushed() {
        var planner = RepairPlanner(localID: node(9).id, replicas: r)
        var asked = 0
        let p = planner.plan(
            inventory: [InventoryEntry(id: object(0), size: 10, isTombstoned: true)], now: .zero
        ) { _ in
            asked += 1
            return ObjectPlacement(closest: [node(1), node(2), node(3)])
        }
        XCTAssertEqual(p.actions, [])
        XCTAssertEqual(p.backlog, 0)
        XCTAssertEqual(asked, 0)
        let leaving = planner.leavePlan(
            inventory: [InventoryEntry(id: object(0), size: 10, isTombstoned: true)], now: .zero
        ) { _ in ObjectPlacement(closest: [node(1), node(2), node(3)]) }
        XCTAssertEqual(leaving.actions, [])
    }

    func testDropsOnlyAfterAConfirmedHandOff() {
        // This node (9) is no longer among the 3 closest.
        XCTAssertEqual(
            plan(local: 9, closest: [1, 2, 3], holders: []).actions,
            [.push(object(0), to: node(1)), .push(object(0), to: node(2)), .push(object(0), to: node(3))])
        XCTAssertEqual(plan(local: 9, closest: [1, 2, 3], holders: [1, 2]).actions, [.push(object(0), to: node(3))])
        XCTAssertEqual(plan(local: 9, closest: [1, 2, 3], holders: [1, 2, 3]).actions, [.drop(object(0))])
        // Fewer than r live nodes known: never drop.
        XCTAssertEqual(plan(local: 9, closest: [1, 2], holders: [1, 2]).actions, [])
        // Still among the r closest: never drop.
        XCTAssertEqual(plan(local: 2, closest: [1, 2, 3], holders: [1, 3]).actions, [])
        // Pinned: handed off but kept.
        let pinned = InventoryEntry(id: object(0), size: 10, isPinned: true)
        XCTAssertEqual(plan(local: 9, closest: [1, 2, 3], holders: [1, 2, 3], entry: pinned).actions, [])
        XCTAssertEqual(
            plan(local: 9, closest: [1, 2, 3], holders: [1, 2], entry: pinned).actions, [.push(object(0), to: node(3))])
    }

    func testPushesAreBoundedAndTheRestIsBacklog() {
        var planner = RepairPlanner(localID: node(9).id, replicas: r, limits: RepairLimits(maximumPushes: 4))
        let inventory = (0..<10).map { InventoryEntry(id: object($0), size: 100) }
        var holders: [ContentID: Set<NodeID>] = [:]
        func placement(_ id: ContentID) -> ObjectPlacement {
            ObjectPlacement(closest: [node(1), node(2), node(3)], holders: holders[id] ?? [])
        }

        let first = planner.plan(inventory: inventory, now: .zero, placement: placement)
        XCTAssertEqual(first.pushes.count, 4)
        XCTAssertEqual(first.backlog, 26)
        XCTAssertEqual(first.backlogBytes, 2600)
        XCTAssertEqual(first.inFlight, 4)

        // Nothing new while the window is full; nothing emitted twice.
        let second = planner.plan(inventory: inventory, now: seconds(1), placement: placement)
        XCTAssertEqual(second.pushes.count, 0)
        XCTAssertEqual(second.backlog, 26)

        // Two succeed: two more go out, different ones.
        for case .push(let id, let to) in first.actions.prefix(2) {
            planner.onPushFinished(id, to: to.id)
            holders[id, default: []].insert(to.id)
        }
        let third = planner.plan(inventory: inventory, now: seconds(2), placement: placement)
        XCTAssertEqual(third.pushes.count, 2)
        XCTAssertTrue(Set(third.pushes).isDisjoint(with: Set(first.pushes)))
        XCTAssertEqual(third.backlog, 26 - 2)

        // A failed push (finished, holder not confirmed) is planned again.
        guard case .push(let failedID, let failedTarget) = third.actions[0] else { return XCTFail("expected a push") }
        planner.onPushFinished(failedID, to: failedTarget.id)
        let fourth = planner.plan(inventory: inventory, now: seconds(3), placement: placement)
        XCTAssertEqual(fourth.actions, [.push(failedID, to: failedTarget)])

        // In-flight pushes time out and are planned again.
        let later = planner.plan(inventory: inventory, now: seconds(400), placement: placement)
        XCTAssertEqual(later.pushes.count, 4)
        XCTAssertEqual(later.backlog, 24)
    }

    func testByteBudget() {
        var planner = RepairPlanner(
            localID: node(9).id, replicas: 1, limits: RepairLimits(maximumPushes: 100, maximumBytes: 250))
        let placement: (ContentID) -> ObjectPlacement = { _ in ObjectPlacement(closest: [node(1)]) }
        let small = (0..<5).map { InventoryEntry(id: object($0), size: 100) }
        let p = planner.plan(inventory: small, now: .zero, placement: placement)
        XCTAssertEqual(p.pushes.count, 2)
        XCTAssertEqual(p.backlog, 3)

        var fresh = RepairPlanner(localID: node(9).id, replicas: 1, limits: RepairLimits(maximumBytes: 250))
        let hugeObject = InventoryEntry(id: object(7), size: 10_000)
        let huge = fresh.plan(inventory: [hugeObject], now: .zero, placement: placement)
        XCTAssertEqual(huge.actions, [.push(object(7), to: node(1))], "an object over the budget still goes, alone")
    }

    func testMostEndangeredObjectsGoFirst() {
        var planner = RepairPlanner(localID: node(9).id, replicas: r, limits: RepairLimits(maximumPushes: 1))
        let safe = object(1)
        let endangered = object(2)
        let p = planner.plan(
            inventory: [InventoryEntry(id: safe, size: 1), InventoryEntry(id: endangered, size: 1)], now: .zero
        ) { id in
            id == safe
                ? ObjectPlacement(closest: [node(1), node(2), node(3)], holders: [node(1).id, node(2).id])
                : ObjectPlacement(closest: [node(1), node(2), node(3)], holders: [])
        }
        XCTAssertEqual(p.actions.count, 1)
        guard case .push(let id, _) = p.actions[0] else { return XCTFail("expected a push") }
        XCTAssertEqual(id, endangered)
        XCTAssertEqual(p.backlog, 3)
    }

    private func seconds(_ s: Int64) -> Timestamp { Timestamp(nanoseconds: s * 1_000_000_000) }
}
