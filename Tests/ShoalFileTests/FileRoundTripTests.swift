import Foundation
import NIOCore
import ShoalCore
import ShoalTestKit
import ShoalWire
import XCTest

@testable import ShoalFile

final class FileRoundTripTests: XCTestCase {
    private let chunk = 64 << 10

    private func ingest(
        _ bytes: [UInt8], into store: MemoryObjectStore, encryption: FileEncryption,
        maxEntries: Int = Manifest.defaultMaxEntries, maxInFlight: Int = 8,
        pieceSize: Int = 10_007
    ) async throws -> IngestResult {
        let ingest = try FileIngest(chunkSize: chunk, maxInFlight: maxInFlight, maxEntries: maxEntries)
        return try await ingest.ingest(
            ByteStream(bytes: bytes, pieceSize: pieceSize), into: store, encryption: encryption)
    }

    private func privateKey(_ seed: UInt64) -> FileKey {
        var rng = SeededRandom(seed: seed)
        return FileKey.generate(using: &rng)
    }

    func testRoundTripsAtEdgeSizesPrivateAndPublic() async throws {
        let sizes = [0, 1, chunk - 1, chunk, chunk + 1, 10 * chunk + 7]
        for size in sizes {
            for isPublic in [false, true] {
                let bytes = randomBytes(size, seed: UInt64(size))
                let store = MemoryObjectStore()
                let result = try await ingest(
                    bytes, into: store, encryption: isPublic ? .public : .private(key: privateKey(1)))
                let expectedChunks = (size + chunk - 1) / chunk
                let context = "size \(size) \(isPublic ? "public" : "private")"
                XCTAssertEqual(result.size, UInt64(size), context)
                XCTAssertEqual(result.chunkCount, UInt64(expectedChunks), context)
                XCTAssertEqual(result.address.isPublic, isPublic, context)
                XCTAssertEqual(result.objectCount, expectedChunks + 1, context)
                XCTAssertEqual(result.objectIDs.last, result.address.root, "the root is stored last (\(context))")
                let putOrder = store.state.withLockedValue { $0.putOrder }
                XCTAssertEqual(Set(result.objectIDs), Set(putOrder), context)
                XCTAssertEqual(putOrder.last, result.address.root, context)
                XCTAssertEqual(store.kind(of: result.address.root), .manifest, context)
                XCTAssertEqual(result.storedBytes, UInt64(store.objects.values.reduce(0) { $0 + $1.count }), context)
                if !isPublic && size > 0 {
                    let firstChunk = result.objectIDs[0]
                    XCTAssertNotEqual(
                        Array(store.bytes(of: firstChunk)!.prefix(min(size, 64))), Array(bytes.prefix(64)),
                        "private chunks are not stored in the clear (\(context))")
                }

                let reader = FileReader(source: store)
                let read = try await readAll(reader, result.address)
                XCTAssertEqual(read, bytes, context)
                let stat = try await reader.stat(result.address)
                XCTAssertEqual(stat.size, UInt64(size), context)
                XCTAssertEqual(stat.chunkCount, expectedChunks, context)
                XCTAssertEqual(Set(stat.allObjectIDs), Set(result.objectIDs), context)
                XCTAssertEqual(stat.cipher, isPublic ? .none : .aes256GCM, context)
            }
        }
    }

    func testAddressTextRoundTripsAndAFreshKeyIsMadeForEachPrivateFile() async throws {
        let bytes = randomBytes(1_000, seed: 1)
        let store = MemoryObjectStore()
        let first = try await ingest(bytes, into: store, encryption: .private())
        let second = try await ingest(bytes, into: store, encryption: .private())
        XCTAssertNotEqual(first.address.key, second.address.key)
        XCTAssertNotEqual(first.address.root, second.address.root)
        let parsed = try FileAddress(parsing: first.address.description)
        let read = try await readAll(FileReader(source: store), parsed)
        XCTAssertEqual(read, bytes)

        let publicA = try await ingest(bytes, into: store, encryption: .public)
        let publicB = try await ingest(bytes, into: store, encryption: .public)
        XCTAssertEqual(publicA.address, publicB.address, "a public file's address depends on its content alone")
    }

    func testChaChaFilesAreReadWithoutBeingToldTheCipher() async throws {
        let bytes = randomBytes(3 * chunk + 5, seed: 2)
        let store = MemoryObjectStore()
        let result = try await ingest(
            bytes, into: store, encryption: .private(key: privateKey(2), cipher: .chaCha20Poly1305))
        let reader = FileReader(source: store)
        let read = try await readAll(reader, result.address)
        XCTAssertEqual(read, bytes)
        let stat = try await reader.stat(result.address)
        XCTAssertEqual(stat.cipher, .chaCha20Poly1305)
    }

