import ShoalCore
import ShoalRepair
import XCTest

final class TombstoneExpiryTests: XCTestCase {
    private let policy = TombstonePolicy(grace: .seconds(10 * 24 * 3600), epoch: .seconds(3600))
    private let day: Int64 = 24 * 3600

    func testHorizonsAreRoundedToEpochsAndAcceptedOneEpochAhead() {
        let now = wall(100 * day + 1_234)
        let h = policy.horizon(at: now)
        XCTAssertEqual(h.cutoff, wall(90 * day), "now − grace, rounded down to the hour")
        XCTAssertEqual(policy.horizon(at: now + .seconds(3600 - 1_234 - 1)), h, "the same within the hour")
        XCTAssertTrue(policy.accepts(TombstoneHorizon(cutoff: wall(90 * day + 3600)), at: now))
        XCTAssertFalse(
            policy.accepts(TombstoneHorizon(cutoff: wall(90 * day + 7200)), at: now),
            "two epochs ahead: clocks too far apart")
        XCTAssertTrue(policy.accepts(.origin, at: now))
        XCTAssertEqual(
            policy.horizon(at: Timestamp(nanoseconds: .min)), TombstoneHorizon(cutoff: Timestamp(nanoseconds: .min)))
        XCTAssertLessThan(
            policy.horizon(at: wall(-5)).cutoff, wall(0), "before the epoch rounds down, not towards zero")
        XCTAssertEqual(policy.rejoinBound, .seconds(10 * 24 * 3600 - 7200))
    }

    func testQuarantineAfterTheRejoinBound() {
        let last = wall(1_000 * day)
        XCTAssertFalse(policy.mustQuarantine(lastSynchronized: last, now: last + policy.rejoinBound))
        XCTAssertTrue(policy.mustQuarantine(lastSynchronized: last, now: last + policy.rejoinBound + .seconds(1)))
        XCTAssertTrue(policy.mustQuarantine(lastSynchronized: nil, now: last))
    }

    func testAnExpiredTombstoneDropsOutIdenticallyOnBothSides() throws {
        let ids = randomIDs(600, seed: 31)
        let deletedAt = wall(50 * day)
        var records = ids.map { record($0) }
        // One object deleted by its only owner, one deleted by one of two owners.
        records[10] = ObjectRecord(
            id: ids[10], kind: .chunk, isStored: false, tombstones: [tombstone(by: alice, at: deletedAt)])
        records[20] = record(ids[20], owners: [bob]).deleting(tombstone(by: alice, at: deletedAt))
        let before = policy.horizon(at: wall(55 * day))
        var a = RecordTree(records: records, horizon: before)
        var b = RecordTree(records: records.reversed(), horizon: before)
        XCTAssertEqual(a.summary(of: .everything), b.summary(of: .everything))

        let after = policy.horizon(at: wall(61 * day))
        XCTAssertEqual(a.advanceHorizon(to: after), 2)
        // The other side got there by another path: updated records with the tombstone, then moved.
        b.upsert(record(ids[20], owners: [bob]).deleting(tombstone(by: alice, at: deletedAt)))
        XCTAssertEqual(b.advanceHorizon(to: after), 2)
        XCTAssertEqual(a.summary(of: .everything), b.summary(of: .everything))
        XCTAssertNil(a.record(ids[10]), "a record left with nothing is removed")
        XCTAssertEqual(a.record(ids[20])?.tombstones, [])
        XCTAssertEqual(a.record(ids[20])?.owners, [bob])
        XCTAssertEqual(a.count, 599)

        var fresh = RecordTree(records: records, horizon: after)
        XCTAssertEqual(
            fresh.summary(of: .everything), a.summary(of: .everything), "built directly at the later horizon: the same")
        XCTAssertEqual(a.advanceHorizon(to: before), 0, "horizons never move back")

        let (outcome, run) = try XCTUnwrap(exchange(&a, with: &b))
        XCTAssertTrue(outcome.isIdentical)
        XCTAssertEqual(run.requests, 1)
    }

    func testSidesAtDifferentHorizonsDoNotCompare() throws {
        let ids = randomIDs(50, seed: 32)
        var behind = RecordTree(records: ids.map { record($0) }, horizon: policy.horizon(at: wall(20 * day)))
        var ahead = RecordTree(records: ids.map { record($0) }, horizon: policy.horizon(at: wall(21 * day)))
        let result = try XCTUnwrap(failingExchange(&behind, with: &ahead, tamper: { $1 }))
        XCTAssertEqual(result.failure.code, .horizonMismatch)
        XCTAssertEqual(result.failure.peerHorizon, ahead.horizon)

        // The responder moves forward to a requester one epoch ahead of it, then answers.
        var responder = RecordTree(records: ids.map { record($0) }, horizon: policy.horizon(at: wall(30 * day)))
        let oneAhead = policy.horizon(at: wall(30 * day) + .seconds(3600))
        let (answer, _) = responder.answer(
            ExchangeRequest(horizon: oneAhead, body: .summaries([.everything])),
            policy: policy, now: wall(30 * day))
        guard case .summaries = answer else { return XCTFail("expected summaries, got \(answer)") }
        XCTAssertEqual(responder.horizon, oneAhead)
        let farAhead = policy.horizon(at: wall(30 * day) + .seconds(3 * 3600))
        let (refused, _) = responder.answer(
            ExchangeRequest(horizon: farAhead, body: .summaries([.everything])),
            policy: policy, now: wall(30 * day))
        XCTAssertEqual(refused, .horizonMismatch(oneAhead))
    }

    func testAPeerSendingAnExpiredTombstoneIsMalformed() throws {
        let ids = randomIDs(30, seed: 33)
        let horizon = policy.horizon(at: wall(100 * day))
        var local = RecordTree(records: ids.map { record($0) }, horizon: horizon)
        var peer = local
        peer.upsert(record(ids[3], owners: [bob]))
        let result = try XCTUnwrap(
            failingExchange(&local, with: &peer) { _, answer in
                guard case .records(var pages) = answer else { return answer }
                pages[0].records = pages[0].records.map { $0.deleting(tombstone(by: carol, at: wall(self.day))) }
                return .records(pages)
            })
        XCTAssertEqual(result.failure.code, .malformedAnswer)
        XCTAssertTrue(result.failure.message.contains("expired"), result.failure.message)
    }

    func testATreeDropsExpiredTombstonesAsTheyArrive() {
        var tree = RecordTree(horizon: policy.horizon(at: wall(100 * day)))
        let id = Key256(words: (7, 7, 7, 7))
        tree.upsert(ObjectRecord(id: id, kind: .chunk, isStored: false, tombstones: [tombstone(at: wall(day))]))
        XCTAssertEqual(tree.count, 0)
        tree.upsert(
            record(id).deleting(tombstone(by: bob, at: wall(2 * day))).deleting(
                tombstone(by: carol, at: wall(99 * day))))
        XCTAssertEqual(tree.record(id)?.tombstones.map(\.owner), [carol])
        XCTAssertEqual(tree.tombstoneCount, 1)
    }
}
