import Foundation
import ShoalNode
import XCTest

/// Twenty real `shoal node` processes on loopback, protocol period 1 s, repair every 2 s:
/// a stable cluster moving data declares nobody dead; a `kill -9`ed node is suspected everywhere
/// within a few periods and declared dead once the suspicion timeout has passed; its objects
/// are back at `r` replicas; restarted on its data directory it keeps identity and data and
/// rejoins.
final class CrashDetectionTests: ClusterTestCase, @unchecked Sendable {
    func testStableClusterThenCrashIsDetectedRepairedAndRejoins() async throws {
        let testStarted = ContinuousClock.now
        let period = Duration.milliseconds(Self.periodMs)
        let nodes = try await startCluster(size: 20)
        let allIDs = nodes.map(\.nodeID)
        let files = try await putTrackedFiles(30, through: nodes[1], observers: nodes, seed: 0x5EED_0001)
        let replicated = try await waitForFullReplication(
            files, live: nodes, allIDs: allIDs, within: .seconds(30),
            what: "after the puts")
        log(
            "30 files (\(files.reduce(0) { $0 + $1.objects.count }) objects) at \(Self.replicas) replicas \(fmt(replicated.last ?? .zero)) s after the puts"
        )

        // A stable cluster moving data for two minutes declares nobody dead.
        try await runStableLoad(on: nodes, for: .seconds(120))

        // The victim: the node (not a bootstrap peer) holding the most tracked objects.
        var heldBy: [String: [Int]] = [:]  // node ID -> indices of files with an object there
        for (i, file) in files.enumerated() {
            let reader = observer(for: file.objects, among: nodes, allIDs: allIDs)
            for (_, holders) in try await holders(of: file, via: reader) {
                for h in holders { heldBy[h, default: []].append(i) }
            }
        }
        let victim = nodes.dropFirst(2).max {
            (heldBy[$0.nodeID]?.count ?? 0, $1.name) < (heldBy[$1.nodeID]?.count ?? 0, $0.name)
        }!
        let affected = Set(heldBy[victim.nodeID] ?? []).sorted().map { files[$0] }
        let victimStatus = try await victim.api.status()
        // The tracked objects it keeps as a replica (stat counts replicas only).
        var victimReplicas: [String] = []
        for file in affected {
            let reader = observer(for: file.objects, among: nodes, allIDs: allIDs)
            for (object, holders) in try await holders(of: file, via: reader) where holders.contains(victim.nodeID) {
                victimReplicas.append(object)
            }
        }
        let survivors = nodes.filter { $0.nodeID != victim.nodeID }
        XCTAssertFalse(affected.isEmpty, "the victim \(victim.name) should hold some tracked objects")
        log(
            "killing \(victim.name) (\(victim.shortID), pid \(victim.process.pid)) with SIGKILL: it holds \(victimStatus.objectsStored) objects, objects of \(affected.count) tracked files"
        )

        // Crash: every other node suspects it, and marks it dead after the suspicion timeout.
        let killedAt = ContinuousClock.now
        try await cluster.crash(victim)
        let detection = try await observeDetection(of: victim, by: survivors, since: killedAt, limit: period * 30)
        let suspicionTimes = survivors.compactMap { detection.suspected[$0.nodeID] }.sorted()
        let deathTimes = survivors.compactMap { detection.dead[$0.nodeID] }.sorted()
        log("time from SIGKILL to first suspicion, per node (s): \(suspicionTimes.map(fmt).joined(separator: " "))")
        log("time from SIGKILL to dead, per node (s): \(deathTimes.map(fmt).joined(separator: " "))")
        if let first = suspicionTimes.first, let last = suspicionTimes.last {
            log(
                "suspicion: first node \(fmt(first)) s, median \(fmt(suspicionTimes[suspicionTimes.count / 2])) s, every node \(fmt(last)) s (\(String(format: "%.1f", last.seconds / period.seconds)) periods)"
            )
        }
        let minimumTimeout = 5 * log10(Double(nodes.count)) * period.seconds  // Lifeguard: α · log10(n) · period, α = 5
        if let first = deathTimes.first, let last = deathTimes.last {
            log(
                "dead (minimum suspicion timeout \(String(format: "%.1f", minimumTimeout)) s): first node \(fmt(first)) s, median \(fmt(deathTimes[deathTimes.count / 2])) s, every node \(fmt(last)) s (\(String(format: "%.1f", last.seconds / period.seconds)) periods)"
            )
        }
        XCTAssertEqual(suspicionTimes.count, survivors.count, "every survivor should suspect the crashed node")
        XCTAssertEqual(
            deathTimes.count, survivors.count, "every survivor should declare the crashed node dead within 30 periods")
        // How fast is a figure to print, not a condition: the machine may be busy.
        XCTAssertTrue(
            detection.statuses.isSubset(of: ["alive", "suspect", "dead"]),
            "a crashed node is suspected then dead, never \(detection.statuses.sorted())")

        // Repair: every object the victim held is back at r replicas among the survivors.
        let repairLimit = Duration.seconds(90) - (ContinuousClock.now - killedAt)
        let repairStarted = ContinuousClock.now - killedAt
        let repairs = try await waitForFullReplication(
            affected, live: survivors, allIDs: allIDs, excluded: [victim.nodeID],
            within: max(repairLimit, .seconds(5)), what: "repair after the crash")
        let repairedAt = ContinuousClock.now - killedAt
        let lastDeath = deathTimes.last ?? repairedAt
        log(
            "repair: affected files seen back at \(Self.replicas) replicas at (s after SIGKILL): \(repairs.map { fmt(repairStarted + $0) }.joined(separator: " "))"
        )
        log(
            "objects of the \(affected.count) affected files back at \(Self.replicas) replicas \(fmt(repairedAt)) s after SIGKILL (\(fmt(repairedAt - lastDeath)) s after the last node declared it dead)"
        )
        try await waitForFullReplication(
            files, live: survivors, allIDs: allIDs, excluded: [victim.nodeID], within: .seconds(30),
            what: "all files after the crash")
        try await assertAllReadable(files, live: survivors, allIDs: allIDs, what: "after the crash")

        // Restart on the same data directory and port: same identity, same data, alive again everywhere.
        let restartedAt = ContinuousClock.now
        let restarted = try await cluster.launch(
            victim.name, dataDirectory: victim.dataDirectory, port: victim.listenPort,
            bootstrap: [nodes[0].listenAddress])
        let restartedStatus = try await restarted.api.status()
        XCTAssertEqual(restarted.nodeID, victim.nodeID, "a node restarted on its data directory keeps its NodeID")
        // It keeps every replica; copies it had cached for readers are dropped at start (they
        // carry no record, and their files may have been deleted while it was down).
        let kept = victimReplicas.filter { id in
            FileManager.default.fileExists(
                atPath: victim.dataDirectory.appendingPathComponent(
                    "chunks/\(id.prefix(2))/\(id.dropFirst(2).prefix(2))/\(id)"
                ).path)
        }
        XCTAssertEqual(kept.count, victimReplicas.count, "a restarted node keeps the replicas it stored")
        XCTAssertEqual(restartedStatus.cachedBytes, 0, "cached copies are dropped at start")
        XCTAssertLessThanOrEqual(restartedStatus.objectsStored, victimStatus.objectsStored)
        let rejoined = try await waitUntilAll(
            survivors, see: victim.nodeID, in: ["alive"], within: .seconds(60),
            minimumIncarnation: detection.deadIncarnation + 1)
        log(
            "restarted \(victim.name): same NodeID, \(restartedStatus.objectsStored) objects (before the crash: \(victimStatus.objectsStored)); every node sees it alive \(fmt(ContinuousClock.now - restartedAt)) s after the restart (\(fmt(rejoined)) s after its API answered)"
        )
        log("test runtime \(fmt(ContinuousClock.now - testStarted)) s")
    }

