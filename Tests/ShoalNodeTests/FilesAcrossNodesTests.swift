import Crypto
import Foundation
import NIOCore
import ShoalCore
import ShoalStore
import XCTest

@testable import ShoalNode

/// Files put through one node and read through another: the original demo's shape (A, B, and C
/// bootstrapping from both), for empty, tiny, multi-chunk and large files, private and public.
final class FilesAcrossNodesTests: NodeTestCase, @unchecked Sendable {
    private static let smallChunk = 65536

    /// A (64 KiB chunks), B (default 1 MiB chunks), C bootstrapping from A and B.
    private func threeNodes() async throws -> [ShoalNode] {
        let nodes = try await startNodes(3, bootstrap: { $0 == 2 ? [0, 1] : [] }) { i, config in
            if i == 0 { config.chunkSize = Self.smallChunk }
        }
        try await waitForRoutingTables(nodes, minimum: 2)
        return nodes
    }

    func testFilesPutThroughAAreReadThroughC() async throws {
        let nodes = try await threeNodes()
        let (a, c) = (nodes[0], nodes[2])
        let chunk = Self.smallChunk
        // Empty, one byte, one byte short of a chunk, exactly one chunk, 3.5 chunks.
        let sizes = [0, 1, chunk - 1, chunk, chunk * 3 + chunk / 2]
        for isPublic in [false, true] {
            for (i, size) in sizes.enumerated() {
                let label = "\(isPublic ? "public" : "private") file of \(size) bytes"
                let bytes = testBytes(count: size, seed: UInt64(i + 1) + (isPublic ? 100 : 0))
                let stored = try await a.put(bytes, isPublic: isPublic)
                XCTAssertEqual(stored.size, UInt64(size), label)
                XCTAssertEqual(stored.address.isPublic, isPublic, label)
                if size > 0 { XCTAssertEqual(stored.chunkCount, UInt64((size + chunk - 1) / chunk), label) }
                XCTAssertFalse(stored.objectIDs.isEmpty, label)

                // r = 3 on three nodes: every object is on every node.
                for id in stored.objectIDs {
                    let on = await holders(of: id, among: nodes)
                    XCTAssertEqual(on, [0, 1, 2], "\(label): object \(id.short)")
                }

                // C loses its copies, so the read goes over the network to A and B.
                _ = try await c.dropLocalCopies(of: stored.address)
                for id in stored.objectIDs {
                    let onC = await c.hasOnDisk(id)
                    XCTAssertFalse(onC, "\(label): C still holds \(id.short)")
                }
                let parsed = try FileAddress(parsing: stored.address.description)
                let got = try await c.readAll(parsed)
                XCTAssertEqual(got.count, size, label)
                XCTAssertTrue(got == bytes, "\(label): the bytes read through C differ from those put through A")
            }
        }
    }

    func testPrivateChunksAreCiphertextAndPublicChunksArePlaintextAddressed() async throws {
        let nodes = try await threeNodes()
        let (a, c) = (nodes[0], nodes[2])
        let chunk = Self.smallChunk
        let bytes = testBytes(count: chunk * 3 + chunk / 2, seed: 99)
        let plainChunkIDs = Set(
            stride(from: 0, to: bytes.count, by: chunk).map {
                Key256.sha256(of: bytes[$0..<min($0 + chunk, bytes.count)])
            })

        let publicFile = try await a.put(bytes, isPublic: true)
        XCTAssertTrue(
            plainChunkIDs.isSubset(of: Set(publicFile.objectIDs)),
            "a public file's chunks are addressed by their plaintext hash")

        let privateFile = try await a.put(bytes, isPublic: false)
        XCTAssertTrue(
            plainChunkIDs.isDisjoint(with: Set(privateFile.objectIDs)), "a private file's chunks must not be plaintext")
        for id in privateFile.objectIDs {
            let stored = try await c.chunks.get(id)
            XCTAssertNotEqual(
                Array(stored.readableBytesView.prefix(64)), Array(bytes.prefix(64)),
                "object \(id.short) starts with the plaintext")
        }

        // The address alone (without key) does not read a private file on another node…
        let keyless = FileAddress(root: privateFile.address.root, key: nil)
        do {
            _ = try await c.readAll(keyless)
            XCTFail("C read a private file without its key")
        } catch {
            // expected: the manifest is sealed
        }
        // …but the node that uploaded it finds the key in its keyring.
        let viaKeyring = try await a.readAll(keyless)
        XCTAssertTrue(viaKeyring == bytes)
    }

    func testTwoHundredMiBStreamThroughTheCluster() async throws {
        let nodes = try await threeNodes()
        let (b, c) = (nodes[1], nodes[2])
        let size: UInt64 = 200 << 20
        // Through B, whose chunks are 1 MiB (A's 64 KiB would make 3,200 chunks), read through C.
        for (writer, isPublic, seed) in [(b, false, UInt64(2024)), (b, true, UInt64(2025))] {
            let label = isPublic ? "public" : "private"
            let chunkSize = UInt64(writer.configuration.chunkSize)
            let stored = try await writer.files.put(
                GeneratedBytes(size: size, seed: seed), isPublic: isPublic, name: "large")
            XCTAssertEqual(stored.size, size, label)
            XCTAssertEqual(stored.chunkCount, size / chunkSize, label)

            _ = try await c.dropLocalCopies(of: stored.address)
            var hasher = SHA256()
            var received: UInt64 = 0
            var largestBuffer = 0
            let file = try await c.files.open(stored.address)
            XCTAssertEqual(file.size, size, label)
            try await c.files.read(file) { buffer in
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                received += UInt64(buffer.readableBytes)
                largestBuffer = max(largestBuffer, buffer.readableBytes)
            }
            XCTAssertEqual(received, size, label)
            XCTAssertEqual(hex(hasher.finalize()), hex(GeneratedBytes.digest(size: size, seed: seed)), label)
            XCTAssertLessThanOrEqual(
                UInt64(largestBuffer), chunkSize, "\(label): the reader hands out chunk-sized buffers, not the file")
        }
    }
}
