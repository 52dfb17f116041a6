import Foundation
import NIOCore
import ShoalCore
import ShoalFile
import XCTest

@testable import ShoalStore

final class ChunkStoreTests: XCTestCase, @unchecked Sendable {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory.remove()
    }

    private func object(_ count: Int, seed: UInt64) -> (id: ContentID, bytes: ByteBuffer) {
        let bytes = randomBytes(count, seed: seed)
        return (Key256.sha256(of: bytes), ByteBuffer(bytes: bytes))
    }

    /// Stages and publishes one object durably. - Returns: `true` when this call stored it.
    @discardableResult
    private func put(_ store: ChunkStore, _ bytes: ByteBuffer, _ id: ContentID) async throws -> Bool {
        guard let staged = try await store.stage(bytes, id: id, verifyHash: true) else { return false }
        return try await store.publish([staged], durable: true)[0].get() != nil
    }

    func testPublishUsesShardedLayoutAndIsIdempotent() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(5_000, seed: 1)
        let first = try await put(store, bytes, id)
        XCTAssertTrue(first)
        let hex = id.hex
        let expectedPath = "\(directory.path)/chunks/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
        XCTAssertEqual(store.objectPath(id), expectedPath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: expectedPath))
        let read = try await store.get(id)
        XCTAssertEqual(read, bytes)
        let size = try await store.size(of: id)
        XCTAssertEqual(size, 5_000)
        XCTAssertEqual(store.objectCount, 1)
        // Space is what the disk allocates: whole blocks for the object and its two shard directories.
        XCTAssertGreaterThanOrEqual(store.bytesInUse, 8_192 + 2 * 4_096)

        let before = store.bytesInUse
        let again = try await put(store, bytes, id)
        XCTAssertFalse(again, "storing an object twice stores it once")
        XCTAssertEqual(store.bytesInUse, before)
        XCTAssertEqual(store.objectCount, 1)
        XCTAssertEqual(directory.files(in: "tmp"), [])
    }

    func testBytesThatDoNotHashToTheIDAreRefused() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, _) = object(100, seed: 2)
        await assertThrows(
            ChunkStoreError.self,
            { _ = try await store.stage(ByteBuffer(bytes: randomBytes(100, seed: 3)), id: id, verifyHash: true) }
        ) {
            $0.code == .hashMismatch && $0.id == id
        }
        let contains = try await store.contains(id)
        XCTAssertFalse(contains)
        XCTAssertEqual(store.bytesCounted, store.bytesInUse, "nothing stays reserved")
        XCTAssertEqual(directory.files(in: "tmp"), [])
    }

    func testMissingObjectIsNotFound() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, _) = object(10, seed: 4)
        await assertThrows(ChunkStoreError.self, { _ = try await store.get(id) }) { $0.code == .notFound }
    }

    func testCorruptObjectIsQuarantinedByAVerifyingReadAndNeverServedAgain() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(70_000, seed: 5)
        let (other, otherBytes) = object(1_000, seed: 6)
        try await put(store, bytes, id)
        try await put(store, otherBytes, other)
        var damaged = Array(bytes.readableBytesView)
        damaged[12_345] ^= 0x10
        try Data(damaged).write(to: URL(fileURLWithPath: store.objectPath(id)))

        // An unverified range read serves what is on disk (the reader verifies and reports it).
        let unverified = try await store.read(id, offset: 12_340, length: 10, verify: false)
        XCTAssertEqual(Array(unverified.data.readableBytesView), Array(damaged[12_340..<12_350]))
        let intact = try await store.verify(other)
        XCTAssertTrue(intact)
        let verified = try await store.verify(id)
        XCTAssertFalse(verified, "a verification finds the damage")
        XCTAssertEqual(directory.files(in: "quarantine"), [id.hex])
        await assertThrows(ChunkStoreError.self, { _ = try await store.get(id) }) { $0.code == .notFound }
        XCTAssertEqual(store.objectCount, 1)
        let otherRead = try await store.get(other)
        XCTAssertEqual(otherRead, otherBytes)
        // A fresh copy can be stored again afterwards.
        let stored = try await put(store, bytes, id)
        XCTAssertTrue(stored)
    }

    func testRangedReadsVerifyOrNotAndSlice() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, buffer) = object(1_000, seed: 7)
        let bytes = Array(buffer.readableBytesView)
        try await put(store, buffer, id)
        for verify in [true, false] {
            let middle = try await store.read(id, offset: 100, length: 50, verify: verify)
            XCTAssertEqual(Array(middle.data.readableBytesView), Array(bytes[100..<150]))
            XCTAssertEqual(middle.totalSize, 1_000)
            let toEnd = try await store.read(id, offset: 900, length: 0, verify: verify)
            XCTAssertEqual(Array(toEnd.data.readableBytesView), Array(bytes[900...]))
            let past = try await store.read(id, offset: 990, length: 500, verify: verify)
            XCTAssertEqual(Array(past.data.readableBytesView), Array(bytes[990...]))
            let empty = try await store.read(id, offset: 1_000, length: 0, verify: verify)
            XCTAssertEqual(empty.data.readableBytes, 0)
            await assertThrows(
                ChunkStoreError.self, { _ = try await store.read(id, offset: 1_001, length: 1, verify: verify) }
            ) {
                $0.code == .rangeOutOfBounds
            }
        }
    }

    func testWriteKilledMidwayLeavesNothingVisibleAndTempFilesAreCleanedOnRestart() async throws {
        var store = try await ChunkStore.open(directory: directory.path)
        let (kept, keptBytes) = object(3_000, seed: 8)
        try await put(store, keptBytes, kept)
        let inUse = store.bytesInUse
        // A crashed write: the temp file holds part of the object, nothing was linked.
        let (lost, lostBytes) = object(8_000, seed: 9)
        let temp = "\(directory.path)/tmp/\(lost.hex).4242.1.tmp"
        try Data(lostBytes.readableBytesView.prefix(2_500)).write(to: URL(fileURLWithPath: temp))
        // A staged write that is never published is not visible either.
        let (staged, stagedBytes) = object(4_000, seed: 99)
        _ = try await store.stage(stagedBytes, id: staged, verifyHash: true)
        let visible = try await store.contains(lost)
        let stagedVisible = try await store.contains(staged)
        XCTAssertFalse(visible)
        XCTAssertFalse(stagedVisible)
        store.close()

        store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        XCTAssertEqual(directory.files(in: "tmp"), [], "temp files of interrupted writes are removed on start")
        XCTAssertEqual(store.bytesInUse, inUse, "accounting counts published objects only")
        XCTAssertEqual(store.objectCount, 1)
        let read = try await store.get(kept)
        XCTAssertEqual(read, keptBytes)
    }

    func testFullDiskIsReportedClearlyAndLeavesNoPartialObject() async throws {
        let store = try await ChunkStore.open(
            directory: directory.path, faults: ChunkStoreFaults(failWritesAfterBytes: 4_096))
        defer { store.close() }
        let (id, bytes) = object(10_000, seed: 10)
        await assertThrows(ChunkStoreError.self, { _ = try await store.stage(bytes, id: id, verifyHash: true) }) {
            error in
            error.code == .diskFull && error.description.contains("full") && error.description.contains("--max-storage")
        }
        let contains = try await store.contains(id)
        XCTAssertFalse(contains)
        XCTAssertEqual(directory.files(in: "tmp"), [], "the partial temp file is removed")
        XCTAssertEqual(store.bytesCounted, store.bytesInUse, "the reservation is released")
        let (small, smallBytes) = object(4_000, seed: 11)
        let stored = try await put(store, smallBytes, small)
        XCTAssertTrue(stored)
    }

    func testCapacityCountsWhatTheDiskAllocatesAndWhatTheOwnerAdds() async throws {
        let store = try await ChunkStore.open(directory: directory.path, maxBytes: 64 << 10)
        defer { store.close() }
        // Tiny objects take a whole block each: far fewer fit than their payload suggests.
        var stored = 0
        for seed in 0..<1_000 {
            let (id, bytes) = object(8, seed: 1_000 + UInt64(seed))
            do {
                try await put(store, bytes, id)
                stored += 1
            } catch let error as ChunkStoreError where error.code == .capacityExceeded {
                XCTAssertTrue(error.description.contains("--max-storage"))
                break
            }
        }
        XCTAssertLessThan(stored, 16, "8-byte objects still take 4 KiB blocks and directories")
        XCTAssertGreaterThan(stored, 0)
        XCTAssertLessThanOrEqual(store.bytesCounted, 64 << 10)
        // The owner's bytes (the metadata database) count too.
        store.setExternalBytes(64 << 10)
        let (next, nextBytes) = object(8, seed: 5_000)
        await assertThrows(ChunkStoreError.self, { try await self.put(store, nextBytes, next) }) {
            $0.code == .capacityExceeded
        }
        XCTAssertEqual(directory.files(in: "tmp"), [])
    }

    func testOversizedObjectIsRefused() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let bytes = ByteBuffer(repeating: 7, count: ChunkStore.maximumObjectSize + 1)
        await assertThrows(
            ChunkStoreError.self,
            { _ = try await store.stage(bytes, id: ContentID.sha256(of: bytes), verifyHash: false) }
        ) {
            $0.code == .objectTooLarge
        }
    }

    func testConcurrentWritersOfTheSameChunkAreSafeAndCountedOnce() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(200_000, seed: 14)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 { group.addTask { try await self.put(store, bytes, id) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(results.filter { $0 }.count, 1, "exactly one writer stores the object")
        XCTAssertEqual(store.objectCount, 1)
        XCTAssertEqual(store.bytesCounted, store.bytesInUse, "every reservation was released")
        XCTAssertEqual(directory.files(in: "tmp"), [])
        let read = try await store.get(id)
        XCTAssertEqual(read, bytes)
    }

    func testBatchPublishDeleteInventoryAndAccountingAcrossRestart() async throws {
        var store = try await ChunkStore.open(directory: directory.path)
        var all: Set<ContentID> = []
        var staged: [StagedObject] = []
        for seed in 0..<40 {
            let (id, bytes) = object(100 + seed, seed: 100 + UInt64(seed))
            let one = try await store.stage(bytes, id: id, verifyHash: true)
            staged.append(try XCTUnwrap(one))
            all.insert(id)
        }
        let results = await store.publish(staged, durable: true)
        XCTAssertEqual(try results.compactMap { try $0.get() }.count, 40)
        let inventory = try await store.inventory()
        XCTAssertEqual(Set(inventory.keys), all)
        let someID = all.first!
        let deleted = try await store.delete(someID)
        XCTAssertTrue(deleted)
        let deletedAgain = try await store.delete(someID)
        XCTAssertFalse(deletedAgain)
        let size = try await store.size(of: someID)
        XCTAssertNil(size)
        let inUse = store.bytesInUse
        store.close()

        store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        XCTAssertEqual(store.bytesInUse, inUse, "the scan on start finds the same space in use")
        XCTAssertEqual(store.objectCount, 39)
    }

    func testDataDirectoryIsLockedWhileOpen() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        await assertThrows(ChunkStoreError.self, { _ = try await ChunkStore.open(directory: self.directory.path) }) {
            $0.code == .directoryInUse
        }
        store.close()
        let reopened = try await ChunkStore.open(directory: directory.path)
        reopened.close()
    }
}
