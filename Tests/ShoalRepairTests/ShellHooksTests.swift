import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

/// What the node's shell relies on beyond the exchange itself: ranges it holds quarantined copies
/// in are compared like ranges with records, learned tombstones are judged one by one, and the
/// tombstone policy scales with the grace a node is started with.
final class ShellHooksTests: XCTestCase {
    private var rng = SeededRandom(seed: 91)
    private lazy var cluster: [Contact] = (0..<12).map { i in
        Contact(id: Key256.random(using: &rng), address: PeerAddress(host: "127.0.2.\(i + 1)", port: 7000))
    }

    func testRangesWithQuarantinedCopiesAreComparedWithTheirHolders() throws {
        let me = cluster[0]
        let map = ResponsibilityMap(nodes: cluster.map(\.id), replicas: 3)
        let foreign = try XCTUnwrap(map.ranges.first { !$0.holders.contains(me.id) })
        var plain = ExchangeScheduler(
            localID: me.id, replicas: 3, limits: ExchangeScheduleLimits(maximumExchangesPerRound: 100))
        let without = plain.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero)
        XCTAssertFalse(
            without.contains { $0.ranges.contains(foreign.range) }, "a range neither held nor owned is not compared")

        var holding = ExchangeScheduler(
            localID: me.id, replicas: 3, limits: ExchangeScheduleLimits(maximumExchangesPerRound: 100))
        let with = holding.planRound(
            neighbourhood: cluster, local: RecordTree(), now: .zero, alsoHolding: { $0 == foreign.range })
        let comparing = Set(with.filter { $0.ranges.contains(foreign.range) }.map(\.peer.id))
        XCTAssertEqual(
            comparing, Set(foreign.holders), "every holder of the range is asked about the copies held there")
    }

    func testLearnedTombstonesAreJudgedOneByOne() throws {
        let ids = randomIDs(40, seed: 92)
        var local = RecordTree(records: ids.map { record($0) })
        var peer = local
        // One Delete (one delete ID) names ids[0]; the peer also carries it on ids[1], which the
        // Delete does not list: that tombstone must not be applied.
        let real = tombstone(by: alice, at: wall(9_000))
        peer.upsert(record(ids[0]).deleting(real))
        peer.upsert(record(ids[1]).deleting(real))
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &peer))
        let reconciliation = RecordReconciliation(outcome: outcome, local: local)
        XCTAssertEqual(reconciliation.deleteIDsToVerify, [real.deleteID])
        let updates = reconciliation.localUpdates(
            trusting: { id, t in id == ids[0] && t.deleteID == real.deleteID }, local: local)
        XCTAssertEqual(updates.map(\.id), [ids[0]])
        XCTAssertTrue(try XCTUnwrap(updates.first).isDeleted)
        // Trusting by delete ID alone would have applied both.
        XCTAssertEqual(
            Set(reconciliation.localUpdates(trusting: [real.deleteID], local: local).map(\.id)), [ids[0], ids[1]])
    }

    func testThePolicyScalesItsEpochWithTheGrace() {
        let standard = TombstonePolicy.scaled(grace: .seconds(10 * 24 * 3600))
        XCTAssertEqual(standard, TombstonePolicy(), "ten days: the default policy, one-hour epochs")
        let short = TombstonePolicy.scaled(grace: .seconds(20))
        XCTAssertEqual(short.epoch, .seconds(1))
        XCTAssertEqual(short.grace, .seconds(20))
        XCTAssertEqual(short.rejoinBound, .seconds(18))
        let long = TombstonePolicy.scaled(grace: .seconds(365 * 24 * 3600))
        XCTAssertEqual(long.epoch, .seconds(3600), "at most an hour")
        let odd = TombstonePolicy.scaled(grace: .seconds(1000))
        XCTAssertEqual(odd.epoch, .seconds(4), "whole seconds")
        XCTAssertTrue(odd.mustQuarantine(lastSynchronized: wall(0), now: wall(993)))
        XCTAssertFalse(odd.mustQuarantine(lastSynchronized: wall(0), now: wall(992)))
    }
}
