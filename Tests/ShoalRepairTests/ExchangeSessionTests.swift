import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

final class ExchangeSessionTests: XCTestCase {
    private let n = 4_000
    private lazy var ids = randomIDs(n, seed: 11)
    private lazy var base = RecordTree(records: ids.map { record($0) })

    func testIdenticalSetsExchangeInOneRoundTrip() throws {
        var local = base
        var peer = base
        let (outcome, run) = try XCTUnwrap(exchange(&local, with: &peer))
        XCTAssertTrue(outcome.isIdentical)
        XCTAssertEqual(run.requests, 1)
        XCTAssertLessThan(run.requestBytes + run.answerBytes, 200)

        // Many ranges at once still cost one round trip.
        let ranges = (0..<16).map { KeyRange(containing: Key256(words: (UInt64($0) << 60, 0, 0, 0)), bitLength: 4) }
        let (many, manyRun) = try XCTUnwrap(exchange(&local, with: &peer, ranges: ranges))
        XCTAssertTrue(many.isIdentical)
        XCTAssertEqual(manyRun.requests, 1)
    }

    func testASingleInsertIsFoundWithDepthMessages() throws {
        var local = base
        var peer = base
        let extra = record(Key256.sha256(of: [1, 2, 3]))
        peer.upsert(extra)
        let (outcome, run) = try XCTUnwrap(exchange(&local, with: &peer))
        XCTAssertEqual(outcome.weLack, [extra])
        XCTAssertEqual(outcome.peerLacks, [])
        XCTAssertEqual(outcome.differing, [])
        XCTAssertLessThanOrEqual(run.requests, expectedDepth(n) + 2)
        XCTAssertLessThan(run.answerBytes, 5_000, "a few levels of 16 summaries and one leaf, not the inventory")
    }

    func testASingleDeleteIsFound() throws {
        var local = base
        var peer = base
        let gone = try XCTUnwrap(peer.remove(ids[1_234]))
        let (outcome, run) = try XCTUnwrap(exchange(&local, with: &peer))
        XCTAssertEqual(outcome.peerLacks, [gone])
        XCTAssertEqual(outcome.weLack, [])
        XCTAssertLessThanOrEqual(run.requests, expectedDepth(n) + 2)
    }

    func testAClaimChangeAndATombstoneShowUpAsDifferences() throws {
        var local = base
        var peer = base
        let claimed = record(ids[10], owners: [alice, bob])
        let deleted = record(ids[3_000]).deleting(tombstone(by: alice, at: wall(2_000)))
        peer.upsert(claimed)
        local.upsert(deleted)
        let (outcome, run) = try XCTUnwrap(exchange(&local, with: &peer))
        XCTAssertEqual(
            Set(outcome.differing),
            [
                RecordDifference(local: record(ids[10]), peer: claimed),
                RecordDifference(local: deleted, peer: record(ids[3_000])),
            ])
        XCTAssertEqual(outcome.differenceCount, 2)
        XCTAssertLessThanOrEqual(run.requests, 2 * expectedDepth(n) + 2)
    }

    func testRandomDifferencesAreAllFound() throws {
        var rng = SeededRandom(seed: 12)
        var local = base
        var peer = base
        var expectedPeerLacks: Set<ContentID> = []
        var expectedWeLack: Set<ContentID> = []
        var expectedDiffering: Set<ContentID> = []
        for id in ids.shuffled(using: &rng).prefix(300) {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0:
                peer.remove(id)
                expectedPeerLacks.insert(id)
            case 1:
                local.remove(id)
                expectedWeLack.insert(id)
            case 2:
                peer.upsert(record(id, owners: [bob]))
                expectedDiffering.insert(id)
            case 3:
                local.upsert(record(id).deleting(tombstone(at: wall(5_000))))
                expectedDiffering.insert(id)
            default:
                peer.upsert(record(id, stored: false))
                expectedDiffering.insert(id)
            }
        }
        for _ in 0..<100 {
            let id = Key256.random(using: &rng)
            if Bool.random(using: &rng) {
                local.upsert(record(id))
                expectedPeerLacks.insert(id)
            } else {
                peer.upsert(record(id))
                expectedWeLack.insert(id)
            }
        }
        let (outcome, run) = try XCTUnwrap(exchange(&local, with: &peer))
        var inEmptyRanges: [ObjectRecord] = []
        for range in outcome.peerLacksRanges { local.forEachRecord(in: range) { inEmptyRanges.append($0) } }
        XCTAssertFalse(inEmptyRanges.isEmpty, "some new local records fell where the peer has nothing")
        XCTAssertEqual(Set(outcome.peerLacks.map(\.id)).union(inEmptyRanges.map(\.id)), expectedPeerLacks)
        XCTAssertEqual(Set(outcome.weLack.map(\.id)), expectedWeLack)
        XCTAssertEqual(Set(outcome.differing.map(\.local.id)), expectedDiffering)
        XCTAssertTrue(outcome.isComplete)
        XCTAssertLessThan(run.requests, 20, "batched: a handful of levels, not one request per difference")
        for d in outcome.differing { XCTAssertEqual(d.peer, peer.record(d.local.id)) }

