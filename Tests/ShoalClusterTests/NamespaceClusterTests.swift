import Foundation
import ShoalCore
import ShoalNode
import XCTest

/// Real `shoal node` processes, each in its own network namespace with its own address, on a
/// test bed `Scripts/netns-cluster.sh` makes and removes: two bridges joined by a relay that
/// delays and drops frames. Skipped, saying why, where namespaces cannot be made.
final class NamespaceClusterTests: ClusterTestCase, @unchecked Sendable {
    private var bed: NamespaceTestBed?
    private static let peerPort = 7000

    override func setUp() async throws {
        if let reason = NamespaceTestBed.unavailableReason() {
            throw XCTSkip("network namespaces cannot be made here: \(reason)")
        }
        try await super.setUp()
    }

    override func tearDown() async throws {
        try await super.tearDown()
        bed?.remove()
        bed = nil
    }

    // MARK: Helpers

    /// Makes a test bed of `size` namespaces and starts a node in each: `n1` alone, `n(half+1)`
    /// (the first of side b) through it, then the rest concurrently through both, every node
    /// re-contacting those two every 2 s (so a partition heals); waits until all see all alive.
    private func startNamespaceCluster(size: Int, delayMs: Int, loss: Double) async throws -> [ClusterNode] {
        let bed = try NamespaceTestBed(nodes: size, delayMs: delayMs, loss: loss)
        self.bed = bed
        let arguments = ["--bootstrap-interval", "2"]
        let cluster = self.cluster!
        func launch(_ slot: NamespaceTestBed.Slot, bootstrap: [String]) async throws -> ClusterNode {
            try await cluster.launch(
                "n\(slot.index)", port: Self.peerPort, bootstrap: bootstrap, arguments: arguments,
                namespace: (slot.namespace, slot.host, slot.managementHost))
        }
        let started = ContinuousClock.now
        let firstB = try XCTUnwrap(bed.slots.first { $0.side == "b" })
        let first = try await launch(bed.slots[0], bootstrap: [])
        let second = try await launch(firstB, bootstrap: [first.listenAddress])
        let seeds = [first.listenAddress, second.listenAddress]
        let rest = try await withThrowingTaskGroup(of: ClusterNode.self) { group in
            for slot in bed.slots where slot.index != 1 && slot.index != firstB.index {
                group.addTask { try await launch(slot, bootstrap: seeds) }
            }
            var out: [ClusterNode] = []
            for try await node in group { out.append(node) }
            return out
        }
        let nodes = ([first, second] + rest).sorted { Int($0.name.dropFirst())! < Int($1.name.dropFirst())! }
        log(
            "\(size) nodes in their own namespaces answering after \(fmt(ContinuousClock.now - started)) s (relay: \(delayMs) ms, \(loss * 100) % loss)"
        )
        let converged = try await waitForConvergence(nodes, within: .seconds(90))
        log("every node sees the other \(size - 1) alive after \(fmt(converged)) s more")
        return nodes
    }

    private func side(of node: ClusterNode) -> String {
        bed?.slots.first { "n\($0.index)" == node.name }?.side ?? "?"
    }

