import Foundation
import ShoalNode
import XCTest

/// Twelve real `shoal node` processes on loopback: a node that joins receives the objects it is
/// now among the `r` closest to; a node that leaves gracefully (SIGTERM) loses nothing; restarted
/// on its data directory it keeps its identity and data, and everyone sees it alive again.
final class MembershipChangeTests: ClusterTestCase, @unchecked Sendable {
    func testJoinerReceivesItsObjectsLeaverLosesNothingAndRestartKeepsIdentity() async throws {
        let testStarted = ContinuousClock.now
        let nodes = try await startCluster(size: 12)
        var allIDs = nodes.map(\.nodeID)
        let files = try await putTrackedFiles(30, through: nodes[1], observers: nodes, seed: 0x5EED_0003)
        try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(30), what: "after the puts")

        // Join: the newcomer receives the objects it is now among the r closest to.
        let joinStarted = ContinuousClock.now
        let joiner = try await cluster.launch("joiner", bootstrap: [nodes[0].listenAddress])
        allIDs.append(joiner.nodeID)
        let live = nodes + [joiner]
        var expected: [(file: Int, object: String)] = []
        for (i, file) in files.enumerated() {
            for object in file.objects
            where XORPlacement.closest(to: object, among: allIDs, count: Self.replicas).contains(joiner.nodeID) {
                expected.append((i, object))
            }
        }
        XCTAssertFalse(
            expected.isEmpty, "the joiner should be among the \(Self.replicas) closest to some of the 60 objects")
        let converged = try await waitForConvergence(live, within: .seconds(60))
        log(
            "joiner \(joiner.shortID) seen alive by all \(live.count) nodes \(fmt(ContinuousClock.now - joinStarted)) s after launch (\(fmt(converged)) s after its API answered); it is among the \(Self.replicas) closest to \(expected.count) tracked objects"
        )
        let received = try await waitUntilHeld(
            expected, by: joiner, files: files, readers: nodes, allIDs: allIDs, within: .seconds(60))
        let joinerStatus = try await joiner.api.status()
        log(
            "joiner holds all \(expected.count) of its objects \(fmt(ContinuousClock.now - joinStarted)) s after launch (\(fmt(received)) s of polling); objectsStored \(joinerStatus.objectsStored)"
        )
        try await waitForFullReplication(
            files, live: live, allIDs: allIDs, within: .seconds(30), what: "after the join")

        // Graceful leave: SIGTERM a node holding objects; nothing is lost.
        var held: [String: Int] = [:]
        for file in files {
            let reader = observer(for: file.objects, among: live, allIDs: allIDs)
            for (_, holders) in try await holders(of: file, via: reader) {
                for h in holders { held[h, default: 0] += 1 }
            }
        }
        let leaver = live.filter { $0.name != "n0" && $0.name != "n1" && $0.name != "joiner" }
            .max { (held[$0.nodeID] ?? 0, $1.name) < (held[$1.nodeID] ?? 0, $0.name) }!
        let leaverStatus = try await leaver.api.status()
        XCTAssertGreaterThan(held[leaver.nodeID] ?? 0, 0, "the leaving node should hold tracked objects")
        let survivors = live.filter { $0.nodeID != leaver.nodeID }
        let leaveStarted = ContinuousClock.now
        let exitStatus = await cluster.stop(leaver, within: .seconds(90))
        let exited = ContinuousClock.now - leaveStarted
        XCTAssertEqual(
            exitStatus, 0, "a node stopped with SIGTERM should hand off and exit 0 (log: \(leaver.log.path))")
        log(
            "SIGTERM to \(leaver.name) (\(leaver.shortID), \(leaverStatus.objectsStored) objects, \(held[leaver.nodeID] ?? 0) tracked): exited with \(exitStatus.map(String.init) ?? "nothing, still running") after \(fmt(exited)) s"
        )
        guard exitStatus != nil else { throw ClusterError("\(leaver.name) did not exit within 90 s of SIGTERM") }
        let readStarted = ContinuousClock.now
        try await assertAllReadable(files, live: survivors, allIDs: allIDs, what: "right after the graceful leave")
        log(
            "all 30 files read back intact through far nodes in \(fmt(ContinuousClock.now - readStarted)) s after the leave"
        )
        let leftSeen = try await waitUntilAll(survivors, see: leaver.nodeID, in: ["left"], within: .seconds(30))
        log(
            "every survivor lists \(leaver.name) as left \(fmt(ContinuousClock.now - leaveStarted)) s after SIGTERM (\(fmt(leftSeen)) s after it exited and the reads)"
        )
        let repaired = try await waitForFullReplication(
            files, live: survivors, allIDs: allIDs, excluded: [leaver.nodeID],
            within: .seconds(60), what: "after the graceful leave")
        log(
            "every object at \(Self.replicas) replicas among the survivors \(fmt(ContinuousClock.now - leaveStarted)) s after SIGTERM (\(fmt(repaired.last ?? .zero)) s of polling)"
        )
        let leftIncarnation =
            await membersOfAll(survivors).values.compactMap { $0.first { $0.nodeID == leaver.nodeID }?.incarnation }
            .max() ?? 0

