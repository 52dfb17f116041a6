import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

final class RepairLeavePlanTests: XCTestCase {
    func testLeavingNodeHandsEachObjectToTheNextClosestNodesThatLackIt() {
        var planner = RepairPlanner(localID: node(2).id, replicas: 3)
        let inventory = [
            InventoryEntry(id: object(0), size: 10),
            InventoryEntry(id: object(1), size: 10, isPinned: true),
            InventoryEntry(id: object(2), size: 10, isTombstoned: true),
        ]
        let p = planner.leavePlan(inventory: inventory, now: .zero) { id in
            // This node is second closest; node 4 comes next once it is gone.
            ObjectPlacement(
                closest: [node(1), node(2), node(3), node(4)],
                holders: id == object(0) ? [node(1).id, node(3).id] : [node(1).id])
        }
        XCTAssertEqual(
            Set(p.actions),
            [
                .push(object(0), to: node(4)),
                .push(object(1), to: node(3)), .push(object(1), to: node(4)),
            ])
        XCTAssertTrue(p.drops.isEmpty)
        XCTAssertEqual(p.backlog, 0)
    }

    func testLeavePlanIsBoundedAndResumable() {
        var planner = RepairPlanner(localID: node(9).id, replicas: 2, limits: RepairLimits(maximumPushes: 3))
        let inventory = (0..<4).map { InventoryEntry(id: object($0), size: 1) }
        var holders: [ContentID: Set<NodeID>] = [:]
        func placement(_ id: ContentID) -> ObjectPlacement {
            ObjectPlacement(closest: [node(1), node(2), node(9)], holders: holders[id] ?? [])
        }
        var emitted: Set<RepairAction> = []
        var rounds = 0
        var backlog = Int.max
        while backlog > 0 || planner.inFlightCount > 0, rounds < 10 {
            rounds += 1
            let p = planner.leavePlan(inventory: inventory, now: .zero, placement: placement)
            XCTAssertLessThanOrEqual(p.pushes.count, 3)
            XCTAssertTrue(emitted.isDisjoint(with: p.actions), "nothing is emitted twice while in flight")
            emitted.formUnion(p.actions)
            backlog = p.backlog
            for case .push(let id, let to) in p.actions {
                planner.onPushFinished(id, to: to.id)
                holders[id, default: []].insert(to.id)
            }
        }
        XCTAssertEqual(emitted.count, 8)
        XCTAssertEqual(rounds, 3, "8 pushes, 3 at a time")
        XCTAssertEqual(planner.leavePlan(inventory: inventory, now: .zero, placement: placement).actions, [])
    }
}
