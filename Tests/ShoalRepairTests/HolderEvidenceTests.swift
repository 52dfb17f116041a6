import ShoalCore
import ShoalRepair
import XCTest

final class HolderEvidenceTests: XCTestCase {
    private let ids = randomIDs(800, seed: 61)
    private let peerID = node(77).id

    func testAnExchangeTellsWhoHoldsWhatInTheComparedRangesOnly() throws {
        var local = RecordTree(records: ids.map { record($0) })
        var peer = local
        let range = KeyRange(containing: ids[400], bitLength: 1)
        let inside = ids.filter { range.contains($0) }
        let outside = try XCTUnwrap(ids.first { !range.contains($0) })
        peer.remove(inside[0])
        peer.upsert(record(inside[1], stored: false))
        peer.upsert(record(inside[2], owners: [bob]))
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &peer, ranges: [range]))
        var evidence = HolderEvidence()
        evidence.absorb(outcome)
        XCTAssertEqual(evidence.holds(inside[0], on: peerID), false, "no record")
        XCTAssertEqual(evidence.holds(inside[1], on: peerID), false, "a record without the bytes")
        XCTAssertEqual(evidence.holds(inside[2], on: peerID), true, "other claims, but stored")
        XCTAssertEqual(evidence.holds(inside[3], on: peerID), true, "the same record")
        XCTAssertNil(evidence.holds(outside, on: peerID), "not compared")
        XCTAssertNil(evidence.holds(inside[3], on: node(78).id), "another peer")

        evidence.noteStored(inside[0], on: peerID)
        XCTAssertEqual(evidence.holds(inside[0], on: peerID), true, "an acknowledged push")
        // A newer exchange replaces both.
        peer.remove(inside[3])
        let (newer, _) = try XCTUnwrap(exchange(&local, with: &peer, ranges: [range]))
        evidence.absorb(newer)
        XCTAssertEqual(evidence.holds(inside[0], on: peerID), false)
        XCTAssertEqual(evidence.holds(inside[3], on: peerID), false)
        evidence.forget(peerID)
        XCTAssertNil(evidence.holds(inside[3], on: peerID))
    }

    func testEmptyRangesAndUnexploredRanges() throws {
        var local = RecordTree(records: ids.map { record($0) })
        var empty = RecordTree()
        let (outcome, _) = try XCTUnwrap(exchange(&local, with: &empty))
        var evidence = HolderEvidence()
        evidence.absorb(outcome)
        XCTAssertTrue(ids.allSatisfy { evidence.holds($0, on: peerID) == false })

        // A narrower exchange leaving part unexplored: known around it, unknown inside it.
        var partial = ExchangeOutcome(
            peer: peerID, horizon: .origin, ranges: [KeyRange(containing: ids[0], bitLength: 2)])
        let hole = KeyRange(containing: ids[0], bitLength: 6)
        partial.unexplored = [hole]
        evidence.absorb(partial)
        XCTAssertNil(evidence.holds(ids[0], on: peerID), "unexplored")
        let aroundHole = try XCTUnwrap(ids.first { partial.ranges[0].contains($0) && !hole.contains($0) })
        XCTAssertEqual(evidence.holds(aroundHole, on: peerID), true, "compared again and found")
        let elsewhere = try XCTUnwrap(ids.first { !partial.ranges[0].contains($0) })
        XCTAssertEqual(evidence.holds(elsewhere, on: peerID), false, "older evidence stands outside the newer ranges")
    }
}
