import ShoalCore
import ShoalRepair
import XCTest

/// The first model's entry points (per-object placements instead of records and evidence), as
/// the node's repair shell called them before it moved to anti-entropy: they keep their meaning.
final class FirstModelCompatibilityTests: XCTestCase {
    func testTheShellsCallsStillWork() {
        let local = node(9)
        var planner = RepairPlanner(
            localID: local.id, replicas: 3,
            limits: RepairLimits(maximumPushes: 64, maximumBytes: 64 << 20, pushTimeout: .seconds(60)))
        let inventory = [object(0), object(1)].map {
            InventoryEntry(id: $0, size: 10, isPinned: false, isTombstoned: false)
        }
        let sizes = Dictionary(inventory.map { ($0.id, $0.size) }, uniquingKeysWith: { a, _ in a })
        let placements: [ContentID: ObjectPlacement] = [
            object(0): ObjectPlacement(closest: [node(1), node(2), node(3)], holders: [node(1).id]),
            object(1): ObjectPlacement(
                closest: [node(1), node(2), node(3)], holders: [node(1).id, node(2).id, node(3).id]),
        ]
        XCTAssertEqual(inventory.map(\.id), [object(0), object(1)])
        let plan = planner.plan(inventory: inventory, now: .zero) {
            placements[$0] ?? ObjectPlacement(closest: [local])
        }
        var pushed: [ContentID] = []
        var dropped: [ContentID] = []
        for action in plan.actions {
            switch action {
            case .push(let id, let target):
                XCTAssertNotEqual(target.id, node(1).id)
                pushed.append(id)
                planner.onPushFinished(id, to: target.id)
            case .drop(let id):
                dropped.append(id)
            }
        }
        XCTAssertEqual(pushed, [object(0), object(0)])
        XCTAssertEqual(dropped, [object(1)])
        XCTAssertEqual(plan.drops.count, 1)
        XCTAssertEqual(plan.backlog, 0)
        XCTAssertEqual(sizes[object(0)], 10)
        let leave = planner.leavePlan(inventory: inventory, now: .zero) {
            placements[$0] ?? ObjectPlacement(closest: [])
        }
        XCTAssertEqual(leave.pushes.count, 2, "object 0 to nodes 2 and 3")
    }
}
