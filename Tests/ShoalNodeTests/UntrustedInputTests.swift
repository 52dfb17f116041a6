import Foundation
import NIOCore
import NIOHTTP1
import ShoalCore
import ShoalWire
import XCTest

@testable import ShoalNode

/// Numbers from peers and from stored objects: each input below once trapped a node. Now each is
/// refused with a clear error, and the node keeps answering.
final class UntrustedInputTests: NodeTestCase, @unchecked Sendable {
    private func attacker() async throws -> AttackerPeer {
        let peer = try await AttackerPeer.start()
        addCleanup { await peer.stop() }
        return peer
    }

    /// The node answers a ping from a peer that did nothing wrong.
    private func assertAnswers(_ node: ShoalNode, file: StaticString = #filePath, line: UInt = #line) async throws {
        let honest = try await attacker()
        let pong = try await honest.send(.ping(payload: Data("still there?".utf8)), to: node.contact)
        XCTAssertEqual(pong, .pong(payload: Data("still there?".utf8)), file: file, line: line)
    }

    func testSuspicionOfTheTargetAtTheLargestIncarnationIsRefused() async throws {
        let nodes = try await startNodes(3)
        try await waitForRoutingTables(nodes, minimum: 2)
        let peer = try await attacker()
        for (target, about) in [(nodes[0], nodes[0]), (nodes[0], nodes[2])] {
            let lie = MemberUpdate(member: about.contact, status: .suspect, incarnation: .max)
            do {
                _ = try await peer.send(.gossip(GossipMessage(kind: .probe, updates: [lie])), to: target.contact)
                XCTFail("a probe carrying incarnation 2^64 − 1 was accepted")
            } catch let error as WireError {
                XCTAssertEqual(error.code, .badRequest, "\(error)")
                XCTAssertTrue(error.message.contains("incarnation"), error.message)
            } catch {
                // The node answers BAD_REQUEST and closes; the close may win the race.
            }
        }
        for node in nodes { try await assertAnswers(node) }
        let incarnation = await nodes[0].membership.incarnation
        XCTAssertLessThan(incarnation, MemberUpdate.maximumIncarnation)
    }

    func testDeleteIssuedAtTheSmallestTimeIsBadRequest() async throws {
        let node = try await startNode()
        let peer = try await attacker()
        let id = Key256.sha256(of: Array("whatever".utf8))
        for issuedAt in [Int64.min, Int64.max, Int64.min + 1] {
            let delete = try peer.signedDelete(root: id, objects: [id], issuedAt: issuedAt)
            do {
                _ = try await peer.send(.delete(delete), to: node.contact)
                XCTFail("a Delete issued at \(issuedAt) was accepted")
            } catch let error as WireError {
                XCTAssertEqual(error.code, .badRequest, "\(error)")
            }
        }
        try await assertAnswers(node)
    }

    func testManifestsWhoseSizesOverflowAreUnreadableNotFatal() async throws {
        let node = try await startNode()
        let api = try await startAPI(for: node)
        let peer = try await attacker()
        let some = Key256.sha256(of: Array("a chunk".utf8))
        let hostile = [
            // Entry sizes that wrap around UInt64 to the declared total.
            Manifest(
                totalSize: 10, chunkSize: 65_536, cipher: .none, depth: 1,
                entries: [.init(id: some, size: .max), .init(id: some, size: 11)]),
            // A size no integer conversion survives.
            Manifest(
                totalSize: .max, chunkSize: 65_536, cipher: .none, depth: 1, entries: [.init(id: some, size: .max)]),
        ]
        for manifest in hostile {
            let bytes = manifest.serialized()
            let id = Key256.sha256(of: bytes)
            let stored = try await peer.send(
                .storeChunk(
                    StoreChunk(
                        id: id, data: ByteBuffer(bytes: bytes), kind: .manifest, root: id,
                        ownerKey: Data(), force: true)), to: node.contact)
            XCTAssertEqual(stored, WireMessage.storeAck(StoreAck(stored: true)))
            for method in [HTTPMethod.GET, .HEAD] {
                let response = try await api.request(method, "/v1/files/\(id.hex)")
                XCTAssertEqual(response.status, 422, "\(method) of a hostile manifest")
            }
            let stat = try await api.request(.GET, "/v1/files/\(id.hex)/stat")
            XCTAssertEqual(stat.status, 422)
            XCTAssertEqual(stat.errorCode, "unreadable")
        }
        try await assertAnswers(node)
    }
}