    // MARK: Stable load

    /// Puts and gets files through different nodes for `length`, sampling every node's view of
    /// the membership every 2 s; then asserts that nobody was declared dead and prints the
    /// suspicions seen.
    private func runStableLoad(on nodes: [ClusterNode], for length: Duration) async throws {
        let started = ContinuousClock.now
        let deadline = started + length
        let descriptorsBefore = nodes.map { $0.process.openFileDescriptors ?? 0 }
        let sampler = Task { () -> (samples: Int, suspects: Set<String>, deadSeen: Set<String>) in
            var samples = 0
            var suspects: Set<String> = []  // "observer>member@incarnation"
            var deadSeen: Set<String> = []
            while ContinuousClock.now < deadline {
                let views = await self.membersOfAll(nodes)
                samples += 1
                for (observer, members) in views {
                    for m in members where m.status != "alive" {
                        let key = "\(observer.prefix(8))>\(m.nodeID.prefix(8))@\(m.incarnation)"
                        if m.status == "suspect" { suspects.insert(key) } else { deadSeen.insert(key + " " + m.status) }
                    }
                }
                try? await Task.sleep(for: .seconds(2))
            }
            return (samples, suspects, deadSeen)
        }
        var generator = ContentGenerator(seed: 0x5EED_0002)
        var stored: [(address: String, bytes: [UInt8])] = []
        var puts = 0
        var gets = 0
        var bytesMoved = 0
        var errors: [String] = []
        var round = 0
        while ContinuousClock.now < deadline, round < 100_000 {
            round += 1
            let writer = nodes[round % nodes.count]
            let bytes = generator.bytes(4096 + Int(generator.next() % (28 * 1024)))
            do {
                let result = try await writer.api.put(bytes)
                stored.append((result.address, bytes))
                if stored.count > 40 { stored.removeFirst() }
                puts += 1
                bytesMoved += bytes.count
            } catch {
                errors.append("put via \(writer.name): \(error)")
            }
            guard !stored.isEmpty else { continue }
            let reader = nodes[(round * 7 + 3) % nodes.count]
            let (address, expected) = stored[Int(generator.next() % UInt64(stored.count))]
            do {
                let got = try await reader.api.get(address)
                XCTAssertTrue(
                    got == expected,
                    "stable load: file \(address.prefix(8)) read via \(reader.name) differs (\(got.count) bytes, expected \(expected.count))"
                )
                gets += 1
                bytesMoved += got.count
            } catch {
                errors.append("get via \(reader.name): \(error)")
            }
        }
        let sampled = await sampler.value
        let elapsed = ContinuousClock.now - started
        let suspectedLines = cluster.countLogLines(containing: "member suspected").values.reduce(0, +)
        let deadLines = cluster.countLogLines(containing: "member declared dead").values.reduce(0, +)
        let views = await membersOfAll(nodes)
        let deadAtEnd = views.flatMap { observer, members in
            members.filter { $0.status != "alive" }.map {
                "\(observer.prefix(8)) sees \($0.nodeID.prefix(8)) \($0.status)"
            }
        }
        log(
            "stable load for \(fmt(elapsed)) s: \(puts) puts, \(gets) gets, \(bytesMoved / 1024) KiB moved through \(nodes.count) nodes, \(errors.count) failed operations"
        )
        var perNode: [Int] = []
        for node in nodes { if let status = try? await node.api.status() { perNode.append(status.objectsStored) } }
        perNode.sort()
        if let least = perNode.first, let most = perNode.last {
            log(
                "objects stored per node after the load: least \(least), median \(perNode[perNode.count / 2]), most \(most) (each is re-checked with FindValue on its closest nodes every repair round)"
            )
        }
        let descriptorsAfter = nodes.map { $0.process.openFileDescriptors ?? 0 }
        log(
            "open file descriptors before -> after the load: \(nodes[0].name) (bootstrap peer of all) \(descriptorsBefore[0]) -> \(descriptorsAfter[0]), \(nodes[1].name) \(descriptorsBefore[1]) -> \(descriptorsAfter[1]), others (median) \(descriptorsBefore.dropFirst(2).sorted()[(nodes.count - 2) / 2]) -> \(descriptorsAfter.dropFirst(2).sorted()[(nodes.count - 2) / 2])"
        )
        log(
            "stable load: \(suspectedLines) suspicions logged ('member suspected'), \(sampled.suspects.count) distinct suspicions seen in \(sampled.samples) samples of every node's /v1/members, \(deadLines) deaths logged"
        )
        XCTAssertEqual(views.count, nodes.count, "every node should answer /v1/members")
        XCTAssertEqual(
            deadLines, 0,
            "no node of a stable cluster should be declared dead (see 'member declared dead' in the logs under \(cluster.root.path)/logs)"
        )
        XCTAssertTrue(
            sampled.deadSeen.isEmpty,
            "members seen dead or left during the stable load: \(sampled.deadSeen.sorted().prefix(10))")
        XCTAssertTrue(deadAtEnd.isEmpty, "after the stable load: \(deadAtEnd.prefix(10))")
        XCTAssertTrue(errors.isEmpty, "failed operations during the stable load: \(errors.prefix(5))")
    }

