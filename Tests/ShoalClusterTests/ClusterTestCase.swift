import Foundation
import ShoalNode
import XCTest

/// A file the tests put and follow: its bytes, and the IDs of its objects (manifest first).
struct TrackedFile: Sendable {
    let address: String
    let bytes: [UInt8]
    var objects: [String]

    var root: String { String(address.prefix(64)) }
}

/// A test case that runs a cluster of real `shoal node` processes (see ``LocalCluster``) and
/// ends every process it started in `tearDown`. Logs and data directories are kept when a test
/// fails (their path is printed), removed otherwise.
class ClusterTestCase: XCTestCase, @unchecked Sendable {
    /// The SWIM protocol period the nodes run with.
    static let periodMs = 1000
    static let replicas = 3

    private(set) var cluster: LocalCluster!

    override func setUp() async throws {
        try await super.setUp()
        cluster = try LocalCluster(protocolPeriodMs: Self.periodMs, repairIntervalSeconds: 2)
    }

    override func tearDown() async throws {
        if let cluster {
            await cluster.shutdownAll()
            let failed = (testRun?.failureCount ?? 0) + (testRun?.unexpectedExceptionCount ?? 0) > 0
            if failed || ProcessInfo.processInfo.environment["SHOAL_CLUSTER_KEEP"] != nil {
                print("[cluster] node logs and data kept under \(cluster.root.path)")
            } else {
                cluster.removeFiles()
            }
        }
        cluster = nil
        try await super.tearDown()
    }

    func log(_ message: String) {
        print("[cluster] \(message)")
    }

    // MARK: Starting

    /// Starts `size` nodes: `n0` alone, `n1` through `n0`, the rest concurrently through both, and
    /// waits until every node sees every other one alive.
    /// - Parameter arguments: more `shoal node` options, for every node.
    func startCluster(size: Int, arguments: [String] = []) async throws -> [ClusterNode] {
        let started = ContinuousClock.now
        let first = try await cluster.launch("n0", arguments: arguments)
        var nodes = [first]
        if size > 1 {
            nodes.append(try await cluster.launch("n1", bootstrap: [first.listenAddress], arguments: arguments))
        }
        let seeds = nodes.map(\.listenAddress)
        let cluster = self.cluster!
        let rest = try await withThrowingTaskGroup(of: ClusterNode.self) { group in
            for i in nodes.count..<size {
                group.addTask { try await cluster.launch("n\(i)", bootstrap: seeds, arguments: arguments) }
            }
            var out: [ClusterNode] = []
            for try await node in group { out.append(node) }
            return out
        }
        nodes += rest.sorted { Int($0.name.dropFirst())! < Int($1.name.dropFirst())! }
        log("\(size) node processes answering their APIs after \(fmt(ContinuousClock.now - started)) s")
        let converged = try await waitForConvergence(nodes, within: .seconds(90))
        log("every node sees the other \(size - 1) alive after \(fmt(converged)) s more")
        return nodes
    }

    /// Waits until each of `nodes` lists every other one as alive (or, with `statuses`, in one of
    /// those states: SWIM's members are the alive and the suspect).
    /// - Returns: how long it took.
    @discardableResult
    func waitForConvergence(
        _ nodes: [ClusterNode], within limit: Duration, statuses: Set<String> = ["alive"]
    ) async throws -> Duration {
        let started = ContinuousClock.now
        let ids = Set(nodes.map(\.nodeID))
        var lagging: [String] = []
        do {
            _ = try await poll(
                "every node to see every other one \(statuses.sorted().joined(separator: " or "))",
                every: .milliseconds(250), within: limit
            ) { () -> Bool? in
                let views = await membersOfAll(nodes)
                lagging = nodes.compactMap { node in
                    let alive = Set((views[node.nodeID] ?? []).filter { statuses.contains($0.status) }.map(\.nodeID))
                    let missing = ids.subtracting(alive).subtracting([node.nodeID])
                    return missing.isEmpty ? nil : "\(node.name) misses \(missing.count)"
                }
                return lagging.isEmpty ? true : nil
            }
        } catch {
            throw ClusterError(
                "membership did not converge within \(limit) (\(statuses.sorted().joined(separator: " or "))): \(lagging.joined(separator: ", "))"
            )
        }
        return ContinuousClock.now - started
    }

