import Foundation
import ShoalCore
import XCTest

@testable import ShoalStore

final class ChunkStoreTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory.remove()
    }

    private func object(_ count: Int, seed: UInt64) -> (id: ContentID, bytes: [UInt8]) {
        let bytes = randomBytes(count, seed: seed)
        return (Key256.sha256(of: bytes), bytes)
    }

    func testPutGetUsesShardedLayoutAndIsIdempotent() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(5_000, seed: 1)

        let first = try await store.put(bytes, id: id)
        XCTAssertTrue(first)
        let hex = id.hex
        let expectedPath = "\(directory.path)/chunks/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
        XCTAssertEqual(store.objectPath(id), expectedPath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: expectedPath))
        let read = try await store.get(id)
        XCTAssertEqual(read, bytes)
        let contains = try await store.contains(id)
        XCTAssertTrue(contains)
        let size = try await store.size(of: id)
        XCTAssertEqual(size, 5_000)
        XCTAssertEqual(store.bytesInUse, 5_000)
        XCTAssertEqual(store.objectCount, 1)

        let again = try await store.put(bytes, id: id)
        XCTAssertFalse(again, "storing an object twice stores it once")
        XCTAssertEqual(store.bytesInUse, 5_000)
        XCTAssertEqual(store.objectCount, 1)
        XCTAssertEqual(directory.files(in: "tmp"), [])
    }

    func testBytesThatDoNotHashToTheIDAreRefused() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, _) = object(100, seed: 2)
        await assertThrows(ChunkStoreError.self, { try await store.put(randomBytes(100, seed: 3), id: id) }) {
            $0.code == .hashMismatch && $0.id == id
        }
        let contains = try await store.contains(id)
        XCTAssertFalse(contains)
        XCTAssertEqual(store.bytesInUse, 0)
    }

    func testMissingObjectIsNotFound() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, _) = object(10, seed: 4)
        await assertThrows(ChunkStoreError.self, { _ = try await store.get(id) }) { $0.code == .notFound }
    }

    func testCorruptObjectIsReportedQuarantinedAndNeverServed() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(70_000, seed: 5)
        let (other, otherBytes) = object(1_000, seed: 6)
        try await store.put(bytes, id: id)
        try await store.put(otherBytes, id: other)

        var damaged = bytes
        damaged[12_345] ^= 0x10
        try Data(damaged).write(to: URL(fileURLWithPath: store.objectPath(id)))

        await assertThrows(ChunkStoreError.self, { _ = try await store.get(id) }) { $0.code == .corrupt && $0.id == id }
        XCTAssertEqual(directory.files(in: "quarantine"), [id.hex])
        let contains = try await store.contains(id)
        XCTAssertFalse(contains, "a quarantined object is no longer held")
        await assertThrows(ChunkStoreError.self, { _ = try await store.get(id) }) { $0.code == .notFound }
        await assertThrows(ChunkStoreError.self, { _ = try await store.read(id, offset: 0, length: 10) }) { $0.code == .notFound }
        XCTAssertEqual(store.bytesInUse, 1_000)
        XCTAssertEqual(store.objectCount, 1)
        let intact = try await store.get(other)
        XCTAssertEqual(intact, otherBytes)

        // A fresh copy can be stored again afterwards.
        let stored = try await store.put(bytes, id: id)
        XCTAssertTrue(stored)
        let healed = try await store.get(id)
        XCTAssertEqual(healed, bytes)
    }

    func testRangedReadVerifiesAndSlices() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(1_000, seed: 7)
        try await store.put(bytes, id: id)

        let middle = try await store.read(id, offset: 100, length: 50)
        XCTAssertEqual(middle, ChunkSlice(data: Array(bytes[100..<150]), offset: 100, totalSize: 1_000))
        let toEnd = try await store.read(id, offset: 900, length: 0)
        XCTAssertEqual(toEnd.data, Array(bytes[900...]))
        let past = try await store.read(id, offset: 990, length: 500)
        XCTAssertEqual(past.data, Array(bytes[990...]))
        let empty = try await store.read(id, offset: 1_000, length: 0)
        XCTAssertEqual(empty.data, [])
        await assertThrows(ChunkStoreError.self, { _ = try await store.read(id, offset: 1_001, length: 1) }) {
            $0.code == .rangeOutOfBounds
        }

        var damaged = bytes
        damaged[999] ^= 1
        try Data(damaged).write(to: URL(fileURLWithPath: store.objectPath(id)))
        await assertThrows(ChunkStoreError.self, { _ = try await store.read(id, offset: 0, length: 10) }) {
            $0.code == .corrupt
        }
    }

    func testWriteKilledMidwayLeavesNothingVisibleAndTempFilesAreCleanedOnRestart() async throws {
        var store = try await ChunkStore.open(directory: directory.path)
        let (kept, keptBytes) = object(3_000, seed: 8)
        try await store.put(keptBytes, id: kept)
        // A crashed write: the temp file exists with part of the object, nothing was renamed.
        let (lost, lostBytes) = object(8_000, seed: 9)
        let temp = "\(directory.path)/tmp/\(lost.hex).4242.1.tmp"
        try Data(lostBytes[..<2_500]).write(to: URL(fileURLWithPath: temp))
        let visible = try await store.contains(lost)
        XCTAssertFalse(visible)
        store.close()

        store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        XCTAssertEqual(directory.files(in: "tmp"), [], "temp files of interrupted writes are removed on start")
        let lostVisible = try await store.contains(lost)
        XCTAssertFalse(lostVisible)
        XCTAssertEqual(store.bytesInUse, 3_000, "accounting counts whole objects only")
        XCTAssertEqual(store.objectCount, 1)
        let read = try await store.get(kept)
        XCTAssertEqual(read, keptBytes)
    }

    func testFullDiskIsReportedClearlyAndLeavesNoPartialObject() async throws {
        let store = try await ChunkStore.open(directory: directory.path, faults: ChunkStoreFaults(failWritesAfterBytes: 4_096))
        defer { store.close() }
        let (id, bytes) = object(10_000, seed: 10)
        await assertThrows(ChunkStoreError.self, { try await store.put(bytes, id: id) }) { error in
            error.code == .diskFull && error.description.contains("full") && error.description.contains("--max-storage")
        }
        let contains = try await store.contains(id)
        XCTAssertFalse(contains)
        XCTAssertEqual(directory.files(in: "tmp"), [], "the partial temp file is removed")
        XCTAssertEqual(store.bytesInUse, 0)

        // Objects that fit under the simulated limit still go through.
        let (small, smallBytes) = object(4_000, seed: 11)
        let stored = try await store.put(smallBytes, id: small)
        XCTAssertTrue(stored)
    }

    func testCapacityLimitRefusesNewObjectsButAcceptsOnesAlreadyHeld() async throws {
        let store = try await ChunkStore.open(directory: directory.path, maxBytes: 10_000)
        defer { store.close() }
        let (a, aBytes) = object(6_000, seed: 12)
        let (b, bBytes) = object(6_000, seed: 13)
        try await store.put(aBytes, id: a)
        await assertThrows(ChunkStoreError.self, { try await store.put(bBytes, id: b) }) { error in
            error.code == .capacityExceeded && error.description.contains("--max-storage")
        }
        let bHeld = try await store.contains(b)
        XCTAssertFalse(bHeld)
        XCTAssertEqual(directory.files(in: "tmp"), [])
        let again = try await store.put(aBytes, id: a)
        XCTAssertFalse(again, "an object already held is accepted even at the limit")

        let deleted = try await store.delete(a)
        XCTAssertTrue(deleted)
        XCTAssertEqual(store.bytesInUse, 0)
        let stored = try await store.put(bBytes, id: b)
        XCTAssertTrue(stored)
        XCTAssertEqual(store.bytesInUse, 6_000)
    }

    func testOversizedObjectIsRefused() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let bytes = [UInt8](repeating: 7, count: ChunkStore.maximumObjectSize + 1)
        await assertThrows(ChunkStoreError.self, { try await store.put(bytes, id: Key256.sha256(of: bytes)) }) {
            $0.code == .objectTooLarge
        }
    }

    func testConcurrentWritersOfTheSameChunkAreSafeAndCountedOnce() async throws {
        let store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        let (id, bytes) = object(200_000, seed: 14)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 { group.addTask { try await store.put(bytes, id: id) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(results.filter { $0 }.count, 1, "exactly one writer stores the object")
        XCTAssertEqual(store.bytesInUse, 200_000)
        XCTAssertEqual(store.objectCount, 1)
        XCTAssertEqual(directory.files(in: "tmp"), [])
        let read = try await store.get(id)
        XCTAssertEqual(read, bytes)
    }

    func testDeleteAndEnumerationAndAccountingAcrossRestart() async throws {
        var store = try await ChunkStore.open(directory: directory.path)
        var all: Set<ContentID> = []
        var total: UInt64 = 0
        for seed in 0..<40 {
            let (id, bytes) = object(100 + seed, seed: 100 + UInt64(seed))
            try await store.put(bytes, id: id)
            all.insert(id)
            total += UInt64(bytes.count)
        }
        let listed = try await store.allIDs()
        XCTAssertEqual(Set(listed), all)
        XCTAssertEqual(listed.count, 40)
        let someID = all.first!
        let shard = try await store.ids(inShard: someID.bytes[0])
        XCTAssertTrue(shard.contains(someID))
        XCTAssertTrue(shard.allSatisfy { $0.bytes[0] == someID.bytes[0] })

        let deleted = try await store.delete(someID)
        XCTAssertTrue(deleted)
        let deletedAgain = try await store.delete(someID)
        XCTAssertFalse(deletedAgain)
        let size = try await store.size(of: someID)
        XCTAssertNil(size)
        total -= UInt64(100 + (0..<40).first { Key256.sha256(of: randomBytes(100 + $0, seed: 100 + UInt64($0))) == someID }!)
        XCTAssertEqual(store.bytesInUse, total)
        store.close()

        store = try await ChunkStore.open(directory: directory.path)
        defer { store.close() }
        XCTAssertEqual(store.bytesInUse, total, "the scan on start finds the same bytes in use")
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