        // Restart on the same data directory: same NodeID, same objects, alive again everywhere.
        let restartStarted = ContinuousClock.now
        let restarted = try await cluster.launch(
            leaver.name, dataDirectory: leaver.dataDirectory, port: leaver.listenPort,
            bootstrap: [nodes[0].listenAddress])
        let restartedStatus = try await restarted.api.status()
        XCTAssertEqual(restarted.nodeID, leaver.nodeID, "a node restarted on its data directory keeps its NodeID")
        // Hand-off copies and drops nothing it is responsible for: back among their r closest, it
        // serves them again (extra copies it held beyond those may have been dropped meanwhile).
        var responsible: [(file: Int, object: String)] = []
        for (i, file) in files.enumerated() {
            for object in file.objects
            where XORPlacement.closest(to: object, among: allIDs, count: Self.replicas).contains(leaver.nodeID) {
                responsible.append((i, object))
            }
        }
        XCTAssertFalse(responsible.isEmpty, "the leaver is among the closest of some tracked objects")
        _ = try await waitUntilHeld(
            responsible, by: restarted, files: files, readers: survivors, allIDs: allIDs, within: .seconds(60))
        let rejoined = try await waitUntilAll(
            survivors, see: leaver.nodeID, in: ["alive"], within: .seconds(60),
            minimumIncarnation: leftIncarnation + 1)
        log(
            "restarted \(leaver.name): same NodeID, \(restartedStatus.objectsStored) objects (before: \(leaverStatus.objectsStored)); every node sees it alive \(fmt(ContinuousClock.now - restartStarted)) s after the restart (\(fmt(rejoined)) s after its API answered)"
        )
        log("test runtime \(fmt(ContinuousClock.now - testStarted)) s")
    }

    /// Polls stat (through nodes far from each file) until `node` is among the holders of every
    /// expected object.
    private func waitUntilHeld(
        _ expected: [(file: Int, object: String)], by node: ClusterNode, files: [TrackedFile],
        readers: [ClusterNode], allIDs: [String], within limit: Duration
    ) async throws -> Duration {
        let started = ContinuousClock.now
        var pending = Dictionary(grouping: expected, by: \.file).mapValues { Set($0.map(\.object)) }
        var lastSeen: [String: [String]] = [:]
        while !pending.isEmpty {
            for (i, objects) in pending {
                let reader = observer(for: files[i].objects, among: readers, allIDs: allIDs)
                guard let holders = try? await holders(of: files[i], via: reader) else { continue }
                let missing = objects.filter { !(holders[$0] ?? []).contains(node.nodeID) }
                for object in objects { lastSeen[object] = holders[object] ?? [] }
                pending[i] = missing.isEmpty ? nil : missing
            }
            if pending.isEmpty { break }
            if ContinuousClock.now - started > limit {
                let detail = pending.values.flatMap { $0 }.prefix(5).map {
                    "\($0.prefix(8)) held by \((lastSeen[$0] ?? []).map { $0.prefix(8) })"
                }
                XCTFail(
                    "\(node.name) still lacks \(pending.values.map(\.count).reduce(0, +)) of its \(expected.count) objects after \(limit): \(detail)"
                )
                throw ClusterError("the joiner did not receive its objects")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        return ContinuousClock.now - started
    }
}