    /// `/v1/members` of every node, concurrently; a node that does not answer is left out.
    func membersOfAll(_ nodes: [ClusterNode]) async -> [String: [MemberView]] {
        await withTaskGroup(of: (String, [MemberView]?).self) { group in
            for node in nodes {
                group.addTask { (node.nodeID, try? await node.api.members()) }
            }
            var out: [String: [MemberView]] = [:]
            for await (id, members) in group { if let members { out[id] = members } }
            return out
        }
    }

    // MARK: Files

    /// Puts `count` private files of 1 to 12 KiB through `node` and learns their objects.
    func putTrackedFiles(
        _ count: Int, through node: ClusterNode, observers: [ClusterNode], seed: UInt64
    ) async throws -> [TrackedFile] {
        var generator = ContentGenerator(seed: seed)
        var files: [TrackedFile] = []
        let started = ContinuousClock.now
        for _ in 0..<count {
            let size = 1024 + Int(generator.next() % (11 * 1024))
            let bytes = generator.bytes(size)
            let result = try await node.api.put(bytes)
            XCTAssertEqual(result.size, UInt64(size))
            files.append(TrackedFile(address: result.address, bytes: bytes, objects: []))
        }
        log("put \(count) files through \(node.name) in \(fmt(ContinuousClock.now - started)) s")
        let ids = observers.map(\.nodeID)
        for i in files.indices {
            // Stat reads only the manifest: pick a reader that is not close to it.
            let reader = observer(for: [files[i].root], among: observers, allIDs: ids)
            let report = try await reader.api.stat(files[i].address)
            files[i].objects = report.objects.map(\.id)
            XCTAssertEqual(report.objects.first?.id, files[i].root, "stat lists the manifest first")
        }
        return files
    }

    /// The node of `candidates` farthest (by its best XOR rank among `allIDs`) from every object
    /// in `objects`. A node that reads a file keeps cached copies of what it fetched, and
    /// `findValue` (hence stat and the repair planner) counts a cached copy on one of an object's
    /// `r` closest nodes as a replica; observing through far nodes keeps the counts honest.
    func observer(for objects: [String], among candidates: [ClusterNode], allIDs: [String]) -> ClusterNode {
        func worstRank(_ node: ClusterNode) -> Int {
            objects.map { object in
                XORPlacement.closest(to: object, among: allIDs, count: allIDs.count).firstIndex(of: node.nodeID)
                    ?? allIDs.count
            }.min() ?? allIDs.count
        }
        // Deterministic choice among the far ones: the farthest, ties by name.
        return candidates.max { (worstRank($0), $1.name) < (worstRank($1), $0.name) }!
    }

    /// The number of holders of each object, as stat through `reader` reports them.
    func holders(of file: TrackedFile, via reader: ClusterNode) async throws -> [String: [String]] {
        let report = try await reader.api.stat(file.address)
        return Dictionary(report.objects.map { ($0.id, $0.holders) }, uniquingKeysWith: { a, _ in a })
    }

