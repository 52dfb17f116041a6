import Foundation
import ShoalCore
import ShoalTestKit
import XCTest

@testable import ShoalStore

final class MetadataStoreTests: XCTestCase, @unchecked Sendable {
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

    private func replica(_ n: UInt64, size: UInt64 = 100) -> StoredObject {
        StoredObject(id: id(n), kind: .chunk, size: size, allocated: 4096, state: .replica)
    }

    /// Records a replica with `owner`'s fresh claim.
    private func store(_ n: UInt64, by owner: ObjectOwner, in store: MetadataStore, at time: Int64 = 10) async throws {
        let (decision, _) = try await store.decide(
            id(n), offered: [OwnerClaim(owner: owner, claimedAt: at(time))], fresh: true, now: at(time))
        try await store.commit([ObjectCommit(record: replica(n), decision: decision)])
    }

    // MARK: Schema

    func testMigratesAnEmptyDatabaseToTheLatestSchemaAndReopensIt() async throws {
        var store = try await MetadataStore.open(path: path, cacheSize: 1_000)
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, MetadataSchema.latestVersion)
        try await self.store(1, by: alice, in: store)
        await store.close()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual(
            (attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "the keyring's database is private")

        store = try await MetadataStore.open(path: path, cacheSize: 1_000)
        let record = try await store.object(id(1))
        XCTAssertEqual(record, replica(1))
        let claims = try await store.claims(of: id(1))
        XCTAssertEqual(claims.map(\.owner), [alice])
        let counts = await store.objectCounts
        XCTAssertEqual(counts[.replica], 1)
        await store.close()
    }

