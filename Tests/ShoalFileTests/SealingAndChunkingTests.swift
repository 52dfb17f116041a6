import NIOCore
import ShoalCore
import ShoalFile
import ShoalTestKit
import XCTest

final class SealingAndChunkingTests: XCTestCase {
    private func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func testSealOpenRoundTripBothCiphers() throws {
        var rng = SeededRandom(seed: 5)
        for cipher in [Cipher.aes256GCM, .chaCha20Poly1305] {
            let sealer = Sealer(key: FileKey.generate(using: &rng), cipher: cipher)
            let plain = bytes(1000, seed: 6)
            let sealed = try sealer.seal(ByteBuffer(bytes: plain), index: 7, domain: .chunk)
            XCTAssertEqual(sealed.readableBytes, plain.count + Sealer.overhead)
            XCTAssertNotEqual(Array(sealed.readableBytesView.prefix(plain.count)), plain)
            XCTAssertEqual(Array(try sealer.open(sealed, index: 7, domain: .chunk).readableBytesView), plain)
        }
    }

    func testEveryFlippedBitIsDetected() throws {
        var rng = SeededRandom(seed: 8)
        let sealer = Sealer(key: FileKey.generate(using: &rng))
        let sealed = Array(
            try sealer.seal(ByteBuffer(bytes: bytes(64, seed: 9)), index: 0, domain: .chunk).readableBytesView)
        for bit in 0..<(sealed.count * 8) {
            var damaged = sealed
            damaged[bit / 8] ^= UInt8(1 << (bit % 8))
            XCTAssertThrowsError(
                try sealer.open(ByteBuffer(bytes: damaged), index: 0, domain: .chunk),
                "bit \(bit) flipped went unnoticed")
        }
    }

    func testMovedOrForeignChunksAreDetected() throws {
        var rng = SeededRandom(seed: 10)
        let key = FileKey.generate(using: &rng)
        let sealer = Sealer(key: key)
        let other = Sealer(key: FileKey.generate(using: &rng))
        let sealed = try sealer.seal(ByteBuffer(bytes: bytes(100, seed: 11)), index: 3, domain: .chunk)
        // Swapped into another position.
        XCTAssertThrowsError(try sealer.open(sealed, index: 4, domain: .chunk)) {
            XCTAssertEqual($0 as? SealError, .authenticationFailed(domain: .chunk, index: 4))
        }
        // A chunk presented as a manifest node.
        XCTAssertThrowsError(try sealer.open(sealed, index: 3, domain: .manifest))
        // Into another file.
        XCTAssertThrowsError(try other.open(sealed, index: 3, domain: .chunk))
        // Deterministic for the same key, index and content (so IDs are stable).
        XCTAssertEqual(
            try Sealer(key: key).seal(ByteBuffer(bytes: bytes(100, seed: 11)), index: 3, domain: .chunk), sealed)
    }

    func testPublicSealerIsPlaintext() throws {
        let plain = ByteBuffer(bytes: bytes(10, seed: 12))
        XCTAssertEqual(try Sealer.plaintext.seal(plain, index: 0, domain: .chunk), plain)
        XCTAssertEqual(Sealer.plaintext.sealedSize(ofPlaintext: 10), 10)
    }

    func testChunkerBoundaries() throws {
        let size = Chunker.minimumChunkSize
        for total in [0, 1, size - 1, size, size + 1, 10 * size + 7] {
            var chunker = try Chunker(chunkSize: size)
            var chunks: [ByteBuffer] = []
            let data = bytes(total, seed: UInt64(total))
            // Feed in odd-sized pieces, some larger than a chunk (sliced, not copied).
            var offset = 0
            var piece = 1
            while offset < data.count {
                let end = min(data.count, offset + piece)
                chunks += chunker.append(ByteBuffer(bytes: data[offset..<end]))
                offset = end
                piece = piece * 3 + 1
            }
            if let last = chunker.finish() { chunks.append(last) }
            XCTAssertEqual(chunks.flatMap { Array($0.readableBytesView) }, data, "total \(total)")
            XCTAssertEqual(chunks.count, (total + size - 1) / size, "total \(total)")
            XCTAssertTrue(chunks.dropLast().allSatisfy { $0.readableBytes == size })
            XCTAssertEqual(chunker.bytesConsumed, UInt64(total))
        }
    }

    func testChunkSizeLimits() {
        XCTAssertThrowsError(try Chunker(chunkSize: 1000)) {
            XCTAssertTrue("\($0)".contains("64 KiB"))
        }
        XCTAssertThrowsError(try Chunker(chunkSize: 9 << 20))
        XCTAssertNoThrow(try Chunker(chunkSize: 8 << 20))
    }
}
