import Foundation
import NIOCore
import ShoalCore
import ShoalStore
import ShoalTransport
import XCTest

@testable import ShoalNode

/// Reads that lose a holder midway, meet a copy that rotted on disk, or meet a peer that serves
/// bytes not matching their hash: the reader must fall back to another replica and deliver the
/// right bytes.
final class HolderFailureTests: NodeTestCase, @unchecked Sendable {
    private static let chunk = 65536

    /// Four nodes, r = 3, 64 KiB chunks, all joined through node 0.
    private func fourNodes() async throws -> [ShoalNode] {
        let nodes = try await startNodes(
            4,
            configure: { _, config in
                config.chunkSize = Self.chunk
                config.replicas = 3
            })
        try await waitForRoutingTables(nodes, minimum: 3)
        return nodes
    }

    func testGetCompletesWhenAHolderStopsMidway() async throws {
        let nodes = try await fourNodes()
        let bytes = testBytes(count: 40 * Self.chunk, seed: 40)
        let stored = try await nodes[0].put(bytes, isPublic: false)
        XCTAssertEqual(stored.chunkCount, 40)

        var heldBy: [ContentID: [Int]] = [:]
        for id in stored.objectIDs {
            heldBy[id] = await holders(of: id, among: nodes)
            XCTAssertEqual(heldBy[id]?.count, 3, "object \(id.short) should be on exactly 3 of the 4 nodes")
        }
        func count(_ i: Int) -> Int { heldBy.values.filter { $0.contains(i) }.count }
        // The reader holds the fewest objects, and loses even those; the victim holds the most of the rest.
        let reader = nodes.indices.min { count($0) < count($1) }!
        let victim = nodes.indices.filter { $0 != reader }.max { count($0) < count($1) }!
        _ = try await nodes[reader].dropLocalCopies(of: stored.address)

        let chunkIDs = try await nodes[0].fileStat(stored.address).chunkIDs
        let file = try await nodes[reader].files.open(stored.address)
        var out: [UInt8] = []
        var buffers = 0
        try await nodes[reader].files.read(file) { buffer in
            out.append(contentsOf: buffer.readableBytesView)
            buffers += 1
            if buffers == 3 { await nodes[victim].stop(handOff: false) }
        }
        XCTAssertGreaterThanOrEqual(buffers, 3)
        XCTAssertEqual(out.count, bytes.count)
        XCTAssertTrue(out == bytes, "the bytes read after a holder stopped differ from those stored")
        // Not vacuous: the victim held chunks the reader still had to fetch after it stopped.
        XCTAssertTrue(chunkIDs.suffix(20).contains { heldBy[$0]?.contains(victim) == true })
    }

    func testCorruptCopyOnDiskIsQuarantinedAndAnotherReplicaServes() async throws {
        let nodes = try await fourNodes()
        let bytes = testBytes(count: 12 * Self.chunk + 1000, seed: 12)
        let stored = try await nodes[0].put(bytes, isPublic: true)

        // Rot every copy one holder has.
        let firstID = stored.objectIDs[stored.objectIDs.count / 2]
        let rotten = await holders(of: firstID, among: nodes)[0]
        var flipped: [ContentID] = []
        for id in stored.objectIDs where await nodes[rotten].hasOnDisk(id) {
            try flipByte(in: nodes[rotten].chunks.objectPath(id))
            flipped.append(id)
        }
        XCTAssertFalse(flipped.isEmpty)

        // Read through the rotten holder itself: each local read fails verification, the object is
        // quarantined, and the reader fetches it from another replica.
        let local = try await nodes[rotten].readAll(stored.address)
        XCTAssertTrue(local == bytes, "the content read through the node with rotten copies is wrong")
        let quarantine = nodes[rotten].configuration.dataDirectory.appendingPathComponent("quarantine")
        let quarantined = Set(try FileManager.default.contentsOfDirectory(atPath: quarantine.path))
        for id in flipped {
            XCTAssertTrue(quarantined.contains(id.hex), "rotten object \(id.short) was not quarantined")
            // Gone from chunks/, or replaced by a good copy (repair may push one back): never the rotten bytes.
            if try await nodes[rotten].chunks.contains(id) {
                let copy = try await nodes[rotten].chunks.get(id)
                XCTAssertEqual(Key256.sha256(of: copy), id, "rotten object \(id.short) is still in chunks/")
            }
        }
    }

    func testReaderSkipsAHolderWhoseCopyRottedOnDisk() async throws {
        let nodes = try await fourNodes()
        let bytes = testBytes(count: 12 * Self.chunk + 1000, seed: 13)
        let stored = try await nodes[0].put(bytes, isPublic: false)
        let reader = 3
        let others = [0, 1, 2]
        // Rot every copy held by one of the other nodes; the reader reads over the network.
        let rotten = others.first!
        for id in stored.objectIDs where await nodes[rotten].hasOnDisk(id) {
            try flipByte(in: nodes[rotten].chunks.objectPath(id))
        }
        _ = try await nodes[reader].dropLocalCopies(of: stored.address)
        let got = try await nodes[reader].readAll(stored.address)
        XCTAssertTrue(got == bytes, "the content read past a rotten replica is wrong")
    }

    func testReaderSkipsAPeerThatServesCorruptBytes() async throws {
        let nodes = try await startNodes(3, configure: { _, config in config.chunkSize = Self.chunk })
        try await waitForRoutingTables(nodes, minimum: 2)
        let reader = nodes[2]
        let bytes = testBytes(count: 40 * Self.chunk, seed: 41)
        let stored = try await nodes[0].put(bytes, isPublic: false)

        // A liar that claims every object of the file and serves each with a byte flipped.
        let liar = LyingPeer()
        for id in stored.objectIDs { liar.add(id, bytes: Array(try await nodes[0].chunks.get(id).readableBytesView)) }
        let transport = try Transport(
            identity: try NodeIdentity.ephemeral(), handler: liar, logger: Self.testLogger("shoal.liar"))
        Task { await transport.run() }
        addCleanup { await transport.shutdown() }
        try await transport.listen(on: PeerAddress(host: "127.0.0.1", port: 0))
        _ = try await transport.dial(reader.contact.address, expecting: reader.nodeID)
        try await waitUntil("the reader to admit the lying peer to its routing table") {
            await reader.dht.contains(transport.nodeID)
        }

        _ = try await reader.dropLocalCopies(of: stored.address)
        let got = try await reader.readAll(stored.address)
        XCTAssertTrue(got == bytes, "the content read with a lying peer about is wrong")
        print(
            "lying peer: answered \(liar.valueQueries) FindValue as held, served \(liar.corruptServed) corrupt objects")
    }

    private func flipByte(in path: String) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path), "cannot open \(path)")
        defer { try? handle.close() }
        try handle.seek(toOffset: 0)
        var first = try XCTUnwrap(try handle.read(upToCount: 1)).first ?? 0
        first ^= 0x80
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: [first])
    }
}