    // MARK: Detection

    private struct Detection {
        /// Per observer: time from the kill until it first reported the victim not alive.
        var suspected: [String: Duration] = [:]
        /// Per observer: time from the kill until it reported the victim dead.
        var dead: [String: Duration] = [:]
        /// The highest incarnation at which the victim was declared dead.
        var deadIncarnation: UInt64 = 0
        /// Every status the victim had at some observer.
        var statuses: Set<String> = []
    }

    /// Polls every observer's `/v1/members` about every 100 ms until all report the victim dead
    /// or `limit` has passed.
    private func observeDetection(
        of victim: ClusterNode, by observers: [ClusterNode], since killedAt: ContinuousClock.Instant,
        limit: Duration
    ) async throws -> Detection {
        var detection = Detection()
        while detection.dead.count < observers.count, ContinuousClock.now - killedAt < limit {
            let roundStarted = ContinuousClock.now
            let views = await membersOfAll(observers)
            // Timed at the round's end: an upper bound on when each view changed.
            let at = ContinuousClock.now - killedAt
            for (observer, members) in views {
                guard let entry = members.first(where: { $0.nodeID == victim.nodeID }) else { continue }
                detection.statuses.insert(entry.status)
                if entry.status != "alive", detection.suspected[observer] == nil { detection.suspected[observer] = at }
                if entry.status == "dead", detection.dead[observer] == nil {
                    detection.dead[observer] = at
                    detection.deadIncarnation = max(detection.deadIncarnation, entry.incarnation)
                }
            }
            let spent = ContinuousClock.now - roundStarted
            if spent < .milliseconds(100) { try await Task.sleep(for: .milliseconds(100) - spent) }
        }
        return detection
    }
}