    /// A source that fails to verify (the contract says it must) still cannot slip altered bytes
    /// past the reader of a private file: every chunk and manifest node is authenticated.
    func testAFlippedBitInAnySealedChunkOrInTheManifestIsDetected() async throws {
        let bytes = randomBytes(4 * chunk + 100, seed: 3)
        let store = MemoryObjectStore(verifying: false)
        let result = try await ingest(bytes, into: store, encryption: .private(key: privateKey(3)))
        let reader = FileReader(source: store)
        for (n, id) in result.objectIDs.enumerated() {
            let original = store.bytes(of: id)!
            var damaged = original
            let bit = (n * 7_919) % (damaged.count * 8)
            damaged[bit / 8] ^= UInt8(1 << (bit % 8))
            store.replace(id, with: damaged)
            await assertThrows(FileReaderError.self, { _ = try await readAll(reader, result.address) }) {
                // The root cannot tell a damaged node from a wrong key; every other object names itself.
                id == result.address.root ? $0.code == .wrongKey : ($0.code == .corrupt && $0.id == id)
            }
            store.replace(id, with: original)
        }
        let intact = try await readAll(reader, result.address)
        XCTAssertEqual(intact, bytes)
    }

    func testSwappedChunksAreDetected() async throws {
        let bytes = randomBytes(4 * chunk, seed: 5)
        let store = MemoryObjectStore(verifying: false)
        let key = privateKey(5)
        let result = try await ingest(bytes, into: store, encryption: .private(key: key))
        let reader = FileReader(source: store)
        let chunkIDs = try await reader.stat(result.address).chunkIDs

        // A manifest (validly sealed, as only a key holder could) listing chunks 1 and 2 swapped:
        // each chunk is bound to its position, so opening fails.
        let sealer = Sealer(key: key)
        let sealedRoot = ByteBuffer(bytes: store.bytes(of: result.address.root)!)
        var root = try Manifest(
            serialized: sealer.open(sealedRoot, index: Manifest.rootSealIndex, domain: .manifest).readableBytesView)
        root.entries.swapAt(1, 2)
        let forged = store.store(
            Array(
                try sealer.seal(
                    ByteBuffer(bytes: root.serialized()), index: Manifest.rootSealIndex,
                    domain: .manifest
                ).readableBytesView))
        await assertThrows(
            FileReaderError.self,
            {
                _ = try await readAll(reader, FileAddress(root: forged, key: key))
            }
        ) {
            $0.code == .corrupt && [chunkIDs[1], chunkIDs[2]].contains($0.id)
                && $0.description.contains("authentication")
        }

        // A (broken) source that serves two chunks in each other's place is caught too: each chunk
        // is bound to its position.
        store.state.withLockedValue { $0.substitutes = [chunkIDs[1]: chunkIDs[2], chunkIDs[2]: chunkIDs[1]] }
        await assertThrows(FileReaderError.self, { _ = try await readAll(reader, result.address) }) {
            $0.code == .corrupt && [chunkIDs[1], chunkIDs[2]].contains($0.id)
                && $0.description.contains("authentication")
        }
    }

    func testRangeReadsAcrossAndExactlyAtChunkBoundaries() async throws {
        let size = 10 * chunk + 7
        let bytes = randomBytes(size, seed: 6)
        let store = MemoryObjectStore()
        let result = try await ingest(bytes, into: store, encryption: .private(key: privateKey(6)))
        let reader = FileReader(source: store, maxInFlight: 3)
        let c = chunk
        let ranges: [(offset: Int, length: Int?)] = [
            (0, 1), (c - 1, 2), (c, c), (c, 1), (c - 1, 1), (2 * c, c + 1), (3 * c - 5, 2 * c + 10),
            (10 * c, 7), (10 * c + 6, 1), (5, nil), (size, nil), (size, 0), (size - 3, 100), (0, nil), (4 * c + 3, 0),
        ]
        for (offset, length) in ranges {
            let read = try await readAll(
                reader, result.address, offset: UInt64(offset), length: length.map(UInt64.init))
            let end = min(size, offset + (length ?? size))
            XCTAssertEqual(read, Array(bytes[offset..<end]), "range \(offset) +\(length.map(String.init) ?? "end")")
        }
        await assertThrows(
            FileReaderError.self,
            {
                _ = try await readAll(reader, result.address, offset: UInt64(size + 1))
            }
        ) { $0.code == .rangeNotSatisfiable }

        // Only the chunks a range needs are fetched.
        let chunkIDs = try await reader.stat(result.address).chunkIDs
        store.resetCounters()
        _ = try await readAll(reader, result.address, offset: UInt64(3 * c + 10), length: UInt64(c))
        let gets = store.state.withLockedValue { $0.gets }
        XCTAssertEqual(gets.count, 3)
        XCTAssertEqual(gets.first, result.address.root)
        XCTAssertEqual(Set(gets.dropFirst()), [chunkIDs[3], chunkIDs[4]])
        XCTAssertLessThanOrEqual(store.state.withLockedValue { $0.maxConcurrentGets }, 3)
    }