        // After reconciling, the next exchange is one round trip.
        for r in outcome.peerLacks + inEmptyRanges { peer.upsert(r) }
        for r in outcome.weLack { local.upsert(r) }
        for d in outcome.differing { peer.upsert(d.local) }
        let (again, againRun) = try XCTUnwrap(exchange(&local, with: &peer))
        XCTAssertTrue(again.isIdentical)
        XCTAssertEqual(againRun.requests, 1)
    }

    func testOnlyTheRangesAskedAreCompared() throws {
        var local = base
        var peer = base
        let inside = KeyRange(containing: ids[100], bitLength: 3)
        let outsideID = try XCTUnwrap(ids.first { !inside.contains($0) })
        peer.remove(ids[100])
        peer.remove(outsideID)
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &peer, ranges: [inside]))
        XCTAssertEqual(outcome.peerLacks.map(\.id), [ids[100]])
    }

    func testAnEmptyPeerCostsOneRoundTripAndAnEmptyUsPagesTheirRecords() throws {
        var local = base
        var empty = RecordTree()
        let (lacks, lacksRun) = try XCTUnwrap(exchange(&local, with: &empty))
        XCTAssertEqual(lacks.peerLacksRanges, [.everything])
        XCTAssertEqual(lacks.peerLacksRangeRecords, n)
        XCTAssertEqual(lacksRun.requests, 1)

        var fresh = RecordTree()
        var full = base
        let (learn, learnRun) = try XCTUnwrap(exchange(&fresh, with: &full))
        XCTAssertEqual(learn.weLack.map(\.id), ids)
        XCTAssertEqual(learnRun.requests, 1 + (n + 1023) / 1024, "one summary, then pages of 1024 records")
    }

    func testSessionBoundsEndWithTheRestUnexplored() throws {
        var local = base
        var peer = base
        for id in ids.prefix(200) { peer.upsert(record(id, owners: [carol])) }
        let (few, fewRun) = try XCTUnwrap(
            exchange(&local, with: &peer, limits: ExchangeLimits(maximumRequestsPerSession: 2)))
        XCTAssertEqual(fewRun.requests, 2)
        XCTAssertFalse(few.isComplete)
        XCTAssertFalse(few.unexplored.isEmpty)

        let (capped, _) = try XCTUnwrap(
            exchange(&local, with: &peer, limits: ExchangeLimits(maximumDifferencesPerSession: 50)))
        XCTAssertLessThanOrEqual(capped.differenceCount, 50)
        XCTAssertFalse(capped.isComplete)
        XCTAssertLessThan(capped.unexplored.count, 100, "the rest is left in a few ranges, not split up further")
        let found = Set(capped.differing.map(\.local.id))
        XCTAssertTrue(capped.unexplored.allSatisfy { range in !found.contains { range.contains($0) } })
        // Everything not listed lies in an unexplored range.
        for id in ids.prefix(200) where !found.contains(id) {
            XCTAssertTrue(capped.unexplored.contains { $0.contains(id) }, "\(id.short) neither found nor unexplored")
        }
    }

    func testSmallRecordAnswersArePagedAcrossManyLeaves() throws {
        var local = base
        var peer = base
        for id in ids.prefix(400) { peer.upsert(record(id, owners: [bob])) }
        let limits = ExchangeLimits(maximumRecordsPerAnswer: 7)
        let (outcome, run) = try XCTUnwrap(exchange(&local, with: &peer, limits: limits))
        XCTAssertEqual(outcome.differing.count, 400)
        XCTAssertTrue(outcome.isComplete)
        XCTAssertGreaterThan(run.requests, 400 / 7)
    }
}
