import Foundation
import ShoalNode
import XCTest

/// Deletes that stay deleted, with real `shoal node` processes: a holder that was down when a file
/// was removed never serves it again and frees its space when it returns; a node that joins after
/// a delete is pushed nothing deleted; a node away longer than the tombstone grace quarantines its
/// old objects until their other holders settle them.
final class DeleteConvergenceTests: ClusterTestCase, @unchecked Sendable {
    // MARK: Helpers

    /// Runs the `shoal` client with `arguments` and waits (bounded) for it.
    private func shoal(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = cluster.binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.terminate()
            throw ClusterError("shoal \(arguments.joined(separator: " ")) did not finish within 120 s")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, output)
    }

    /// Whether `node`'s disk holds the file of object `id` (hex).
    private func onDisk(_ id: String, of node: ClusterNode) -> Bool {
        let path = node.dataDirectory.appendingPathComponent(
            "chunks/\(id.prefix(2))/\(id.dropFirst(2).prefix(2))/\(id)"
        ).path
        return FileManager.default.fileExists(atPath: path)
    }

    /// Fails the test if any of `nodes` returns the file's bytes: reads must answer 404 or 410.
    private func assertUnreadable(
        _ file: TrackedFile, through nodes: [ClusterNode], _ what: String,
        file path: StaticString = #filePath, line: UInt = #line
    ) async {
        for node in nodes {
            do {
                let bytes = try await node.api.get(file.address)
                XCTFail("\(what): \(node.name) served the deleted file (\(bytes.count) bytes)", file: path, line: line)
            } catch let error as NodeAPIError {
                XCTAssertTrue(
                    [404, 410].contains(error.status), "\(what): \(node.name): \(error)", file: path, line: line)
            } catch {
                // Not answering (a node still starting) serves nothing either.
            }
        }
    }

    /// The holders of each of `file`'s objects, as stat through a node far from them reports.
    private func holderMap(_ file: TrackedFile, among nodes: [ClusterNode]) async throws -> [String: [String]] {
        try await holders(of: file, via: observer(for: file.objects, among: nodes, allIDs: nodes.map(\.nodeID)))
    }

    /// The objects of `files` that `node` keeps as a replica, as stat reports them (a copy it only
    /// cached for a reader does not count: cached copies are dropped when a node starts).
    private func replicas(
        of files: [TrackedFile], on node: ClusterNode, among nodes: [ClusterNode]
    ) async throws -> [String] {
        var out: [String] = []
        for file in files {
            for (object, holders) in try await holderMap(file, among: nodes) where holders.contains(node.nodeID) {
                out.append(object)
            }
        }
        return out.filter { onDisk($0, of: node) }
    }

    // MARK: Tests

    func testAHolderDownWhenAFileIsRemovedNeverServesItAgainAndFreesItsSpace() async throws {
        let nodes = try await startCluster(size: 5)
        let allIDs = nodes.map(\.nodeID)
        let owner = nodes[1]
        let files = try await putTrackedFiles(4, through: owner, observers: nodes, seed: 0x5EED_0011)
        try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(60), what: "after the puts")
        let (doomed, kept) = (Array(files.prefix(2)), Array(files.dropFirst(2)))

        // The holder of most of the doomed files' objects (not a bootstrap peer) goes down.
        var held: [String: Int] = [:]
        for file in doomed {
            for (_, holders) in try await holderMap(file, among: nodes) {
                for h in holders { held[h, default: 0] += 1 }
            }
        }
        let away = try XCTUnwrap(
            nodes.dropFirst(2).max { (held[$0.nodeID] ?? 0, $1.name) < (held[$1.nodeID] ?? 0, $0.name) })
        let copies = try await replicas(of: doomed, on: away, among: nodes)
        XCTAssertFalse(copies.isEmpty, "\(away.name) holds objects of the files to remove")
        try await cluster.crash(away)
        let survivors = nodes.filter { $0.nodeID != away.nodeID }

        // `shoal rm` through the owner, while the holder is down.
        for file in doomed {
            let rm = try await shoal(["rm", file.address, "--api", owner.api.address])
            XCTAssertEqual(rm.status, 0, rm.output)
            XCTAssertTrue(rm.output.contains("removed"), rm.output)
        }
        await assertUnreadable(doomed[0], through: survivors, "right after rm")
        await assertUnreadable(doomed[1], through: survivors, "right after rm")

        // The holder comes back with its copies: it never serves them, and frees them.
        let back = try await cluster.launch(
            away.name, dataDirectory: away.dataDirectory, port: away.listenPort,
            bootstrap: [nodes[0].listenAddress])
        // (It may free them before its API first answers: the exchange that brings the Deletes
        // runs as soon as it has joined.)
        log(
            "\(back.name) is back with \(copies.filter { onDisk($0, of: back) }.count) of its \(copies.count) copies still on disk"
        )
        let everyone = survivors + [back]
        let freed = try await poll(
            "\(back.name) to free the deleted files' objects", every: .milliseconds(300), within: .seconds(90)
        ) { () -> Bool? in
            for file in doomed { await self.assertUnreadable(file, through: everyone, "while \(back.name) rejoins") }
            return copies.allSatisfy { !self.onDisk($0, of: back) } ? true : nil
        }
        XCTAssertTrue(freed)
        let status = try await back.api.status()
        XCTAssertEqual(status.repair.quarantined, 0)
        XCTAssertGreaterThanOrEqual(status.repair.tombstones, copies.count, "it keeps the tombstones it learned")
        for file in doomed { await assertUnreadable(file, through: everyone, "after \(back.name) rejoined") }
        try await waitForFullReplication(
            kept, live: everyone, allIDs: allIDs, within: .seconds(60), what: "the files not removed")
        try await assertAllReadable(kept, live: everyone, allIDs: allIDs, what: "the files not removed")
    }

    func testANodeThatJoinsAfterADeleteIsPushedNothingDeleted() async throws {
        let nodes = try await startCluster(size: 4)
        var allIDs = nodes.map(\.nodeID)
        let files = try await putTrackedFiles(12, through: nodes[1], observers: nodes, seed: 0x5EED_0012)
        try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(60), what: "after the puts")
        let (deleted, kept) = (Array(files.prefix(8)), Array(files.dropFirst(8)))
        for file in deleted {
            let report = try await nodes[1].api.delete(file.address)
            XCTAssertGreaterThan(report.removed, 0)
            XCTAssertTrue(report.unreachable.isEmpty)
        }

        let joiner = try await cluster.launch("joiner", bootstrap: [nodes[0].listenAddress])
        allIDs.append(joiner.nodeID)
        let everyone = nodes + [joiner]
        func responsible(_ file: TrackedFile) -> [String] {
            file.objects.filter {
                XORPlacement.closest(to: $0, among: allIDs, count: Self.replicas).contains(joiner.nodeID)
            }
        }
        let deletedHere = deleted.flatMap(responsible)
        let liveHere = kept.flatMap(responsible)
        XCTAssertFalse(deletedHere.isEmpty, "the joiner is among the closest of some deleted objects")
        try await waitForConvergence(everyone, within: .seconds(60))

        // It learns the Deletes of what it is now responsible for, and is given only live objects;
        // no deleted object reaches its disk meanwhile.
        _ = try await poll(
            "the joiner to learn the Deletes and receive its live objects", every: .milliseconds(300),
            within: .seconds(90)
        ) { () -> Bool? in
            for id in deleted.flatMap(\.objects) where self.onDisk(id, of: joiner) {
                XCTFail("deleted object \(id.prefix(8)) was pushed to the joiner")
                return true
            }
            let status = try? await joiner.api.status()
            guard let status, status.repair.tombstones >= deletedHere.count else { return nil }
            return liveHere.allSatisfy { self.onDisk($0, of: joiner) } ? true : nil
        }
        XCTAssertTrue(deleted.flatMap(\.objects).allSatisfy { !onDisk($0, of: joiner) })
        for file in deleted { await assertUnreadable(file, through: everyone, "after the join") }
        try await waitForFullReplication(
            kept, live: everyone, allIDs: allIDs, within: .seconds(60), what: "after the join")
    }

    func testAHolderAwayLongerThanTheTombstoneGraceQuarantinesItsOldObjects() async throws {
        // A 20-second grace: tombstones expire 20 to 21 s after their Delete; a node away more than
        // 18 s (the rejoin bound) quarantines what it held.
        let nodes = try await startCluster(size: 4, arguments: ["--tombstone-grace", "20s"])
        let allIDs = nodes.map(\.nodeID)
        let files = try await putTrackedFiles(6, through: nodes[1], observers: nodes, seed: 0x5EED_0013)
        try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(60), what: "after the puts")
        let (doomed, kept) = (Array(files.prefix(3)), Array(files.dropFirst(3)))
        let away = nodes[3]
        let doomedCopies = try await replicas(of: doomed, on: away, among: nodes)
        let keptCopies = try await replicas(of: kept, on: away, among: nodes)
        XCTAssertFalse(doomedCopies.isEmpty)
        XCTAssertFalse(keptCopies.isEmpty)
        try await cluster.crash(away)
        let survivors = Array(nodes.prefix(3))
        for file in doomed { _ = try await nodes[1].api.delete(file.address) }

        // Every survivor keeps the tombstones, then forgets them once the grace has passed.
        _ = try await poll("the survivors to record the tombstones", every: .milliseconds(200), within: .seconds(30)) {
            () -> Bool? in
            for node in survivors {
                guard let status = try? await node.api.status(), status.repair.tombstones > 0 else { return nil }
            }
            return true
        }
        _ = try await poll("the survivors' tombstones to expire", every: .milliseconds(500), within: .seconds(90)) {
            () -> Bool? in
            for node in survivors {
                guard let status = try? await node.api.status(), status.repair.tombstones == 0 else { return nil }
            }
            return true
        }

        // Back after longer than the grace: what it held is quarantined; the live objects are
        // settled by their other holders and served again; the deleted ones never are.
        let back = try await cluster.launch(
            away.name, dataDirectory: away.dataDirectory, port: away.listenPort,
            bootstrap: [nodes[0].listenAddress], arguments: ["--tombstone-grace", "20s"])
        let everyone = survivors + [back]
        let settled = try await poll("the live objects to be settled", every: .milliseconds(300), within: .seconds(90))
        { () -> RepairStatus? in
            for file in doomed {
                await self.assertUnreadable(file, through: everyone, "while \(back.name) is quarantined")
            }
            guard let status = try? await back.api.status(), status.repair.quarantined == doomedCopies.count,
                status.repair.settled >= keptCopies.count
            else { return nil }
            return status.repair
        }
        log("\(back.name) settled \(settled.settled) objects; \(settled.quarantined) stay quarantined")
        for file in doomed {
            await assertUnreadable(file, through: everyone, "after \(back.name) settled what it could")
        }
        XCTAssertTrue(doomedCopies.allSatisfy { onDisk($0, of: back) }, "quarantined bytes are kept, not served")
        for file in kept {
            let bytes = try await back.api.get(file.address)
            XCTAssertTrue(bytes == file.bytes, "a live file read through the returning node")
        }
        try await waitForFullReplication(
            kept, live: everyone, allIDs: allIDs, within: .seconds(60), what: "after the return")
    }

    func testRmOfSharedPublicContentSaysWhatStaysAndTheOwnerCanPutItAgain() async throws {
        let nodes = try await startCluster(size: 4)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "shoal-public-\(UUID().uuidString.prefix(8))")
        var generator = ContentGenerator(seed: 0x5EED_0014)
        let bytes = generator.bytes(20_000)
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        // The same public file put through two nodes: two owners (each node's key) claim its objects.
        let first = try await shoal(["put", file.path, "--public", "--api", nodes[1].api.address])
        XCTAssertEqual(first.status, 0, first.output)
        let address = first.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try await shoal(["put", file.path, "--public", "--api", nodes[2].api.address])
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(second.output.trimmingCharacters(in: .whitespacesAndNewlines), address)

        // One owner's rm removes its claims only, and says the objects stay for the other owner.
        let rm = try await shoal(["rm", address, "--api", nodes[1].api.address])
        XCTAssertEqual(rm.status, 0, rm.output)
        XCTAssertTrue(rm.output.contains("your claim on its"), rm.output)
        XCTAssertTrue(rm.output.contains("stay: other owners keep them"), rm.output)
        for node in nodes {
            let read = try await node.api.get(address)
            XCTAssertTrue(read == bytes, "still readable through \(node.name) after one owner's rm")
        }

        // The owner that deleted it puts it again: its tombstone does not refuse its new claim.
        let again = try await shoal(["put", file.path, "--public", "--api", nodes[1].api.address])
        XCTAssertEqual(again.status, 0, again.output)
        // Both owners delete: the objects go, and the file is no longer readable anywhere.
        for owner in [nodes[1], nodes[2]] {
            let done = try await shoal(["rm", address, "--api", owner.api.address])
            XCTAssertEqual(done.status, 0, done.output)
        }
        await assertUnreadable(
            TrackedFile(address: address, bytes: bytes, objects: []), through: nodes, "after both owners removed it")
    }
}