    func testThreeLevelTreeIngestsAndReadsAlongTheNeededBranchesOnly() async throws {
        let size = 40 * chunk + 123  // 41 chunks, 4 per node: 11 leaves, 3 interior nodes, a root at depth 2
        let bytes = randomBytes(size, seed: 7)
        for encryption in [FileEncryption.private(key: privateKey(7)), .public] {
            let store = MemoryObjectStore()
            let result = try await ingest(bytes, into: store, encryption: encryption, maxEntries: 4)
            XCTAssertEqual(result.depth, 2)
            XCTAssertEqual(result.chunkCount, 41)
            XCTAssertEqual(result.manifestNodeCount, 11 + 3 + 1)
            XCTAssertEqual(result.objectCount, 41 + 15)

            let reader = FileReader(source: store)
            let read = try await readAll(reader, result.address)
            XCTAssertEqual(read, bytes)
            let stat = try await reader.stat(result.address)
            XCTAssertEqual(stat.depth, 2)
            XCTAssertEqual(stat.manifestIDs.count, 15)
            XCTAssertEqual(stat.manifestIDs.first, result.address.root)
            XCTAssertEqual(Set(stat.allObjectIDs), Set(result.objectIDs))

            // Bytes 17·c−3 … 17·c+2 span chunk 16 (leaf 4, under interior node 1) and chunk 17.
            store.resetCounters()
            let range = try await readAll(reader, result.address, offset: UInt64(17 * chunk - 3), length: 5)
            XCTAssertEqual(range, Array(bytes[(17 * chunk - 3)..<(17 * chunk + 2)]))
            let gets = store.state.withLockedValue { $0.gets }
            let manifestsFetched = gets.filter { store.kind(of: $0) == .manifest }
            XCTAssertEqual(manifestsFetched.count, 3, "root, one interior node, one leaf")
            XCTAssertEqual(Set(gets.filter { store.kind(of: $0) == .chunk }), [stat.chunkIDs[16], stat.chunkIDs[17]])
            XCTAssertEqual(gets.count, 5)

            let tail = try await readAll(reader, result.address, offset: UInt64(40 * chunk), length: nil)
            XCTAssertEqual(tail, Array(bytes[(40 * chunk)...]))
        }
    }

    func testWrongOrMissingKeyIsReportedClearly() async throws {
        let bytes = randomBytes(2 * chunk, seed: 8)
        let store = MemoryObjectStore()
        let result = try await ingest(bytes, into: store, encryption: .private(key: privateKey(8)))
        let reader = FileReader(source: store)
        await assertThrows(
            FileReaderError.self,
            {
                _ = try await readAll(reader, FileAddress(root: result.address.root, key: self.privateKey(9)))
            }
        ) { $0.code == .wrongKey }
        await assertThrows(
            FileReaderError.self,
            {
                _ = try await readAll(reader, FileAddress(root: result.address.root, key: nil))
            }
        ) { $0.code == .keyRequired && $0.description.contains("key") }

        // A key given for a public file is not needed and does no harm.
        let open = try await ingest(bytes, into: store, encryption: .public)
        let read = try await readAll(reader, FileAddress(root: open.address.root, key: privateKey(10)))
        XCTAssertEqual(read, bytes)
    }

    func testIngestAndReadKeepTheirWindowsBounded() async throws {
        let bytes = randomBytes(20 * chunk + 1, seed: 11)
        let store = MemoryObjectStore()
        let result = try await ingest(
            bytes, into: store, encryption: .private(key: privateKey(11)), maxInFlight: 3,
            pieceSize: 3 * chunk)
        XCTAssertLessThanOrEqual(store.state.withLockedValue { $0.maxConcurrentPuts }, 3)
        store.resetCounters()
        let read = try await readAll(FileReader(source: store, maxInFlight: 2), result.address)
        XCTAssertEqual(read, bytes)
        XCTAssertLessThanOrEqual(store.state.withLockedValue { $0.maxConcurrentGets }, 2)
    }
}
