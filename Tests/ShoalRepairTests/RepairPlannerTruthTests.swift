import ShoalCore
import ShoalRepair
import XCTest

/// The planner fed what the shell now passes: records with kind, every owner and tombstones,
/// real pins, and holder evidence from exchanges.
final class RepairPlannerTruthTests: XCTestCase {
    private let r = 3
    private let closest = [node(1), node(2), node(3)]

    /// Evidence that each of `nodes` was compared over the whole key space and lacks `lacking` there.
    private func evidence(
        _ holdings: [UInt64: Set<ContentID>], lacking: [UInt64: Set<ContentID>] = [:]
    ) -> HolderEvidence {
        var evidence = HolderEvidence()
        for k in Set(holdings.keys).union(lacking.keys) {
            var outcome = ExchangeOutcome(peer: node(k).id, horizon: .origin, ranges: [.everything])
            outcome.peerLacks = (lacking[k] ?? []).sorted().map { record($0) }
            evidence.absorb(outcome)
        }
        return evidence
    }

    private func everyoneLacks(_ ids: Set<ContentID>, nodes: [UInt64] = [1, 2, 3]) -> HolderEvidence {
        evidence([:], lacking: Dictionary(uniqueKeysWithValues: nodes.map { ($0, ids) }))
    }

    func testPushesCarryTheKindEveryOwnerAndTheTombstones() {
        let manifest = record(object(0), owners: [alice, bob, carol], kind: .manifest)
            .deleting(tombstone(by: Self.dave, at: wall(1)))
        var planner = RepairPlanner(localID: node(9).id, replicas: r)
        let plan = planner.plan(
            inventory: [InventoryEntry(record: manifest, size: 10)], now: .zero,
            evidence: everyoneLacks([object(0)])
        ) { _ in self.closest }
        XCTAssertEqual(plan.objectPushes.count, 3)
        for push in plan.objectPushes {
            XCTAssertEqual(push.kind, .manifest)
            XCTAssertEqual(push.claims.map(\.owner), [alice, bob, carol], "every owner, not the first")
            XCTAssertEqual(push.tombstones.map(\.owner), [Self.dave])
            XCTAssertEqual(push.record, manifest)
            XCTAssertEqual(push.size, 10)
        }
        XCTAssertEqual(Set(plan.objectPushes.map(\.target)), Set(closest))
    }

    func testDeletedContentIsNeverPushedAndItsBytesAreFreedEvenWhenPinned() {
        let deleted = record(object(0)).deleting(tombstone(by: alice, at: wall(2_000)))
        XCTAssertTrue(deleted.isDeleted)
        var planner = RepairPlanner(localID: node(2).id, replicas: r)
        var asked = 0
        let plan = planner.plan(
            inventory: [
                InventoryEntry(record: deleted, size: 10),
                InventoryEntry(record: record(object(1)).deleting(tombstone(at: wall(2_000))), size: 5, isPinned: true),
            ],
            now: .zero, evidence: everyoneLacks([object(0), object(1)])
        ) { _ in
            asked += 1
            return self.closest
        }
        XCTAssertEqual(plan.objectPushes, [])
        XCTAssertEqual(plan.discarded, [object(0), object(1)])
        XCTAssertEqual(asked, 0, "no placement needed for deleted content")
        let leaving = planner.leavePlan(
            inventory: [InventoryEntry(record: deleted, size: 10)], now: .zero, evidence: HolderEvidence()
        ) { _ in self.closest }
        XCTAssertEqual(leaving.directives, [])
    }

    func testContentWithAnotherRemainingOwnerIsStillRepaired() {
        let shared = record(object(0), owners: [alice, bob]).deleting(tombstone(by: alice, at: wall(2_000)))
        XCTAssertEqual(shared.owners, [bob])
        XCTAssertFalse(shared.isDeleted)
        var planner = RepairPlanner(localID: node(1).id, replicas: r)
        let plan = planner.plan(
            inventory: [InventoryEntry(record: shared, size: 10)], now: .zero,
            evidence: evidence([2: []], lacking: [3: [object(0)]])
        ) { _ in self.closest }
        XCTAssertEqual(plan.objectPushes.map(\.target), [node(3)])
        XCTAssertEqual(plan.objectPushes.first?.claims.map(\.owner), [bob])
        XCTAssertEqual(
            plan.objectPushes.first?.tombstones.map(\.owner), [alice], "the target learns alice's delete with the copy")
        XCTAssertEqual(plan.discarded, [])
    }