    /// Polls stat until every object of every file has `r` holders, none of them in `excluded`.
    /// Each file is observed through a node far from its objects.
    /// - Returns: for each file, how long after the call it was first seen fully replicated, sorted.
    @discardableResult
    func waitForFullReplication(
        _ files: [TrackedFile], live: [ClusterNode], allIDs: [String], excluded: Set<String> = [],
        within limit: Duration, what: String
    ) async throws -> [Duration] {
        let started = ContinuousClock.now
        var done: [Duration] = []
        var pending = Array(files.indices)
        var lastProblem: [Int: String] = [:]
        let candidates = live.filter { !excluded.contains($0.nodeID) }
        let replicas = Self.replicas
        while !pending.isEmpty {
            let checks = await withTaskGroup(of: (Int, String?).self) { group in
                for i in pending {
                    let file = files[i]
                    let reader = observer(for: file.objects, among: candidates, allIDs: allIDs)
                    group.addTask {
                        do {
                            let report = try await reader.api.stat(file.address)
                            var problems: [String] = []
                            for object in report.objects {
                                let good = object.holders.filter { !excluded.contains($0) }
                                if good.count < replicas || good.count != object.holders.count {
                                    problems.append(
                                        "\(object.kind) \(object.id.prefix(8)) held by \(object.holders.map { String($0.prefix(8)) })"
                                    )
                                }
                            }
                            if report.objects.count != file.objects.count {
                                problems.append(
                                    "stat lists \(report.objects.count) objects, expected \(file.objects.count)")
                            }
                            return (i, problems.isEmpty ? nil : problems.joined(separator: "; "))
                        } catch {
                            return (i, "stat via \(reader.name) failed: \(error)")
                        }
                    }
                }
                var out: [(Int, String?)] = []
                for await check in group { out.append(check) }
                return out
            }
            for (i, problem) in checks {
                if let problem { lastProblem[i] = problem } else { lastProblem[i] = nil }
            }
            let now = ContinuousClock.now - started
            done += checks.filter { $0.1 == nil }.map { _ in now }
            pending = checks.filter { $0.1 != nil }.map(\.0).sorted()
            if pending.isEmpty { break }
            if ContinuousClock.now - started > limit {
                let detail = pending.prefix(5).map { "file \(files[$0].root.prefix(8)): \(lastProblem[$0] ?? "?")" }
                    .joined(separator: "\n  ")
                XCTFail(
                    "\(what): \(pending.count) of \(files.count) files still lack \(replicas) replicas after \(limit):\n  \(detail)"
                )
                throw ClusterError("\(what): replication incomplete")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        return done
    }

    /// Reads every file through a node far from its objects and compares the bytes.
    func assertAllReadable(_ files: [TrackedFile], live: [ClusterNode], allIDs: [String], what: String) async throws {
        for file in files {
            let reader = observer(for: file.objects, among: live, allIDs: allIDs)
            do {
                let bytes = try await reader.api.get(file.address)
                XCTAssertTrue(
                    bytes == file.bytes,
                    "\(what): file \(file.root.prefix(8)) read through \(reader.name) differs (\(bytes.count) bytes, expected \(file.bytes.count))"
                )
            } catch {
                XCTFail("\(what): file \(file.root.prefix(8)) unreadable through \(reader.name): \(error)")
            }
        }
    }

    /// Waits until every node of `observers` reports member `id` with a status in `statuses`.
    /// - Returns: how long it took, and each observer's view of the member at the end.
    func waitUntilAll(
        _ observers: [ClusterNode], see id: String, in statuses: Set<String>, within limit: Duration,
        minimumIncarnation: UInt64 = 0
    ) async throws -> Duration {
        let started = ContinuousClock.now
        var notYet: [String] = []
        while true {
            let views = await membersOfAll(observers)
            notYet = observers.compactMap { node in
                let entry = views[node.nodeID]?.first { $0.nodeID == id }
                if let entry, statuses.contains(entry.status), entry.incarnation >= minimumIncarnation { return nil }
                return "\(node.name): \(entry.map { "\($0.status)@\($0.incarnation)" } ?? "unknown")"
            }
            if notYet.isEmpty { return ContinuousClock.now - started }
            if ContinuousClock.now - started > limit {
                throw ClusterError(
                    "after \(limit), \(notYet.count) nodes do not see \(id.prefix(8)) as \(statuses.sorted()): \(notYet.joined(separator: ", "))"
                )
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    func fmt(_ d: Duration) -> String { String(format: "%.1f", d.seconds) }
}
