import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

final class ExchangeSchedulerTests: XCTestCase {
    private var rng = SeededRandom(seed: 51)
    private lazy var cluster: [Contact] = (0..<20).map { i in
        Contact(id: Key256.random(using: &rng), address: PeerAddress(host: "127.0.1.\(i + 1)", port: 7000))
    }
    private var me: Contact { cluster[0] }

    func testPlansEveryCoHolderOverTheSharedRangesThenRotates() {
        var scheduler = ExchangeScheduler(
            localID: me.id, replicas: 3, limits: ExchangeScheduleLimits(maximumExchangesPerRound: 2))
        let map = ResponsibilityMap(nodes: cluster.map(\.id), replicas: 3)
        let expected = map.sharedRanges(of: me.id)
        XCTAssertGreaterThan(expected.count, 2)
        var seen: [NodeID: [KeyRange]] = [:]
        var rounds = 0
        var now = Timestamp.zero
        while seen.count < expected.count, rounds < 10 {
            rounds += 1
            let planned = scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: now)
            XCTAssertLessThanOrEqual(planned.count, 2, "bounded per round")
            for p in planned {
                XCTAssertNil(seen[p.peer.id], "each due peer once before any twice")
                seen[p.peer.id] = p.ranges
                scheduler.onExchangeFinished(
                    ExchangeOutcome(peer: p.peer.id, horizon: .origin, ranges: p.ranges), now: now)
            }
            now = now + .seconds(1)
        }
        XCTAssertEqual(seen, expected)
        XCTAssertEqual(rounds, (expected.count + 1) / 2)
        // All compared; with the default interval of zero they are due again, oldest first.
        let again = scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: now)
        XCTAssertEqual(again.count, 2)
        XCTAssertNotNil(scheduler.lastCompletedExchange)
    }

    func testInFlightAndFailedPeersWaitAndUnexploredRangesResume() {
        var scheduler = ExchangeScheduler(
            localID: me.id, replicas: 3,
            limits: ExchangeScheduleLimits(interval: .seconds(600), retryBackoff: .seconds(30)))
        let first = scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero)
        XCTAssertFalse(first.isEmpty)
        XCTAssertEqual(
            scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero + .seconds(1)), [],
            "all in flight")
        let failed = first[0].peer.id
        scheduler.onExchangeFailed(with: failed, ExchangeFailure(.timedOut, "test"), now: .zero + .seconds(2))
        let leftover = KeyRange(containing: first[1].ranges[0].prefix, bitLength: first[1].ranges[0].bitLength + 8)
        var partial = ExchangeOutcome(peer: first[1].peer.id, horizon: .origin, ranges: first[1].ranges)
        partial.unexplored = [leftover]
        scheduler.onExchangeFinished(partial, now: .zero + .seconds(2))
        for p in first.dropFirst(2) {
            scheduler.onExchangeFinished(
                ExchangeOutcome(peer: p.peer.id, horizon: .origin, ranges: p.ranges), now: .zero + .seconds(2))
        }
        let next = scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero + .seconds(10))
        XCTAssertEqual(
            next, [PlannedExchange(peer: first[1].peer, ranges: [leftover])],
            "resume; the failed peer backs off; the rest are not due")
        XCTAssertEqual(scheduler.failures(with: failed), 1)
        let retried = scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero + .seconds(40))
        XCTAssertEqual(retried.map(\.peer.id), [failed])
    }

    func testAMembershipChangeMakesTheNewCoHoldersDueAtOnce() {
        var scheduler = ExchangeScheduler(
            localID: me.id, replicas: 3, limits: ExchangeScheduleLimits(interval: .seconds(3600)))
        for p in scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero) {
            scheduler.onExchangeFinished(
                ExchangeOutcome(peer: p.peer.id, horizon: .origin, ranges: p.ranges), now: .zero)
        }
        XCTAssertEqual(scheduler.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero + .seconds(60)), [])
        let coHolder = ResponsibilityMap(nodes: cluster.map(\.id), replicas: 3).sharedRanges(of: me.id).keys.sorted()[0]
        let smaller = cluster.filter { $0.id != coHolder }
        let after = scheduler.planRound(neighbourhood: smaller, local: RecordTree(), now: .zero + .seconds(61))
        XCTAssertFalse(after.isEmpty, "ranges shared with the survivors changed")
        let expected = ResponsibilityMap(nodes: smaller.map(\.id), replicas: 3).sharedRanges(of: me.id)
        for p in after { XCTAssertEqual(p.ranges, expected[p.peer.id]) }
        XCTAssertFalse(after.contains { $0.peer.id == coHolder })
    }

    func testRangesStillHeldButNoLongerOwnedAreComparedWithTheirHolders() {
        // This node holds a record in a range it is not responsible for (closer nodes joined).
        let map = ResponsibilityMap(nodes: cluster.map(\.id), replicas: 3)
        let foreign = map.ranges.first { !$0.holders.contains(me.id) }!
        let tree = RecordTree(records: [record(foreign.range.prefix)])
        var scheduler = ExchangeScheduler(
            localID: me.id, replicas: 3, limits: ExchangeScheduleLimits(maximumExchangesPerRound: 64))
        let planned = scheduler.planRound(neighbourhood: cluster, local: tree, now: .zero)
        for holder in foreign.holders {
            XCTAssertTrue(
                planned.contains { $0.peer.id == holder && $0.ranges.contains(foreign.range) },
                "hand-off check with \(holder.short)")
        }
        var plain = ExchangeScheduler(
            localID: me.id, replicas: 3, limits: ExchangeScheduleLimits(maximumExchangesPerRound: 64))
        XCTAssertFalse(
            plain.planRound(neighbourhood: cluster, local: RecordTree(), now: .zero).contains {
                $0.ranges.contains(foreign.range)
            })
    }
}
