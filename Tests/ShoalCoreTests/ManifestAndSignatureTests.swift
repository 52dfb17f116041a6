import ShoalCore
import ShoalTestKit
import XCTest

final class ManifestAndSignatureTests: XCTestCase {
    private func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func testManifestTreeIsBoundedAndCoversTheFile() throws {
        // A 100 GiB virtual file at 1 MiB chunks: 102,400 chunk IDs, never any data.
        let chunkSize: UInt64 = 1 << 20
        let total: UInt64 = 100 << 30
        let count = total / chunkSize
        var builder = ManifestTreeBuilder(chunkSize: UInt32(chunkSize), cipher: .aes256GCM, maxEntries: 16_384)
        var emitted: [Key256: Manifest] = [:]
        var serial = UInt64(0)
        let emit: (Manifest) -> ContentID = { node in
            serial += 1
            let id = Key256(words: (serial, 0, 0, 0))
            emitted[id] = node
            return id
        }
        for i in 0..<count {
            builder.add(Manifest.Entry(id: Key256(words: (0, 0, 0, i)), size: chunkSize), emit: emit)
        }
        let root = builder.finish(emit: emit)
        XCTAssertEqual(root.totalSize, total)
        XCTAssertEqual(root.depth, 1)
        XCTAssertEqual(root.entries.count, 7)  // ceil(102400 / 16384)
        XCTAssertTrue(emitted.values.allSatisfy { $0.entries.count <= 16_384 })
        XCTAssertNoThrow(try root.validate())
        // Range lookup: the byte at 50 GiB lives in chunk 51,200, in leaf 3.
        let offset: UInt64 = 50 << 30
        let hit = root.entries(overlapping: offset..<(offset + 1))
        XCTAssertEqual(hit.count, 1)
        let leaf = try XCTUnwrap(emitted[hit[0].entry.id])
        XCTAssertEqual(leaf.firstChunk, 3 * 16_384)
        let chunk = leaf.entries(overlapping: offset..<(offset + 1))
        XCTAssertEqual(chunk.map(\.entry.id), [Key256(words: (0, 0, 0, 51_200))])
        XCTAssertEqual(chunk.first?.offset, offset)
    }

    func testSmallFilesHaveASingleLeafRoot() {
        var builder = ManifestTreeBuilder(chunkSize: 65_536, cipher: .none, maxEntries: 4)
        var emits = 0
        for i in 0..<4 {
            builder.add(.init(id: Key256(words: (0, 0, 0, UInt64(i))), size: 65_536)) { _ in
                emits += 1
                return .zero
            }
        }
        let root = builder.finish { _ in
            emits += 1
            return .zero
        }
        XCTAssertEqual(emits, 0)
        XCTAssertEqual(root.depth, 0)
        XCTAssertEqual(root.entries.count, 4)
        var empty = ManifestTreeBuilder(chunkSize: 65_536, cipher: .none)
        let none = empty.finish { _ in .zero }
        XCTAssertEqual(none.totalSize, 0)
        XCTAssertTrue(none.entries.isEmpty)
    }

    func testManifestValidationCatchesInconsistency() {
        let id = Key256(words: (1, 2, 3, 4))
        let bad = Manifest(totalSize: 100, chunkSize: 65_536, cipher: .none, entries: [.init(id: id, size: 99)])
        XCTAssertThrowsError(try bad.validate())
        let shortMiddle = Manifest(
            totalSize: 65_537, chunkSize: 65_536, cipher: .none,
            entries: [.init(id: id, size: 1), .init(id: id, size: 65_536)])
        XCTAssertThrowsError(try shortMiddle.validate())
        let future = Manifest(formatVersion: 9, totalSize: 0, chunkSize: 65_536, cipher: .none, entries: [])
        XCTAssertThrowsError(try future.validate()) { XCTAssertEqual($0 as? ManifestError, .unsupportedVersion(9)) }
    }

    func testManifestSizesThatOverflowAreRejected() {
        let id = Key256(words: (1, 2, 3, 4))
        // Interior entries whose sizes wrap around UInt64 to the declared total.
        let wrapping = Manifest(
            totalSize: 10, chunkSize: 65_536, cipher: .none, depth: 1,
            entries: [.init(id: id, size: .max), .init(id: id, size: 11)])
        XCTAssertThrowsError(try wrapping.validate())
        let huge = Manifest(
            totalSize: .max, chunkSize: 65_536, cipher: .none, depth: 1, entries: [.init(id: id, size: .max)])
        XCTAssertThrowsError(try huge.validate())
        XCTAssertEqual(huge.chunkCount, UInt64.max / 65_536 + 1, "chunkCount itself never traps")
        let tooMany = Manifest(
            totalSize: 65_536 * UInt64(Manifest.maximumEntries + 1), chunkSize: 65_536, cipher: .none,
            entries: Array(repeating: .init(id: id, size: 65_536), count: Manifest.maximumEntries + 1))
        XCTAssertThrowsError(try tooMany.validate())
        let largest = Manifest(
            totalSize: Manifest.maximumFileSize, chunkSize: 65_536, cipher: .none, depth: 3,
            entries: [.init(id: id, size: Manifest.maximumFileSize)])
        XCTAssertNoThrow(try largest.validate())
    }

    func testOwnerSignatures() throws {
        let key = P256Key.make()
        let message = Array("statement".utf8)
        let signature = try OwnerSignature.sign(message: message, with: key)
        let publicKey = Array(key.publicKey.x963Representation)
        XCTAssertTrue(OwnerSignature.verify(signature: signature, message: message, publicKey: publicKey))
        XCTAssertFalse(OwnerSignature.verify(signature: signature, message: message + [0], publicKey: publicKey))
        XCTAssertFalse(
            OwnerSignature.verify(
                signature: signature, message: message,
                publicKey: Array(P256Key.make().publicKey.x963Representation)))
        XCTAssertFalse(OwnerSignature.verify(signature: [1, 2, 3], message: message, publicKey: publicKey))
    }
}