    func testPinnedObjectsAreHandedOffButKept() {
        let held = evidence([1: [], 2: [], 3: []])
        var planner = RepairPlanner(localID: node(9).id, replicas: r)
        let pinned = planner.plan(
            inventory: [InventoryEntry(record: record(object(0)), size: 10, isPinned: true)],
            now: .zero, evidence: held
        ) { _ in self.closest }
        XCTAssertEqual(pinned.directives, [])
        let unpinned = planner.plan(
            inventory: [InventoryEntry(record: record(object(0)), size: 10)],
            now: .zero, evidence: held
        ) { _ in self.closest }
        XCTAssertEqual(unpinned.directives, [.drop(object(0))])
        let partly = planner.plan(
            inventory: [InventoryEntry(record: record(object(0)), size: 10, isPinned: true)],
            now: .zero, evidence: evidence([1: [], 2: []], lacking: [3: [object(0)]])
        ) { _ in self.closest }
        XCTAssertEqual(partly.objectPushes.map(\.target), [node(3)])
    }

    func testUnknownHoldersAreNeitherPushedToNorCountedAsReplicas() {
        var planner = RepairPlanner(localID: node(9).id, replicas: r)
        let entry = InventoryEntry(record: record(object(0)), size: 10)
        // Nodes 1 and 2 compared (1 holds, 2 lacks); node 3 never compared.
        let partial = evidence([1: []], lacking: [2: [object(0)]])
        let plan = planner.plan(inventory: [entry], now: .zero, evidence: partial) { _ in self.closest }
        XCTAssertEqual(plan.objectPushes.map(\.target), [node(2)])
        XCTAssertEqual(plan.handedOff, [], "node 3 might lack it: no drop")
        XCTAssertEqual(plan.awaitingEvidence, 1)
        var later = RepairPlanner(localID: node(9).id, replicas: r)
        let none = later.plan(inventory: [entry], now: .zero, evidence: HolderEvidence()) { _ in self.closest }
        XCTAssertEqual(none.directives, [])
        XCTAssertEqual(none.awaitingEvidence, 1)
        // Leaving, there is no time to wait: unknown counts as lacking.
        let leaving = later.leavePlan(inventory: [entry], now: .zero, evidence: partial) { _ in self.closest }
        XCTAssertEqual(Set(leaving.objectPushes.map(\.target)), [node(2), node(3)])
    }

    func testTheClosestKnownHolderIsResponsible() {
        func pushes(local: UInt64, holders: [UInt64: Set<ContentID>], lacking: [UInt64: Set<ContentID>]) -> [Contact] {
            var planner = RepairPlanner(localID: node(local).id, replicas: r)
            return planner.plan(
                inventory: [InventoryEntry(record: record(object(0)), size: 1)], now: .zero,
                evidence: evidence(holders, lacking: lacking)
            ) { _ in self.closest }.objectPushes.map(\.target)
        }
        XCTAssertEqual(
            pushes(local: 3, holders: [1: []], lacking: [2: [object(0)]]), [], "node 1 is closer and holds it")
        XCTAssertEqual(pushes(local: 1, holders: [2: []], lacking: [3: [object(0)]]), [node(3)])
        XCTAssertEqual(pushes(local: 2, holders: [3: []], lacking: [1: [object(0)]]), [node(1)])
    }

    func testEvidenceFromRealExchangesDrivesPushesAndAcknowledgedPushesStopThem() throws {
        let ids = (0..<40).map { object($0) }
        let records = ids.map { record($0, owners: [alice, bob], kind: $0 == ids[0] ? .manifest : .chunk) }
        var mine = RecordTree(records: records)
        var peers: [UInt64: RecordTree] = [1: mine, 2: mine, 3: mine]
        peers[2]?.remove(ids[0])
        peers[3]?.upsert(records[7].storing(false))
        var evidence = HolderEvidence()
        for k in [UInt64(1), 2, 3] {
            var session = ExchangeSession(peer: node(k), ranges: [.everything], horizon: mine.horizon)
            var peer = peers[k]!
            guard case .success(let outcome) = LoopbackExchange.run(&session, local: &mine, peer: &peer).outcome else {
                return XCTFail("exchange failed")
            }
            evidence.absorb(outcome)
        }
        var planner = RepairPlanner(localID: node(9).id, replicas: r)
        let inventory = records.map { InventoryEntry(record: $0, size: 100) }
        let plan = planner.plan(inventory: inventory, now: .zero, evidence: evidence) { _ in self.closest }
        XCTAssertEqual(
            Set(plan.objectPushes.map { "\($0.object.short)→\($0.target.id.short)" }),
            ["\(ids[0].short)→\(node(2).id.short)", "\(ids[7].short)→\(node(3).id.short)"])
        XCTAssertEqual(plan.objectPushes.first { $0.object == ids[0] }?.kind, .manifest)
        XCTAssertEqual(plan.handedOff.count, 38, "every other object is on all three: dropped here")
        for push in plan.objectPushes {
            planner.onPushFinished(push.object, to: push.target.id)
            evidence.noteStored(push.object, on: push.target.id)
        }
        let after = planner.plan(inventory: inventory, now: .zero, evidence: evidence) { _ in self.closest }
        XCTAssertEqual(after.objectPushes, [])
        XCTAssertEqual(after.handedOff.count, 40)
    }

    private static let dave = ObjectOwner(key: [0x04] + Array(repeating: 0xD0, count: 64))!
}