    /// Whether every object file under `node`'s chunk directory hashes to its name, and how many
    /// there are.
    private func verifyChunkFiles(of node: ClusterNode) throws -> (objects: Int, corrupt: [String]) {
        let root = node.dataDirectory.appendingPathComponent("chunks")
        var count = 0
        var corrupt: [String] = []
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            let name = url.lastPathComponent
            guard name.count == 64, name.allSatisfy(\.isHexDigit) else { continue }
            count += 1
            let data = try Data(contentsOf: url)
            if Key256.sha256(of: data).description != name { corrupt.append(String(name.prefix(8))) }
        }
        return (count, corrupt)
    }

    // MARK: Tests

    func testEightNodesInTheirOwnNamespacesPutAndGetAcrossThem() async throws {
        let nodes = try await startNamespaceCluster(size: 8, delayMs: 5, loss: 0.005)
        let allIDs = nodes.map(\.nodeID)
        let writer = nodes[1]
        let files = try await putTrackedFiles(8, through: writer, observers: nodes, seed: 0x5EED_0101)
        try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(60), what: "after the puts")
        // Every file from every node, across the relay for half of them.
        let started = ContinuousClock.now
        for node in nodes {
            for file in files {
                let bytes = try await node.api.get(file.address)
                XCTAssertTrue(
                    bytes == file.bytes, "\(file.root.prefix(8)) read through \(node.name) (side \(side(of: node)))")
            }
        }
        log("\(nodes.count * files.count) reads across the namespaces in \(fmt(ContinuousClock.now - started)) s")
    }

    func testAPartitionHealsIntoOneMembershipWithEveryObjectBackAtItsReplicas() async throws {
        let nodes = try await startNamespaceCluster(size: 8, delayMs: 2, loss: 0)
        let allIDs = nodes.map(\.nodeID)
        let sideA = nodes.filter { side(of: $0) == "a" }
        let sideB = nodes.filter { side(of: $0) == "b" }
        var files = try await putTrackedFiles(10, through: nodes[0], observers: nodes, seed: 0x5EED_0102)
        try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(60), what: "before the partition")
        var holdersBefore: [String: [String: [String]]] = [:]
        for file in files {
            holdersBefore[file.address] = try await holders(
                of: file, via: observer(for: file.objects, among: nodes, allIDs: allIDs))
        }

        try bed?.partition()
        log("links between the sides taken down")
        let sideAIDs = Set(sideA.map(\.nodeID))
        let sideBIDs = Set(sideB.map(\.nodeID))
        // Each side declares the other gone.
        _ = try await poll("each side to see the other side down", every: .milliseconds(500), within: .seconds(60)) {
            () -> Bool? in
            let views = await self.membersOfAll(nodes)
            for node in nodes {
                let others = sideAIDs.contains(node.nodeID) ? sideBIDs : sideAIDs
                let alive = Set((views[node.nodeID] ?? []).filter { $0.status == "alive" }.map(\.nodeID))
                if !alive.isDisjoint(with: others) { return nil }
            }
            return true
        }
        // Both sides keep serving what they can: a file every object of which has a holder on a
        // side is read through that side; and each side takes new files.
        for (name, members) in [("a", sideA), ("b", sideB)] {
            let ids = Set(members.map(\.nodeID))
            let servable = files.filter { file in
                file.objects.allSatisfy { !Set(holdersBefore[file.address]?[$0] ?? []).isDisjoint(with: ids) }
            }
            for file in servable {
                let reader = members[file.bytes.count % members.count]
                let bytes = try await poll(
                    "side \(name) to serve \(file.root.prefix(8))", every: .milliseconds(500), within: .seconds(60)
                ) {
                    try? await reader.api.get(file.address)
                }
                XCTAssertTrue(bytes == file.bytes, "side \(name): \(file.root.prefix(8)) through \(reader.name)")
            }
            log("side \(name) serves the \(servable.count) of \(files.count) files it holds every object of")
            files += try await putTrackedFiles(
                2, through: members[0], observers: members, seed: 0x5EED_0200 + UInt64(files.count))
        }

        try bed?.heal()
        let healed = ContinuousClock.now
        let converged = try await waitForConvergence(nodes, within: .seconds(90))
        log("membership converged \(fmt(converged)) s after the heal")
        let repaired = try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(90), what: "after the heal")
        log(
            "all \(files.count) files at \(Self.replicas) replicas \(fmt(ContinuousClock.now - healed)) s after the heal (\(fmt(repaired.last ?? .zero)) s of polling)"
        )
        try await assertAllReadable(files, live: nodes, allIDs: allIDs, what: "after the heal")
    }

    func testANodeKilledDuringFiftyPutsLosesNothingAndRestartsConsistent() async throws {
        let nodes = try await startNamespaceCluster(size: 6, delayMs: 2, loss: 0.002)
        let allIDs = nodes.map(\.nodeID)
        let writer = nodes[0]
        let victim = nodes[2]
        var generator = ContentGenerator(seed: 0x5EED_0103)
        var files: [TrackedFile] = []
        var failures: [String] = []
        for i in 0..<50 {
            if i == 25 {
                // In the middle of the puts, mid-transfer for whichever object it was receiving.
                victim.process.send(SIGKILL)
                log("killed \(victim.name) with -9 after \(i) puts")
            }
            let bytes = generator.bytes(1024 + Int(generator.next() % (40 * 1024)))
            do {
                let result = try await writer.api.put(bytes)
                files.append(TrackedFile(address: result.address, bytes: bytes, objects: []))
            } catch {
                failures.append("put \(i): \(error)")
            }
        }
        XCTAssertEqual(failures, [], "every put succeeds while a holder is killed")
        guard await victim.process.waitForExit(within: .seconds(10)) else {
            throw ClusterError("\(victim.name) survived SIGKILL")
        }
        let survivors = nodes.filter { $0.nodeID != victim.nodeID }
        for i in files.indices {
            files[i].objects = try await observer(for: [files[i].root], among: survivors, allIDs: allIDs).api.stat(
                files[i].address
            ).objects.map(\.id)
        }
        try await assertAllReadable(files, live: survivors, allIDs: allIDs, what: "with the killed node down")

        // Restarted on its data directory: every object file it has is whole, it starts, and
        // the cluster ends with every object at r replicas, all files intact.
        let onDisk = try verifyChunkFiles(of: victim)
        XCTAssertEqual(onDisk.corrupt, [], "object files on the killed node's disk match their hashes")
        let slot = try XCTUnwrap(bed?.slots.first { "n\($0.index)" == victim.name })
        let restarted = try await cluster.launch(
            victim.name, dataDirectory: victim.dataDirectory, port: Self.peerPort,
            bootstrap: [nodes[0].listenAddress], arguments: ["--bootstrap-interval", "2"],
            namespace: (slot.namespace, slot.host, slot.managementHost))
        XCTAssertEqual(restarted.nodeID, victim.nodeID)
        let status = try await restarted.api.status()
        log(
            "\(victim.name) restarted with \(onDisk.objects) object files on disk, \(status.objectsStored) objects in its store"
        )
        XCTAssertLessThanOrEqual(status.objectsStored, onDisk.objects, "the store lists no object it has no file for")
        let everyone = survivors + [restarted]
        try await waitForConvergence(everyone, within: .seconds(60))
        try await waitForFullReplication(
            files, live: everyone, allIDs: allIDs, within: .seconds(90), what: "after the restart")
        try await assertAllReadable(files, live: everyone, allIDs: allIDs, what: "after the restart")
        XCTAssertEqual(try verifyChunkFiles(of: restarted).corrupt, [])
    }
}
