import Foundation
import ShoalCore
import ShoalStore
import ShoalWire
import XCTest

@testable import ShoalNode

/// Deletion: only the owner's signed Delete removes a file; it reaches every holder, leaves
/// tombstones, and the file is gone for every reader afterwards.
final class DeleteTests: NodeTestCase, @unchecked Sendable {
    private static let chunk = 65536

    func testOnlyTheOwnerDeletesAndTheDeleteReachesEveryHolder() async throws {
        let nodes = try await startNodes(3, bootstrap: { $0 == 2 ? [0, 1] : [] }) { _, config in
            config.chunkSize = Self.chunk
        }
        try await waitForRoutingTables(nodes, minimum: 2)
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        let bytes = testBytes(count: 5 * Self.chunk + 7, seed: 5)
        let stored = try await a.put(bytes, isPublic: false)
        let ids = stored.objectIDs
        XCTAssertEqual(ids.count, 7, "six chunks and one manifest")

        // Another node's Delete of the same address is refused by the holders, and removes nothing.
        do {
            _ = try await b.files.delete(stored.address)
            XCTFail("a non-owner's delete succeeded")
        } catch let error as WireError {
            XCTAssertEqual(error.code, .forbidden, "\(error)")
        }
        for id in ids {
            let on = await holders(of: id, among: nodes)
            XCTAssertEqual(on, [0, 1, 2], "object \(id.short) after the refused delete")
        }
        _ = try await c.dropLocalCopies(of: stored.address)
        let stillThere = try await c.readAll(stored.address)
        XCTAssertTrue(stillThere == bytes)

        let manifestID = stored.address.root
        let manifestBytes = try await a.chunks.get(manifestID)

        // The owner's delete removes every copy and leaves tombstones.
        let report = try await a.files.delete(stored.address)
        XCTAssertEqual(report.address, stored.address.root.hex)
        XCTAssertEqual(report.objects, ids.count)
        XCTAssertTrue(report.unreachable.isEmpty, "unreachable: \(report.unreachable)")
        XCTAssertEqual(report.holders, Set(nodes.map(\.nodeID.hex)))
        for (n, node) in nodes.enumerated() {
            for id in ids {
                let held = try await node.chunks.contains(id)
                let tombstoned = try await !node.metadata.tombstones(of: id).isEmpty
                XCTAssertFalse(held, "node \(n) still holds \(id.short) after the owner's delete")
                // C had lost its replicas and held only cached copies, which carry no claim to tombstone.
                if n < 2 { XCTAssertTrue(tombstoned, "node \(n) has no tombstone for \(id.short)") }
            }
        }

        // Nobody can read it any more.
        for (n, node) in nodes.enumerated() {
            do {
                _ = try await node.readAll(stored.address)
                XCTFail("node \(n) still reads the deleted file")
            } catch is FetchError {
                // not found on any node
            }
        }

        // A holder refuses to store a deleted object again, so repair or a replay cannot revive it.
        do {
            let response = try await a.transport.request(
                .storeChunk(
                    StoreChunk(
                        id: manifestID, data: manifestBytes, kind: .manifest, root: .zero,
                        ownerKey: a.identity.ownerPublicKey, force: true)),
                to: b.contact, timeout: .seconds(10))
            XCTFail("a StoreChunk of a deleted object was answered with \(response.name)")
        } catch let refusal as WireError {
            XCTAssertEqual(refusal.code, .gone, "\(refusal)")
        }
        let revived = try await b.chunks.contains(manifestID)
        XCTAssertFalse(revived)
    }

    func testDeleteAlsoRemovesCopiesCachedByReaders() async throws {
        let nodes = try await startNodes(4, configure: { _, config in config.chunkSize = Self.chunk })
        try await waitForRoutingTables(nodes, minimum: 3)
        let bytes = testBytes(count: 8 * Self.chunk, seed: 8)
        let stored = try await nodes[0].put(bytes, isPublic: true)
        // Every node reads the file, so each caches the objects it was not a replica for.
        for node in nodes {
            let got = try await node.readAll(stored.address)
            XCTAssertTrue(got == bytes)
        }
        // Copies are cached off the reader's path: wait (bounded) until they have landed.
        try await waitUntil("every node to cache what it read") {
            for id in stored.objectIDs where await holders(of: id, among: nodes) != [0, 1, 2, 3] { return false }
            return true
        }

        _ = try await nodes[0].files.delete(stored.address)
        for (n, node) in nodes.enumerated() {
            for id in stored.objectIDs {
                let held = await node.hasOnDisk(id)
                XCTAssertFalse(held, "node \(n) kept a cached copy of \(id.short) after the owner deleted the file")
            }
            do {
                _ = try await node.readAll(stored.address)
                XCTFail("node \(n) still reads the deleted file")
            } catch {
                // gone
            }
        }
    }

    func testDeletingAnAbsentAddressSaysItWasNotFound() async throws {
        let nodes = try await startNodes(2)
        try await waitForRoutingTables(nodes, minimum: 1)
        let absent = FileAddress(root: Key256.sha256(of: Array("never stored".utf8)), key: nil)
        do {
            _ = try await nodes[0].files.delete(absent)
            XCTFail("deleting an address nobody holds succeeded")
        } catch let error as FetchError {
            XCTAssertEqual(error.id, absent.root)
            XCTAssertTrue("\(error)".contains(absent.root.short), "\(error)")
        }
    }
}
