import Foundation
import ShoalCore
import ShoalTestKit
import XCTest

@testable import ShoalStore

/// The records the metadata store keeps for anti-entropy: every object's kind, whether its bytes
/// are held, its claims and tombstones, also where no bytes are held; merged by the per-owner
/// rule; and what repair does to them (discard, hand-off, quarantine, expiry).
final class RecordStoreTests: XCTestCase, @unchecked Sendable {
    private var directory: TemporaryDirectory!
    private var path: String { directory.path + "/metadata.sqlite" }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory.remove()
    }

    private func id(_ n: UInt64) -> ContentID { Key256(words: (0, 0, 0, n)) }
    private let alice = ObjectOwner(key: [UInt8](repeating: 0xA1, count: 65))!
    private let bob = ObjectOwner(key: [UInt8](repeating: 0xB0, count: 65))!
    private func at(_ seconds: Int64) -> Timestamp { Timestamp(nanoseconds: seconds * 1_000_000_000) }
    private func deleteID(_ n: UInt8) -> Key256 { Key256.sha256(of: [n]) }

    private func store(
        _ n: UInt64, by owner: ObjectOwner, kind: ObjectKind = .chunk, in store: MetadataStore,
        at time: Int64 = 10
    ) async throws {
        let (decision, _) = try await store.decide(
            id(n), offered: [OwnerClaim(owner: owner, claimedAt: at(time))], fresh: true, now: at(time))
        try await store.commit([
            ObjectCommit(
                record: StoredObject(id: id(n), kind: kind, size: 100, allocated: 4096, state: .replica),
                decision: decision)
        ])
    }

    func testRecordsCarryKindBytesClaimsAndTombstonesAndPageInKeyOrder() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 10_000)
        try await self.store(3, by: alice, kind: .manifest, in: store)
        try await self.store(1, by: bob, in: store)
        // A record learned without the bytes.
        try await store.mergeRecords(
            [
                MetadataRecord(
                    id: id(2), kind: .chunk, claims: [OwnerClaim(owner: bob, claimedAt: at(4))],
                    tombstones: [Tombstone(owner: alice, deletedAt: at(5), deleteID: deleteID(1))])
            ],
            deletes: [deleteID(1): [9, 9]])
        // A cached copy is no record.
        _ = try await store.cacheInsert(StoredObject(id: id(4), kind: .chunk, size: 10, allocated: 4096, state: .cache))

        let first = try await store.records(after: nil, limit: 2)
        XCTAssertEqual(first.map(\.id), [id(1), id(2)])
        XCTAssertEqual(
            first[0],
            MetadataRecord(
                id: id(1), kind: .chunk, state: .replica, claims: [OwnerClaim(owner: bob, claimedAt: at(10))]))
        XCTAssertEqual(
            first[1],
            MetadataRecord(
                id: id(2), kind: .chunk, state: nil, claims: [OwnerClaim(owner: bob, claimedAt: at(4))],
                tombstones: [Tombstone(owner: alice, deletedAt: at(5), deleteID: deleteID(1))]))
        let rest = try await store.records(after: id(2), limit: 10)
        XCTAssertEqual(rest.map(\.id), [id(3)])
        XCTAssertEqual(rest.first?.kind, .manifest)
        let none = try await store.records(after: id(3), limit: 10)
        XCTAssertEqual(none, [])
        let kept = try await store.signedDelete(deleteID(1))
        XCTAssertEqual(kept, [9, 9])
        let count = try await store.recordCount()
        XCTAssertEqual(count, 3)
        await store.close()
    }

    func testMergesKeepPerOwnerTheLaterEntryAndTheLargerKind() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        let t7 = Tombstone(owner: alice, deletedAt: at(7), deleteID: deleteID(7))
        try await store.mergeRecords([
            MetadataRecord(
                id: id(1), kind: .chunk, claims: [OwnerClaim(owner: alice, claimedAt: at(5))],
                tombstones: [t7])
        ])
        var record = try await store.record(id(1))
        XCTAssertEqual(record?.claims, [], "a tombstone later than the claim wins")
        XCTAssertEqual(record?.tombstones, [t7])
        // A tie goes to the tombstone; a later claim wins over it.
        try await store.mergeRecords([
            MetadataRecord(id: id(1), kind: .manifest, claims: [OwnerClaim(owner: alice, claimedAt: at(7))])
        ])
        record = try await store.record(id(1))
        XCTAssertEqual(record?.claims, [])
        XCTAssertEqual(record?.kind, .manifest, "the larger kind")
        try await store.mergeRecords([
            MetadataRecord(
                id: id(1), kind: .chunk,
                claims: [
                    OwnerClaim(owner: alice, claimedAt: at(9)),
                    OwnerClaim(owner: .anonymous, claimedAt: .zero),
                ])
        ])
        record = try await store.record(id(1))
        XCTAssertEqual(
            Set(record?.claims ?? []),
            [OwnerClaim(owner: alice, claimedAt: at(9)), OwnerClaim(owner: .anonymous, claimedAt: .zero)],
            "the anonymous owner (an empty key) is kept like any other")
        XCTAssertEqual(record?.tombstones, [])
        XCTAssertEqual(record?.kind, .manifest)
        // Of two tombstones of one owner, the later stays.
        try await store.mergeRecords([
            MetadataRecord(
                id: id(1), kind: .chunk, tombstones: [Tombstone(owner: bob, deletedAt: at(20), deleteID: deleteID(2))])
        ])
        try await store.mergeRecords([
            MetadataRecord(
                id: id(1), kind: .chunk, tombstones: [Tombstone(owner: bob, deletedAt: at(15), deleteID: deleteID(3))])
        ])
        record = try await store.record(id(1))
        XCTAssertEqual(record?.tombstones, [Tombstone(owner: bob, deletedAt: at(20), deleteID: deleteID(2))])
        await store.close()
    }

    func testADeleteKeepsItsTombstoneWhereTheNodeIsResponsibleEvenWithoutAClaim() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        let effects = try await store.applyDelete(
            owner: alice, objects: [id(1), id(2)], deletedAt: at(20), deleteID: deleteID(1),
            message: [1, 2], recordingAbsent: [id(1)])
        XCTAssertEqual(effects, [.notClaimed, .notClaimed])
        let learned = try await store.record(id(1))
        XCTAssertEqual(learned?.tombstones, [Tombstone(owner: alice, deletedAt: at(20), deleteID: deleteID(1))])
        XCTAssertNil(learned?.state)
        let other = try await store.record(id(2))
        XCTAssertNil(other, "where this node is not responsible, a Delete of nothing it holds leaves nothing")
        await store.close()
    }

    func testADeleteDoesNotRemoveAClaimMadeAfterIt() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        try await self.store(1, by: alice, in: store, at: 30)
        let effects = try await store.applyDelete(
            owner: alice, objects: [id(1)], deletedAt: at(20), deleteID: deleteID(1), message: [1])
        XCTAssertEqual(effects, [.notClaimed], "a Delete signed before the put (arriving late) leaves the newer claim")
        let claims = try await store.claims(of: id(1))
        XCTAssertEqual(claims, [OwnerClaim(owner: alice, claimedAt: at(30))])
        await store.close()
    }

    func testDiscardFreesOnlyDeletedBytesAndKeepsTheRecord() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        try await self.store(1, by: alice, in: store)
        try await self.store(2, by: alice, in: store)
        let untouched = try await store.discard(id(1))
        XCTAssertNil(untouched, "a claimed object is not discarded")
        try await store.mergeRecords([
            MetadataRecord(
                id: id(2), kind: .chunk, tombstones: [Tombstone(owner: alice, deletedAt: at(40), deleteID: deleteID(4))]
            )
        ])
        let freed = try await store.discard(id(2))
        XCTAssertEqual(freed?.id, id(2))
        let record = try await store.record(id(2))
        XCTAssertNil(record?.state, "the bytes are gone")
        XCTAssertEqual(record?.tombstones.count, 1, "the record and its tombstone stay")
        let counts = await store.objectCounts
        XCTAssertEqual(counts[.replica], 1)
        await store.close()
    }

    func testAHandOffForgetsTheWholeRecordAndExpiryForgetsEmptyRecords() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        try await self.store(1, by: alice, in: store)
        try await store.mergeRecords(
            [
                MetadataRecord(
                    id: id(1), kind: .chunk,
                    tombstones: [Tombstone(owner: bob, deletedAt: at(40), deleteID: deleteID(5))])
            ],
            deletes: [deleteID(5): [5]])
        let held = try await store.removeRecord(id(1))
        XCTAssertEqual(held?.id, id(1))
        let gone = try await store.record(id(1))
        XCTAssertNil(gone)

        try await store.mergeRecords(
            [
                MetadataRecord(
                    id: id(2), kind: .chunk,
                    tombstones: [Tombstone(owner: bob, deletedAt: at(40), deleteID: deleteID(6))]),
                MetadataRecord(
                    id: id(3), kind: .chunk, claims: [OwnerClaim(owner: alice, claimedAt: at(1))],
                    tombstones: [Tombstone(owner: bob, deletedAt: at(40), deleteID: deleteID(6))]),
            ],
            deletes: [deleteID(6): [6]])
        let removed = try await store.removeTombstones(before: at(41))
        XCTAssertEqual(removed, 2)
        let expired = try await store.record(id(2))
        XCTAssertNil(expired, "a record left with nothing is forgotten")
        let claimed = try await store.record(id(3))
        XCTAssertEqual(claimed?.claims.count, 1, "a record with a claim stays")
        let unnamed = try await store.signedDelete(deleteID(6))
        XCTAssertNil(unnamed, "a Delete no tombstone names is forgotten")
        await store.close()
    }

    func testAQuarantinedObjectIsSettledByWhatItsHoldersKnow() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        try await self.store(1, by: alice, in: store, at: 10)
        try await self.store(2, by: alice, in: store, at: 10)
        try await self.store(2, by: bob, in: store, at: 500)
        let marked = try await store.markAllReplicasUnchecked()
        XCTAssertEqual(marked, 2)
        // Object 1: the holders know Alice's claim; object 2: they know only Bob's later one, so
        // Alice's old claim (before the cutoff) goes; object 3 is unknown to them.
        let live = try await store.settleQuarantined(
            id(1),
            learned: MetadataRecord(
                id: id(1), kind: .manifest,
                claims: [OwnerClaim(owner: alice, claimedAt: at(10))]),
            cutoff: at(100))
        XCTAssertTrue(live.settled)
        XCTAssertNil(live.freed)
        let first = try await store.record(id(1))
        XCTAssertEqual(first?.state, .replica)
        XCTAssertEqual(first?.kind, .manifest)
        let shared = try await store.settleQuarantined(
            id(2),
            learned: MetadataRecord(
                id: id(2), kind: .chunk,
                claims: [OwnerClaim(owner: bob, claimedAt: at(500))]),
            cutoff: at(100))
        XCTAssertTrue(shared.settled)
        let second = try await store.record(id(2))
        XCTAssertEqual(
            second?.claims, [OwnerClaim(owner: bob, claimedAt: at(500))],
            "the stale claim no holder vouches for is gone")
        XCTAssertEqual(second?.state, .replica)

        try await self.store(3, by: alice, in: store, at: 10)
        _ = try await store.markAllReplicasUnchecked()
        let deleted = try await store.settleQuarantined(
            id(3),
            learned: MetadataRecord(
                id: id(3), kind: .chunk,
                tombstones: [
                    Tombstone(owner: alice, deletedAt: at(200), deleteID: deleteID(9))
                ]), cutoff: at(100))
        XCTAssertTrue(deleted.settled)
        XCTAssertEqual(deleted.freed?.id, id(3), "deleted content: its bytes go")
        let third = try await store.record(id(3))
        XCTAssertNil(third?.state)
        XCTAssertEqual(third?.claims, [])
        await store.close()
    }

    func testAVersionThreeDatabaseGetsARecordForEveryObjectClaimAndTombstone() async throws {
        let v3 = Array(MetadataSchema.migrations.prefix(3))
        var store = try await MetadataStore.open(path: path, cacheSize: 100, logger: .init(label: "t"), migrations: v3)
        let hex = { (key: Key256) in key.hex }
        try await store.executeForTesting(
            """
            INSERT INTO objects (id, kind, size, allocated, state, last_used) VALUES (x'\(hex(id(1)))', 1, 10, 4096, 1, 0);
            INSERT INTO objects (id, kind, size, allocated, state, last_used) VALUES (x'\(hex(id(2)))', 0, 10, 4096, 2, 1);
            INSERT INTO claims (id, owner, claimed_at) VALUES (x'\(hex(id(1)))', x'', 0);
            INSERT INTO tombstones (id, owner, deleted_at, delete_id) VALUES (x'\(hex(id(3)))', x'00', 5, x'\(String(repeating: "00", count: 32))');
            """)
        await store.close()
        store = try await MetadataStore.open(path: path, cacheSize: 100)
        let records = try await store.records(after: nil, limit: 10)
        XCTAssertEqual(records.map(\.id), [id(1), id(3)], "the cached copy is no record")
        XCTAssertEqual(records.first?.kind, .manifest)
        XCTAssertEqual(records.first?.claims, [OwnerClaim(owner: .anonymous, claimedAt: .zero)])
        XCTAssertEqual(records.last?.tombstones.first?.owner, .unattributed)
        await store.close()
    }
}
