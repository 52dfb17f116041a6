import Foundation
import Logging
import NIOCore
import ShoalCore
import ShoalFile
import XCTest

@testable import ShoalStore

/// The objects a node holds as one unit: decided, written, recorded, all or nothing.
final class LocalObjectsTests: XCTestCase, @unchecked Sendable {
    private var directory: TemporaryDirectory!
    private let alice = ObjectOwner(key: [UInt8](repeating: 0xA1, count: 65))!
    private let bob = ObjectOwner(key: [UInt8](repeating: 0xB0, count: 65))!
    private func at(_ seconds: Int64) -> Timestamp { Timestamp(nanoseconds: seconds * 1_000_000_000) }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory.remove()
    }

    private func open(maxStorage: UInt64? = nil, cacheSize: UInt64 = 1 << 20) async throws -> LocalObjects {
        try await LocalObjects.open(
            directory: directory.path, maxStorage: maxStorage, cacheSize: cacheSize, logger: Logger(label: "t"))
    }

    private func object(_ count: Int, seed: UInt64) -> (id: ContentID, bytes: ByteBuffer) {
        let bytes = randomBytes(count, seed: seed)
        return (Key256.sha256(of: bytes), ByteBuffer(bytes: bytes))
    }

    @discardableResult
    private func store(
        _ objects: LocalObjects, _ o: (id: ContentID, bytes: ByteBuffer), by owner: ObjectOwner, at time: Int64,
        fresh: Bool = true
    ) async throws -> StoreResult {
        try await objects.storeReplica(
            o.id, bytes: o.bytes, kind: .chunk, claims: [OwnerClaim(owner: owner, claimedAt: at(time))],
            fresh: fresh, hashVerified: false, now: at(time))
    }

    func testAReplicaIsWrittenAndRecordedOnceAndGainsEveryClaim() async throws {
        let objects = try await open()
        let o = object(10_000, seed: 1)
        let first = try await store(objects, o, by: alice, at: 1)
        let second = try await store(objects, o, by: bob, at: 2)
        XCTAssertEqual(first, .stored)
        XCTAssertEqual(second, .alreadyHeld)
        let record = try await objects.holding(o.id)
        XCTAssertEqual(record?.state, .replica)
        XCTAssertEqual(record?.size, 10_000)
        let value1 = Set(try await objects.metadata.claims(of: o.id).map(\.owner))
        XCTAssertEqual(value1, [alice, bob])
        let bytes = try await objects.get(o.id)
        XCTAssertEqual(bytes, o.bytes)
        await objects.close()
    }

    func testOneOwnersDeleteNeverBlocksAnotherOwnersContent() async throws {
        let objects = try await open()
        let o = object(3_000, seed: 2)
        // The attacker stores a public chunk under its own key and deletes it.
        try await store(objects, o, by: bob, at: 1)
        let poisoned = try await objects.applyDelete(
            owner: bob, objects: [o.id], deletedAt: at(2), deleteID: .sha256(of: [UInt8]("\(bob) \(at(2))".utf8)),
            message: [1])
        XCTAssertEqual(poisoned, [.removed])
        // The publisher's put of the same chunk is accepted.
        let published = try await store(objects, o, by: alice, at: 3)
        XCTAssertEqual(published, .stored)
        // The attacker's stale claim, pushed back, is refused; nothing changes.
        let pushed = try await store(objects, o, by: bob, at: 1, fresh: false)
        XCTAssertEqual(pushed, .alreadyHeld)
        let value2 = try await objects.metadata.claims(of: o.id).map(\.owner)
        XCTAssertEqual(value2, [alice])
        // An owner deletes and puts the same object again.
        _ = try await objects.applyDelete(
            owner: alice, objects: [o.id], deletedAt: at(4), deleteID: .sha256(of: [UInt8]("\(alice) \(at(4))".utf8)),
            message: [1])
        let gone = try await objects.holding(o.id)
        XCTAssertNil(gone)
        let again = try await store(objects, o, by: alice, at: 5)
        XCTAssertEqual(again, .stored)
        await objects.close()
    }

    func testAPushOfDeletedContentIsRefusedAndWritesNothing() async throws {
        let objects = try await open()
        let o = object(5_000, seed: 3)
        try await store(objects, o, by: alice, at: 10)
        _ = try await objects.applyDelete(
            owner: alice, objects: [o.id], deletedAt: at(20), deleteID: .sha256(of: [UInt8]("\(alice) \(at(20))".utf8)),
            message: [1])
        let counted = objects.chunks.bytesCounted
        await assertThrows(
            LocalObjectsError.self, { try await self.store(objects, o, by: self.alice, at: 10, fresh: false) }
        ) { _ in true }
        let held = try await objects.holding(o.id)
        XCTAssertNil(held)
        let onDisk = try await objects.chunks.contains(o.id)
        XCTAssertFalse(onDisk)
        XCTAssertLessThanOrEqual(objects.chunks.bytesCounted, counted + 4096, "a refused store leaves no file")
        XCTAssertEqual(directory.files(in: "tmp"), [])
        await objects.close()
    }

    func testStoresRefusedForCapacityLeaveNoRecordAndTheLimitHoldsWithinOneObject() async throws {
        let limit: UInt64 = 1 << 20
        let objects = try await open(maxStorage: limit)
        var accepted = 0
        var refused = 0
        for seed in 0..<2_000 {
            do {
                try await store(objects, object(8, seed: 100 + UInt64(seed)), by: alice, at: 1)
                accepted += 1
            } catch let error as ChunkStoreError where error.code == .capacityExceeded {
                refused += 1
                if refused >= 50 { break }
            }
        }
        XCTAssertGreaterThan(refused, 0)
        let rows = await objects.metadata.objectCounts[.replica] ?? 0
        XCTAssertEqual(rows, accepted, "a refused store records nothing")
        // What the data directory really takes stays within the limit plus one object's blocks.
        let used = try diskUsage(directory.path)
        XCTAssertLessThanOrEqual(used, limit + 3 * 4096, "\(used) bytes on disk under a \(limit)-byte limit")
        XCTAssertLessThan(accepted, 250, "8-byte objects are counted by what they take, not by their payload")
        await objects.close()
    }

    func testConcurrentStoresShareTheirSyncs() async throws {
        let objects = try await open()
        let stored = try await withThrowingTaskGroup(of: StoreResult.self) { group in
            for seed in 0..<48 {
                group.addTask {
                    try await self.store(objects, self.object(70_000, seed: 500 + UInt64(seed)), by: self.alice, at: 1)
                }
            }
            return try await group.reduce(into: 0) { count, result in if result == .stored { count += 1 } }
        }
        XCTAssertEqual(stored, 48)
        let (batches, committed) = await objects.commitStatistics()
        XCTAssertEqual(committed, 48)
        XCTAssertLessThanOrEqual(batches, 48)
        print("[group commit] 48 concurrent stores published in \(batches) batches")
        let rows = await objects.metadata.objectCounts[.replica] ?? 0
        XCTAssertEqual(rows, 48)
        await objects.close()
    }

    func testCancelledStoresAreAllOrNothing() async throws {
        let objects = try await open()
        let all = (0..<40).map { object(30_000, seed: 900 + UInt64($0)) }
        await withTaskGroup(of: Void.self) { group in
            for (n, o) in all.enumerated() {
                group.addTask { _ = try? await self.store(objects, o, by: self.alice, at: 1) }
                if n == 20 { group.cancelAll() }
            }
        }
        let open = await objects.metadata.isInTransaction()
        XCTAssertFalse(open)
        for o in all {
            let record = try await objects.holding(o.id)
            let onDisk = try await objects.chunks.contains(o.id)
            XCTAssertEqual(record != nil, onDisk, "an object is recorded exactly when its file is in place")
        }
        XCTAssertEqual(directory.files(in: "tmp"), [])
        // The store keeps working.
        try await store(objects, object(10, seed: 7), by: alice, at: 2)
        await objects.close()
    }

    func testCachedCopiesAreWrittenOffThePathAndEvictedAndBecomeReplicasDurably() async throws {
        let objects = try await open(cacheSize: 3 * 8192)
        let writer = Task { await objects.runCacheWriter() }
        let cached = (0..<4).map { object(5_000, seed: 40 + UInt64($0)) }
        for o in cached {
            objects.cache(o.id, bytes: o.bytes, kind: .chunk)
            for _ in 0..<400 where try await objects.holding(o.id) == nil {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let first = try await objects.holding(cached[0].id)
        XCTAssertNil(first, "the least recently used copy was evicted")
        let onDisk = try await objects.chunks.contains(cached[0].id)
        XCTAssertFalse(onDisk)
        let value3 = try await objects.holding(cached[3].id)?.state
        XCTAssertEqual(value3, .cache)
        // A cached copy stored as a replica becomes one (and is synced).
        try await store(objects, cached[3], by: alice, at: 1)
        let value4 = try await objects.holding(cached[3].id)?.state
        XCTAssertEqual(value4, .replica)
        let cachedBytes = await objects.metadata.cachedBytes
        XCTAssertLessThanOrEqual(cachedBytes, 3 * 8192)
        await objects.close()
        await writer.value
    }

    func testReopeningAdoptsFilesTheMetadataLostAndForgetsRecordsWhoseFilesAreGone() async throws {
        var objects = try await open()
        let kept = object(2_000, seed: 60)
        let lost = object(2_000, seed: 61)
        try await store(objects, kept, by: alice, at: 1)
        try await store(objects, lost, by: alice, at: 1)
        try FileManager.default.removeItem(atPath: objects.chunks.objectPath(lost.id))
        await objects.close()
        // The metadata database is moved aside: the node starts with an empty one.
        try FileManager.default.moveItem(
            atPath: directory.path + "/metadata.sqlite", toPath: directory.path + "/aside.sqlite")
        _ = try? FileManager.default.removeItem(atPath: directory.path + "/metadata.sqlite-wal")
        objects = try await open()
        let value5 = try await objects.holding(kept.id)?.state
        XCTAssertEqual(value5, .unchecked, "an unlisted file is kept, unchecked")
        let served = try await objects.get(kept.id)
        XCTAssertNil(served, "an unchecked copy is not served")
        let missing = try await objects.holding(lost.id)
        XCTAssertNil(missing)
        // An owner putting it again vouches for it.
        try await store(objects, kept, by: alice, at: 2)
        let value6 = try await objects.holding(kept.id)?.state
        XCTAssertEqual(value6, .replica)
        await objects.close()
    }

    func testADamagedMetadataDatabaseKeepsTheNodeFromStarting() async throws {
        let objects = try await open()
        try await store(objects, object(100, seed: 70), by: alice, at: 1)
        await objects.close()
        _ = try? FileManager.default.removeItem(atPath: directory.path + "/metadata.sqlite-wal")
        try Data().write(to: URL(fileURLWithPath: directory.path + "/metadata.sqlite"))
        await assertThrows(MetadataStoreError.self, { _ = try await self.open() }) { $0.code == .damaged }
        // The chunk store's lock was released: the directory can be opened once the database is fixed.
        try FileManager.default.removeItem(atPath: directory.path + "/metadata.sqlite")
        let reopened = try await open()
        await reopened.close()
    }

    /// Bytes the files under `path` take on disk (their allocated blocks).
    private func diskUsage(_ path: String) throws -> UInt64 {
        var total: UInt64 = 0
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0 { total += UInt64(info.st_blocks) * 512 }
        }
        return total
    }
}
