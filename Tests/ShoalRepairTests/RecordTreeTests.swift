import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

final class RecordTreeTests: XCTestCase {
    func testSummariesDependOnTheRecordsAloneNotOnInsertionOrderOrHistory() {
        let records = randomIDs(2_000, seed: 1).map { record($0) }
        let bulk = RecordTree(records: records)
        var incremental = RecordTree()
        var rng = SeededRandom(seed: 2)
        for r in records.shuffled(using: &rng) { incremental.upsert(r) }
        // Churn: extra records inserted, then removed again, collapse subtrees.
        let extra = randomIDs(500, seed: 3).map { record($0) }
        for r in extra { incremental.upsert(r) }
        for r in extra.shuffled(using: &rng) { XCTAssertNotNil(incremental.remove(r.id)) }
        var a = bulk
        XCTAssertEqual(a.summary(of: .everything), incremental.summary(of: .everything))
        XCTAssertEqual(a.summary(of: .everything).count, 2_000)
        XCTAssertEqual(incremental.count, 2_000)
        for r in records.prefix(50) { XCTAssertEqual(incremental.record(r.id), r) }
        XCTAssertNil(incremental.record(extra[0].id))
    }

    func testARangeSummaryEqualsThatOfATreeHoldingOnlyTheRangesRecords() {
        let records = randomIDs(3_000, seed: 4).map { record($0) }
        var tree = RecordTree(records: records)
        var rng = SeededRandom(seed: 5)
        for bitLength in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 255, 256] {
            let range = KeyRange(
                containing: records[Int.random(in: 0..<records.count, using: &rng)].id, bitLength: bitLength)
            var only = RecordTree(records: records.filter { range.contains($0.id) })
            XCTAssertEqual(tree.summary(of: range), only.summary(of: range), "range \(range)")
            XCTAssertEqual(tree.summary(of: range).count, UInt64(records.filter { range.contains($0.id) }.count))
        }
        let empty = KeyRange(containing: Key256.random(using: &rng), bitLength: 40)
        XCTAssertEqual(tree.summary(of: empty), .empty)
    }

    func testChangingOneRecordChangesTheHashesOnItsPathOnly() {
        let ids = randomIDs(1_000, seed: 6)
        var tree = RecordTree(records: ids.map { record($0) })
        let target = ids[500]
        let mine = KeyRange(containing: target, bitLength: 4)
        let other = KeyRange(containing: ids.first { !mine.contains($0) }!, bitLength: 4)
        let before = (tree.summary(of: .everything), tree.summary(of: mine), tree.summary(of: other))
        tree.upsert(record(target, owners: [alice, bob]))
        XCTAssertNotEqual(tree.summary(of: .everything), before.0)
        XCTAssertNotEqual(tree.summary(of: mine), before.1)
        XCTAssertEqual(tree.summary(of: other), before.2)
        XCTAssertEqual(tree.summary(of: .everything).count, before.0.count, "an update is not an insert")
        XCTAssertFalse(tree.upsert(record(target, owners: [alice, bob])), "the same record again changes nothing")
        tree.upsert(record(target))
        XCTAssertEqual(tree.summary(of: .everything), before.0)
    }

    func testRecordsArePagedInOrderWithinTheRange() {
        let ids = randomIDs(700, seed: 7)
        let tree = RecordTree(records: ids.map { record($0) })
        let range = KeyRange(containing: ids[0], bitLength: 1)
        let expected = ids.filter { range.contains($0) }
        var got: [ContentID] = []
        var after: ContentID?
        var pages = 0
        while true {
            let page = tree.records(in: range, after: after, limit: 50)
            pages += 1
            XCTAssertLessThanOrEqual(page.records.count, 50)
            got += page.records.map(\.id)
            if page.isComplete { break }
            after = page.records.last?.id
        }
        XCTAssertEqual(got, expected)
        XCTAssertEqual(pages, (expected.count + 49) / 50 + (expected.count % 50 == 0 ? 1 : 0))
        var visited = 0
        tree.forEachRecord(in: range) { _ in visited += 1 }
        XCTAssertEqual(visited, expected.count)
    }

    func testEmptyRecordsAreNotKeptAndDuplicatesMerge() {
        let id = Key256(words: (9, 9, 9, 9))
        var tree = RecordTree(records: [record(id, owners: [alice]), record(id, owners: [bob], stored: false)])
        XCTAssertEqual(tree.count, 1)
        XCTAssertEqual(tree.record(id)?.owners, [alice, bob])
        XCTAssertEqual(tree.record(id)?.isStored, true)
        tree.upsert(ObjectRecord(id: id, kind: .chunk, isStored: false))
        XCTAssertEqual(tree.count, 0, "a record without bytes, claims or tombstones is not kept")
        XCTAssertEqual(tree.summary(of: .everything), .empty)
    }

    func testKeyRanges() {
        let key = Key256(words: (0xABCD_0000_0000_0000, 0, 0, 1))
        XCTAssertNil(KeyRange(prefix: key, bitLength: 8), "bits beyond the length must be zero")
        XCTAssertNil(KeyRange(prefix: .zero, bitLength: 257))
        let r = KeyRange(containing: key, bitLength: 6)
        XCTAssertEqual(r.description, "a8/6")
        XCTAssertEqual(r.childCount, 4)
        XCTAssertEqual(r.children.map(\.bitLength), [8, 8, 8, 8])
        XCTAssertEqual(r.children.map(\.description), ["a8/8", "a9/8", "aa/8", "ab/8"])
        XCTAssertTrue(r.children.allSatisfy { r.contains($0) })
        XCTAssertTrue(r.contains(key))
        XCTAssertEqual(KeyRange.everything.childCount, 16)
        XCTAssertEqual(KeyRange(containing: key, bitLength: 256).childCount, 0)
        XCTAssertEqual(r.halves.one.description, "aa/7")
        XCTAssertEqual(r.halves.zero.description, "a8/7")
        XCTAssertTrue(r.last > key)
        XCTAssertFalse(r.contains(Key256(words: (0xB000_0000_0000_0000, 0, 0, 0))))
    }
}
