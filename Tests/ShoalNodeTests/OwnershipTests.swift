import Foundation
import ShoalCore
import ShoalStore
import ShoalWire
import XCTest

@testable import ShoalNode

/// Ownership-scoped deletion across real nodes: one owner's Delete never blocks another owner's
/// content, an owner deletes a public file and puts it again, and repair carries every owner.
final class OwnershipTests: NodeTestCase, @unchecked Sendable {
    private static let chunk = 65536

    private func fourNodes() async throws -> [ShoalNode] {
        let nodes = try await startNodes(4, configure: { _, config in config.chunkSize = Self.chunk })
        try await waitForRoutingTables(nodes, minimum: 3)
        return nodes
    }

    /// Every node's repair compares and repairs once (in node order), as its timer would.
    private func repairRound(_ nodes: [ShoalNode]) async {
        for node in nodes { await node.repair.round() }
    }

    private func assertReadable(
        _ address: FileAddress, _ bytes: [UInt8], through nodes: [ShoalNode], _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) async {
        for (n, node) in nodes.enumerated() {
            do {
                let got = try await node.readAll(address)
                XCTAssertTrue(got == bytes, "\(what): node \(n) read other bytes", file: file, line: line)
            } catch {
                XCTFail("\(what): node \(n) cannot read the file: \(error)", file: file, line: line)
            }
        }
    }

    func testAnAttackersDeleteCannotBlockAPublisherAndCannotDeleteItsCopies() async throws {
        let nodes = try await fourNodes()
        let (publisher, attacker) = (nodes[0], nodes[3])
        let bytes = testBytes(count: 3 * Self.chunk + 11, seed: 71)
        // The attacker stores the public content under its own key on the closest nodes, then deletes it.
        let poisoned = try await attacker.put(bytes, isPublic: true)
        let report = try await attacker.files.delete(poisoned.address)
        XCTAssertGreaterThan(report.removed, 0)
        for id in poisoned.objectIDs {
            let held = await holders(of: id, among: nodes)
            XCTAssertEqual(held, [], "the attacker's own copies are gone")
        }

        // The real publisher's put of the same content succeeds and everyone reads it.
        let published = try await publisher.put(bytes, isPublic: true)
        XCTAssertEqual(published.address, poisoned.address, "the same content has the same address")
        for id in published.objectIDs {
            let held = await holders(of: id, among: nodes)
            XCTAssertEqual(held.count, 3, "object \(id.short) is at r replicas")
        }
        await repairRound(nodes)
        await assertReadable(published.address, bytes, through: nodes, "after the publisher's put and a repair round")

        // The attacker holds no claim any more: its Delete of the publisher's copies is refused.
        do {
            _ = try await attacker.files.delete(published.address)
            XCTFail("the attacker deleted the publisher's file")
        } catch let error as WireError {
            XCTAssertEqual(error.code, .forbidden, "\(error)")
        }
        await repairRound(nodes)
        await assertReadable(published.address, bytes, through: nodes, "after the attacker's refused delete")
    }

    func testAnOwnerDeletesAPublicFileAndPutsItAgain() async throws {
        let nodes = try await fourNodes()
        let owner = nodes[1]
        let bytes = testBytes(count: 2 * Self.chunk + 5, seed: 72)
        let first = try await owner.put(bytes, isPublic: true)
        let report = try await owner.files.delete(first.address)
        XCTAssertEqual(report.retainedForOtherOwners, 0)
        XCTAssertTrue(report.unreachable.isEmpty)
        await repairRound(nodes)
        for (n, node) in nodes.enumerated() {
            do {
                _ = try await node.readAll(first.address)
                XCTFail("node \(n) still reads the deleted file")
            } catch {
                // gone
            }
        }

        // The same owner puts it again at once (within the second its Delete was dated in).
        let again = try await owner.put(bytes, isPublic: true)
        XCTAssertEqual(again.address, first.address)
        // Holders that saw the Delete and holders that did not agree after exchanging records:
        // the new claim is later than the tombstone, so the file stays.
        await repairRound(nodes)
        await repairRound(nodes)
        await assertReadable(again.address, bytes, through: nodes, "after the owner put it again and repair ran")
        for id in again.objectIDs {
            let held = await holders(of: id, among: nodes)
            XCTAssertGreaterThanOrEqual(held.count, 3, "object \(id.short)")
        }
    }

    func testRepairCarriesEveryOwnerSoTheSecondOwnerCanStillDelete() async throws {
        let nodes = try await fourNodes()
        let bytes = testBytes(count: 2 * Self.chunk + 3, seed: 73)
        // Two owners put the same public content.
        let a = try await nodes[0].put(bytes, isPublic: true)
        let b = try await nodes[1].put(bytes, isPublic: true)
        XCTAssertEqual(a.address, b.address)
        let ids = a.objectIDs
        // The owner whose key sorts second is the one the first repair model dropped.
        let (first, second) = nodes[0].identity.owner < nodes[1].identity.owner ? (0, 1) : (1, 0)
        // A holder of the objects that is neither owner stops; the one node left takes its place.
        let held = Set(await holders(of: ids[0], among: nodes))
        XCTAssertEqual(held.count, 3)
        let candidates = held.subtracting([0, 1])
        let victim = try XCTUnwrap(candidates.min() ?? held.subtracting([second]).min())
        let survivors = nodes.indices.filter { $0 != victim }.map { nodes[$0] }
        let newcomer = try XCTUnwrap(nodes.indices.first { !held.contains($0) })
        await nodes[victim].stop(handOff: false)

        // Repair re-replicates onto the newcomer, with both owners' claims.
        try await waitUntil("repair to copy the objects to the node that took the dead holder's place", seconds: 90) {
            await self.repairRound(survivors)
            for id in ids where !(await nodes[newcomer].hasOnDisk(id)) { return false }
            return true
        }
        for id in ids {
            let owners = Set(try await nodes[newcomer].metadata.claims(of: id).map(\.owner))
            XCTAssertEqual(
                owners, [nodes[0].identity.owner, nodes[1].identity.owner], "object \(id.short) carries both owners")
        }

        // The second owner's delete is honoured everywhere (no holder answers FORBIDDEN), and the
        // content stays for the first owner.
        let report = try await nodes[second].files.delete(a.address)
        XCTAssertEqual(report.retainedForOtherOwners, ids.count, "every object stays for the other owner")
        XCTAssertEqual(report.removed, 0)
        for id in ids {
            let owners = try await nodes[newcomer].metadata.claims(of: id).map(\.owner)
            XCTAssertEqual(owners, [nodes[first].identity.owner])
        }
        await assertReadable(a.address, bytes, through: survivors, "after the second owner's delete")
    }
}