    func testAVersionOneDatabaseMigratesWithItsPinsCacheOwnersAndTombstones() async throws {
        let v1 = Array(MetadataSchema.migrations.prefix(1))
        var store = try await MetadataStore.open(path: path, cacheSize: 100, logger: .init(label: "t"), migrations: v1)
        try await store.executeForTesting(
            """
            INSERT INTO pins (id, root, kind) VALUES (x'\(id(1).hex)', x'\(id(9).hex)', 1);
            INSERT INTO cache (id, size, last_used) VALUES (x'\(id(2).hex)', 500, 3);
            INSERT INTO owners (id, owner_key) VALUES (x'\(id(1).hex)', x'\(alice.key.map { String(format: "%02x", $0) }.joined())');
            INSERT INTO tombstones (id, deleted_at) VALUES (x'\(id(3).hex)', 77);
            INSERT INTO keyring (root, file_key, is_public, size, name, created_at) VALUES (x'\(id(9).hex)', NULL, 1, 10, 'a', 1);
            """)
        await store.close()

        store = try await MetadataStore.open(path: path, cacheSize: 100)
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, MetadataSchema.latestVersion)
        let pinned = try await store.object(id(1))
        XCTAssertEqual(pinned?.state, .replica)
        XCTAssertEqual(pinned?.kind, .manifest)
        let cached = try await store.object(id(2))
        XCTAssertEqual(cached?.state, .cache)
        let claims = try await store.claims(of: id(1))
        XCTAssertEqual(claims.map(\.owner), [alice])
        let tombstones = try await store.tombstones(of: id(3))
        XCTAssertEqual(
            tombstones, [Tombstone(owner: .unattributed, deletedAt: Timestamp(nanoseconds: 77), deleteID: .zero)])
        let fileObjects = try await store.objectsOnlyIn(id(9))
        XCTAssertEqual(fileObjects, [id(1)], "pins of keyring files become the files' objects")
        await store.close()
    }

    func testFailedMigrationIsRolledBack() async throws {
        let broken =
            MetadataSchema.migrations + [MetadataMigration(version: 99, statements: ["CREATE TABLE t (x)", "NOT SQL"])]
        await assertThrows(
            MetadataStoreError.self,
            {
                _ = try await MetadataStore.open(
                    path: self.path, cacheSize: 1, logger: .init(label: "t"), migrations: broken)
            }
        ) { $0.code == .database && $0.description.contains("rolled back") }
        let store = try await MetadataStore.open(path: path, cacheSize: 1)
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, MetadataSchema.latestVersion)
        await assertThrows(SQLiteError.self, { try await store.executeForTesting("SELECT * FROM t") }) { _ in true }
        await store.close()
    }

    // MARK: Damage

    func testATruncatedDatabaseIsRefusedAndNothingIsChanged() async throws {
        let store = try await MetadataStore.open(path: path, cacheSize: 1)
        for n in 1...200 { try await self.store(UInt64(n), by: alice, in: store) }
        try await store.saveKeyringEntry(
            KeyringEntry(address: FileAddress(root: id(1), key: nil), size: 1, name: "x", createdAt: at(1)))
        await store.close()
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = try? FileManager.default.removeItem(atPath: path + "-wal")
        _ = try? FileManager.default.removeItem(atPath: path + "-shm")
        for length in [0, 100, full.count / 2] {
            try full.prefix(length).write(to: URL(fileURLWithPath: path))
            await assertThrows(
                MetadataStoreError.self, { _ = try await MetadataStore.open(path: self.path, cacheSize: 1) }
            ) {
                $0.code == .damaged && $0.description.contains("keyring") && $0.description.contains("move it aside")
            }
            let after = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(after.count, length, "a refused database is left as it was")
        }
    }

    func testACorruptedDatabaseIsRefused() async throws {
        let store = try await MetadataStore.open(path: path, cacheSize: 1)
        for n in 1...300 { try await self.store(UInt64(n), by: alice, in: store) }
        try await store.executeForTesting("PRAGMA wal_checkpoint(TRUNCATE)")
        await store.close()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertGreaterThan(bytes.count, 3 * 4096)
        // Scribble over the second page (a b-tree page), as a bad disk would.
        for i in 4096..<(4096 + 600) { bytes[i] = UInt8(truncatingIfNeeded: i * 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        await assertThrows(MetadataStoreError.self, { _ = try await MetadataStore.open(path: self.path, cacheSize: 1) })
        {
            $0.code == .damaged
        }
    }

    // MARK: Ownership

    func testClaimsAndTombstonesFollowTheOwnershipRules() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        try await self.store(1, by: alice, in: store, at: 10)
        try await self.store(1, by: bob, in: store, at: 11)

        // Alice's delete removes her claim only; Bob's keeps the object.
        let first = try await store.applyDelete(
            owner: alice, objects: [id(1), id(2)], deletedAt: at(20),
            deleteID: .sha256(of: [UInt8]("\(alice) \(at(20))".utf8)), message: [1])
        XCTAssertEqual(first, [.retained(otherOwners: 1), .notClaimed])
        let left = try await store.claims(of: id(1))
        XCTAssertEqual(left.map(\.owner), [bob])
        let value7 = try await store.tombstones(of: id(1)).map(\.owner)
        XCTAssertEqual(value7, [alice])
        // A stale push of Alice's old claim is refused; Bob's pushed claim is not.
        let stale = try await store.decide(
            id(1), offered: [OwnerClaim(owner: alice, claimedAt: at(10)), OwnerClaim(owner: bob, claimedAt: at(11))],
            fresh: false, now: at(30))
        XCTAssertEqual(stale.decision.accepted.map(\.owner), [bob])
        XCTAssertEqual(stale.decision.refused.map(\.owner), [alice])
        // A fresh put by Alice is always accepted and clears her tombstone.
        let fresh = try await store.decide(
            id(1), offered: [OwnerClaim(owner: alice, claimedAt: at(1))], fresh: true, now: at(40))
        XCTAssertEqual(fresh.decision.accepted, [OwnerClaim(owner: alice, claimedAt: at(40))])
        XCTAssertEqual(fresh.decision.clearedTombstones, [alice])
        try await store.addClaims(fresh.decision, to: id(1))
        let value8 = try await store.tombstones(of: id(1))
        XCTAssertEqual(value8, [])

        // Both delete: the last claim removes the object.
        _ = try await store.applyDelete(
            owner: bob, objects: [id(1)], deletedAt: at(50), deleteID: .sha256(of: [UInt8]("\(bob) \(at(50))".utf8)),
            message: [1])
        let last = try await store.applyDelete(
            owner: alice, objects: [id(1)], deletedAt: at(51),
            deleteID: .sha256(of: [UInt8]("\(alice) \(at(51))".utf8)), message: [1])
        XCTAssertEqual(last, [.removed])
        let gone = try await store.object(id(1))
        XCTAssertNil(gone)
        let value9 = Set(try await store.tombstones(of: id(1)).map(\.owner))
        XCTAssertEqual(value9, [alice, bob])
        let counts = await store.objectCounts
        XCTAssertEqual(counts[.replica] ?? 0, 0)

        // Tombstones expire after the grace period.
        let removed = try await store.removeTombstones(before: at(51))
        XCTAssertEqual(removed, 1)
        let value10 = try await store.tombstones(of: id(1)).map(\.owner)
        XCTAssertEqual(value10, [alice])
        await store.close()
    }

    func testCachedCopiesAreDroppedByAnyDeleteAndAnonymousClaimsByNone() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 10_000)
        _ = try await store.cacheInsert(StoredObject(id: id(5), kind: .chunk, size: 10, allocated: 4096, state: .cache))
        try await self.store(6, by: .anonymous, in: store)
        let effects = try await store.applyDelete(
            owner: alice, objects: [id(5), id(6)], deletedAt: at(5),
            deleteID: .sha256(of: [UInt8]("\(alice) \(at(5))".utf8)), message: [1])
        XCTAssertEqual(effects, [.droppedFromCache, .notClaimed])
        let anonymous = try await store.object(id(6))
        XCTAssertNotNil(anonymous)
        await store.close()
    }

    // MARK: Cache

    func testCacheEvictsLeastRecentlyUsedFirstStaysWithinItsBoundAndSurvivesReopening() async throws {
        var store = try await MetadataStore.open(path: path, cacheSize: 10_000)
        func cached(_ n: UInt64) -> StoredObject {
            StoredObject(id: id(n), kind: .chunk, size: 4000, allocated: 4096, state: .cache)
        }
        let value11 = try await store.cacheInsert(cached(1))
        XCTAssertEqual(value11, [])
        let value12 = try await store.cacheInsert(cached(2))
        XCTAssertEqual(value12, [])
        try await store.touch(id(1))
        let evicted = try await store.cacheInsert(cached(3))
        XCTAssertEqual(evicted.map(\.id), [id(2)], "the least recently used entry goes first")
        var bytes = await store.cachedBytes
        XCTAssertEqual(bytes, 2 * 4096)
        // A replica is never a cache entry, and a cached copy that becomes a replica leaves the cache.
        try await self.store(1, by: alice, in: store)
        bytes = await store.cachedBytes
        XCTAssertEqual(bytes, 4096)
        let value13 = try await store.object(id(1))?.state
        XCTAssertEqual(value13, .replica)
        let value14 = try await store.cacheInsert(cached(1))
        XCTAssertEqual(value14, [], "inserting a replica as a cache entry does nothing")
        await store.close()

        store = try await MetadataStore.open(path: path, cacheSize: 10_000)
        bytes = await store.cachedBytes
        XCTAssertEqual(bytes, 4096, "the cache total is read back on open")
        let next = try await store.cacheInsert(cached(4))
        XCTAssertEqual(next, [])
        let over = try await store.cacheInsert(cached(5))
        XCTAssertEqual(over.map(\.id), [id(3)])
        await store.close()
    }

    // MARK: Files

    func testKeyringFileObjectsAndUploads() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        let key = try FileKey(bytes: [UInt8](repeating: 3, count: 32))
        let entry = KeyringEntry(
            address: FileAddress(root: id(100), key: key), size: 42, name: "movie", createdAt: at(7))
        try await store.saveKeyringEntry(entry)
        let value15 = try await store.keyringEntry(root: id(100))
        XCTAssertEqual(value15, entry)
        let value16 = try await store.keyringEntries()
        XCTAssertEqual(value16, [entry])

        try await store.beginUpload(id(500), at: at(1))
        try await store.addFileObjects(root: id(500), [id(1), id(2), id(3)])
        let value17 = try await store.unfinishedUploads()
        XCTAssertEqual(value17, [id(500)])
        try await store.finishUpload(id(500), root: id(100))
        let value18 = try await store.unfinishedUploads()
        XCTAssertEqual(value18, [])
        try await store.addFileObjects(root: id(200), [id(3), id(4)])
        let value19 = try await store.objectsOnlyIn(id(100))
        XCTAssertEqual(value19, [id(1), id(2)], "object 3 belongs to another file too")
        let value20 = try await store.objectsShared(by: id(100))
        XCTAssertEqual(value20, [id(3)])
        try await store.removeFileObjects(root: id(200))
        let value21 = try await store.objectsOnlyIn(id(100))
        XCTAssertEqual(value21, [id(1), id(2), id(3)])
        let value22 = try await store.removeKeyringEntry(root: id(100))
        XCTAssertTrue(value22)
        let value23 = try await store.removeKeyringEntry(root: id(100))
        XCTAssertFalse(value23)
        await store.close()
    }

    // MARK: Transactions

    func testCancelledAndConcurrentCallersNeverLeaveATransactionOpen() async throws {
        let store = try await MetadataStore.open(path: path, cacheSize: 1 << 20)
        // Many concurrent callers, half of them cancelled while queued or running.
        await withTaskGroup(of: Void.self) { group in
            for n in 0..<200 {
                group.addTask {
                    let record = StoredObject(
                        id: self.id(UInt64(n)), kind: .chunk, size: 1, allocated: 4096, state: .cache)
                    _ = try? await store.cacheInsert(record)
                    _ = try? await store.applyDelete(
                        owner: self.alice, objects: [self.id(UInt64(n))], deletedAt: self.at(1),
                        deleteID: .sha256(of: [UInt8]("\(self.alice) \(self.at(1))".utf8)), message: [1])
                }
                if n % 2 == 0 { group.cancelAll() }
            }
        }
        let open = await store.isInTransaction()
        XCTAssertFalse(open)
        // A statement that fails inside a transaction rolls it back and leaves the store usable.
        let bad = ObjectCommit(
            record: replica(7),
            decision: ClaimDecision(
                offered: [OwnerClaim(owner: alice, claimedAt: at(1))], fresh: true,
                now: at(1), tombstones: []))
        try await store.commit([bad])
        await assertThrows(MetadataStoreError.self, { try await store.runFailingTransaction() }) {
            $0.code == .database
        }
        let stillOpen = await store.isInTransaction()
        XCTAssertFalse(stillOpen)
        try await self.store(8, by: alice, in: store)
        let value24 = try await store.object(id(8))
        XCTAssertNotNil(value24)
        await store.close()
    }
}

extension MetadataStore {
    /// Runs raw SQL on the store's connection.
    func executeForTesting(_ sql: String) throws {
        try db.execute(sql)
    }

    /// A transaction whose second statement fails (NOT NULL constraint).
    func runFailingTransaction() throws {
        try transaction {
            try db.execute("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)")
            try db.execute("INSERT INTO objects (id) VALUES (NULL)")
        }
    }
}
