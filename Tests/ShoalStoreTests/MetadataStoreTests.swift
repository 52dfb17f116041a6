import Foundation
import ShoalCore
import ShoalTestKit
import ShoalWire
import XCTest

@testable import ShoalStore

final class MetadataStoreTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var path: String { directory.path + "/metadata.sqlite" }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory.remove()
    }

    private func id(_ n: UInt64) -> ContentID { Key256(words: (0, 0, 0, n)) }

    func testMigratesAnEmptyDatabaseToTheLatestSchemaAndReopensIt() async throws {
        var store = try await MetadataStore.open(path: path, cacheSize: 1_000)
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, MetadataSchema.latestVersion)
        XCTAssertGreaterThanOrEqual(version, 1)
        try await store.pin(id(1), root: id(100), kind: .chunk)
        try await store.addTombstone(id(2), deletedAt: Timestamp(nanoseconds: 5))
        try await store.close()

        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "the keyring's database is private")

        store = try await MetadataStore.open(path: path, cacheSize: 1_000)
        let reopenedVersion = try await store.schemaVersion()
        XCTAssertEqual(reopenedVersion, MetadataSchema.latestVersion)
        let pinned = try await store.isPinned(id(1))
        XCTAssertTrue(pinned)
        let tombstoned = try await store.isTombstoned(id(2))
        XCTAssertTrue(tombstoned)
        try await store.close()
    }

    func testForwardMigrationRunsNewStepsInOrderAndKeepsData() async throws {
        let v1 = Array(MetadataSchema.migrations.prefix(1))
        var store = try await MetadataStore.open(path: path, cacheSize: 100, migrations: v1)
        try await store.pin(id(7), root: id(8), kind: .manifest)
        try await store.close()

        let v2 = MetadataMigration(version: 2, statements: [
            "CREATE TABLE notes (id BLOB NOT NULL PRIMARY KEY, note TEXT NOT NULL)",
            "ALTER TABLE pins ADD COLUMN note TEXT NOT NULL DEFAULT 'kept'",
        ])
        store = try await MetadataStore.open(path: path, cacheSize: 100, migrations: v1 + [v2])
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, 2)
        let pins = try await store.pins(of: id(8))
        XCTAssertEqual(pins, [PinnedObject(id: id(7), root: id(8), kind: .manifest)])
        try await store.close()

        // A database newer than the build is refused, not silently used.
        await assertThrows(MetadataStoreError.self, {
            _ = try await MetadataStore.open(path: self.path, cacheSize: 100, migrations: v1)
        }) { $0.code == .schemaTooNew }
    }

    func testFailedMigrationIsRolledBack() async throws {
        let broken = MetadataMigration(version: 1, statements: [
            "CREATE TABLE a (x INTEGER)",
            "THIS IS NOT SQL",
        ])
        await assertThrows(MetadataStoreError.self, {
            _ = try await MetadataStore.open(path: self.path, cacheSize: 100, migrations: [broken])
        }) { $0.code == .database }
        let store = try await MetadataStore.open(path: path, cacheSize: 100)
        let version = try await store.schemaVersion()
        XCTAssertEqual(version, MetadataSchema.latestVersion, "the broken step left nothing behind")
        try await store.close()
    }

    func testCacheEvictsLeastRecentlyUsedFirstAndStaysWithinItsBound() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 300)
        let (a, b, c, d, e) = (id(1), id(2), id(3), id(4), id(5))
        for x in [a, b, c] {
            let evicted = try await store.cacheInsert(x, size: 100)
            XCTAssertEqual(evicted, [])
        }
        let touched = try await store.cacheTouch(a)
        XCTAssertTrue(touched)
        let untouched = try await store.cacheTouch(id(99))
        XCTAssertFalse(untouched)

        let first = try await store.cacheInsert(d, size: 100)
        XCTAssertEqual(first, [b], "b is the least recently used (a was read after it)")
        var cached = await store.cachedBytes
        XCTAssertEqual(cached, 300)

        let second = try await store.cacheInsert(e, size: 250)
        XCTAssertEqual(second, [c, a, d])
        cached = await store.cachedBytes
        XCTAssertEqual(cached, 250)
        let entries = try await store.cacheEntries()
        XCTAssertEqual(entries, [e])

        let huge = try await store.cacheInsert(id(6), size: 301)
        XCTAssertEqual(huge, [e, id(6)], "an entry larger than the cache does not stay")
        cached = await store.cachedBytes
        XCTAssertEqual(cached, 0)
        try await store.close()
    }

    func testCacheOrderAndSizeSurviveReopening() async throws {
        var store = try await MetadataStore.open(path: path, cacheSize: 300)
        for n: UInt64 in 1...3 { _ = try await store.cacheInsert(id(n), size: 100) }
        try await store.cacheTouch(id(1))
        try await store.close()

        store = try await MetadataStore.open(path: path, cacheSize: 300)
        let cached = await store.cachedBytes
        XCTAssertEqual(cached, 300)
        let evicted = try await store.cacheInsert(id(4), size: 100)
        XCTAssertEqual(evicted, [id(2)])
        let entries = try await store.cacheEntries()
        XCTAssertEqual(entries, [id(3), id(1), id(4)])
        try await store.cacheRemove(id(3))
        let afterRemove = await store.cachedBytes
        XCTAssertEqual(afterRemove, 200)
        try await store.close()
    }

    func testPinnedObjectsAreNeverCacheEntries() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 1_000)
        _ = try await store.cacheInsert(id(1), size: 400)
        try await store.pin(id(1), root: id(50), kind: .chunk)
        let cached = try await store.isCached(id(1))
        XCTAssertFalse(cached, "pinning takes an object out of the cache")
        let bytes = await store.cachedBytes
        XCTAssertEqual(bytes, 0)

        let evicted = try await store.cacheInsert(id(1), size: 400)
        XCTAssertEqual(evicted, [])
        let stillNotCached = try await store.isCached(id(1))
        XCTAssertFalse(stillNotCached)

        for n: UInt64 in 2...5 { _ = try await store.cacheInsert(id(n), size: 400) }
        let pinned = try await store.isPinned(id(1))
        XCTAssertTrue(pinned, "eviction never touches pinned objects")
        try await store.close()
    }

    func testPinsFollowFilesAndUploadsHandOverToTheirRoot() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        let upload = id(900)
        let rootA = id(1000)
        let rootB = id(2000)
        try await store.pin([PinnedObject(id: id(1), root: upload, kind: .chunk),
                             PinnedObject(id: id(2), root: upload, kind: .chunk),
                             PinnedObject(id: id(3), root: upload, kind: .manifest)])
        try await store.reassignPins(from: upload, to: rootA)
        let provisional = try await store.pins(of: upload)
        XCTAssertEqual(provisional, [])
        let pinsA = try await store.pins(of: rootA)
        XCTAssertEqual(Set(pinsA), [PinnedObject(id: id(1), root: rootA, kind: .chunk),
                                    PinnedObject(id: id(2), root: rootA, kind: .chunk),
                                    PinnedObject(id: id(3), root: rootA, kind: .manifest)])

        // Object 2 is shared with another file: removing file A must not free it.
        try await store.pin(id(2), root: rootB, kind: .chunk)
        let roots = try await store.roots(pinning: id(2))
        XCTAssertEqual(Set(roots), [rootA, rootB])
        let count = try await store.pinCount()
        XCTAssertEqual(count, 4)
        let freed = try await store.unpinAll(root: rootA)
        XCTAssertEqual(Set(freed), [id(1), id(3)])
        let sharedStillPinned = try await store.isPinned(id(2))
        XCTAssertTrue(sharedStillPinned)
        let lastPin = try await store.unpin(id(2), root: rootB)
        XCTAssertTrue(lastPin)
        let nothing = try await store.pinCount()
        XCTAssertEqual(nothing, 0)
        try await store.close()
    }

    func testOwners() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        let alice: [UInt8] = [4] + Array(repeating: 1, count: 64)
        let bob: [UInt8] = [4] + Array(repeating: 2, count: 64)
        try await store.addOwner(alice, of: id(1))
        try await store.addOwner(alice, of: id(1))
        try await store.addOwner(bob, of: id(1))
        try await store.addOwner(bob, of: id(2))
        let owners = try await store.owners(of: id(1))
        XCTAssertEqual(Set(owners), [alice, bob])
        let removed = try await store.removeOwner(alice, of: id(1))
        XCTAssertTrue(removed)
        let removedAgain = try await store.removeOwner(alice, of: id(1))
        XCTAssertFalse(removedAgain)
        let left = try await store.owners(of: id(1))
        XCTAssertEqual(left, [bob])
        try await store.removeAllOwners(of: id(1))
        let none = try await store.owners(of: id(1))
        XCTAssertEqual(none, [])
        let other = try await store.owners(of: id(2))
        XCTAssertEqual(other, [bob])
        try await store.close()
    }

    func testTombstones() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 0)
        let initially = try await store.isTombstoned(id(1))
        XCTAssertFalse(initially)
        try await store.addTombstone(id(1), deletedAt: Timestamp(nanoseconds: 1_000))
        try await store.addTombstone(id(1), deletedAt: Timestamp(nanoseconds: 500))
        try await store.addTombstone(id(2), deletedAt: Timestamp(nanoseconds: 3_000))
        let tombstoned = try await store.isTombstoned(id(1))
        XCTAssertTrue(tombstoned)
        let when = try await store.tombstone(of: id(1))
        XCTAssertEqual(when, Timestamp(nanoseconds: 1_000), "the later deletion time is kept")
        let expired = try await store.removeTombstones(before: Timestamp(nanoseconds: 2_000))
        XCTAssertEqual(expired, 1)
        let gone = try await store.isTombstoned(id(1))
        XCTAssertFalse(gone)
        let kept = try await store.isTombstoned(id(2))
        XCTAssertTrue(kept)
        try await store.close()
    }

    func testKeyring() async throws {
        var store = try await MetadataStore.open(path: path, cacheSize: 0)
        var rng = SeededRandom(seed: 3)
        let privateFile = KeyringEntry(address: FileAddress(root: id(10), key: FileKey.generate(using: &rng)),
                                       size: 12_345, name: "report.pdf", createdAt: Timestamp(nanoseconds: 2))
        let publicFile = KeyringEntry(address: FileAddress(root: id(11), key: nil),
                                      size: 0, name: "empty", createdAt: Timestamp(nanoseconds: 1))
        try await store.saveKeyringEntry(privateFile)
        try await store.saveKeyringEntry(publicFile)
        try await store.close()

        store = try await MetadataStore.open(path: path, cacheSize: 0)
        let read = try await store.keyringEntry(root: id(10))
        XCTAssertEqual(read, privateFile)
        XCTAssertEqual(read?.isPublic, false)
        let all = try await store.keyringEntries()
        XCTAssertEqual(all, [publicFile, privateFile], "oldest first")
        let removed = try await store.removeKeyringEntry(root: id(11))
        XCTAssertTrue(removed)
        let missing = try await store.keyringEntry(root: id(11))
        XCTAssertNil(missing)
        try await store.close()
    }

    func testConcurrentOperationsDoNotInterleaveTransactions() async throws {
        let store = try await MetadataStore.openInMemory(cacheSize: 5_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 1...50 {
                group.addTask {
                    if n % 2 == 0 {
                        _ = try await store.cacheInsert(Key256(words: (0, 0, 0, UInt64(n))), size: 200)
                    } else {
                        try await store.pin(Key256(words: (0, 0, 0, UInt64(n))), root: Key256(words: (0, 0, 0, 1_000)), kind: .chunk)
                    }
                }
            }
            try await group.waitForAll()
        }
        let cached = await store.cachedBytes
        XCTAssertLessThanOrEqual(cached, 5_000)
        XCTAssertEqual(cached, 5_000, "25 entries of 200 bytes fill the 5000-byte cache exactly")
        let pins = try await store.pinCount()
        XCTAssertEqual(pins, 25)
        try await store.close()
    }
}
