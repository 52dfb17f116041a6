import Foundation
import ShoalNode
import XCTest

/// Forty real `shoal node` processes started ten per second, each through one random earlier
/// node, while two spinning processes keep both cores busy for the first 30 s: nobody is declared
/// dead, and every node sees all forty members within 60 s of the last start.
final class JoinUnderLoadTests: ClusterTestCase, @unchecked Sendable {
    func testFortyNodesStartedTenPerSecondUnderACPUHog() async throws {
        let size = 40
        let hog = try CPUHog(spinners: 2)
        defer { hog.stop() }
        let hogUntil = ContinuousClock.now + .seconds(30)
        let started = ContinuousClock.now
        var nodes = [try await cluster.launch("n0")]
        let cluster = self.cluster!
        let running = LaunchedAddresses(nodes[0].listenAddress)
        // Ten launches per second, whatever each takes to answer its API, each through one random
        // node among those already answering.
        let rest = try await withThrowingTaskGroup(of: ClusterNode.self) { group in
            for i in 1..<size {
                let seed = running.random()
                group.addTask {
                    let node = try await cluster.launch("n\(i)", bootstrap: [seed])
                    running.add(node.listenAddress)
                    return node
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            var out: [ClusterNode] = []
            for try await node in group { out.append(node) }
            return out
        }
        nodes += rest.sorted { Int($0.name.dropFirst())! < Int($1.name.dropFirst())! }
        let lastStart = ContinuousClock.now
        log(
            "\(size) node processes answering their APIs after \(fmt(lastStart - started)) s (CPU hog of 2 spinners until 30 s)"
        )
        // Seeing a member: listing it alive or suspect (a suspicion under the hog is refuted, not
        // fatal); the deaths are what must not happen.
        let converged = try await waitForConvergence(nodes, within: .seconds(60), statuses: ["alive", "suspect"])
        log("every node sees all \(size) members \(fmt(converged)) s after the last start")
        let remaining = hogUntil - ContinuousClock.now
        if remaining > .zero { try await Task.sleep(for: remaining) }
        hog.stop()
        // Let any suspicion raised under the hog run its course (the longest timeout here is
        // 6 · 5 · log10(40) ≈ 48 s; a refutation ends it much sooner).
        try await Task.sleep(for: .seconds(10))
        let deaths = cluster.countLogLines(containing: "member declared dead").values.reduce(0, +)
        let suspicions = cluster.countLogLines(containing: "member suspected").values.reduce(0, +)
        let refutations = cluster.countLogLines(containing: "refuted a suspicion").values.reduce(0, +)
        var connections: [Int] = []
        for node in nodes { if let status = try? await node.api.status() { connections.append(status.peers) } }
        connections.sort()
        log(
            "join under load: \(suspicions) suspicions, \(refutations) refutations, \(deaths) deaths logged;"
                + " connections per node: median \(connections.isEmpty ? 0 : connections[connections.count / 2]), most \(connections.last ?? 0)"
        )
        XCTAssertEqual(deaths, 0, "no live node may be declared dead (see the logs under \(cluster.root.path)/logs)")
        try await waitForConvergence(nodes, within: .seconds(30), statuses: ["alive", "suspect"])
    }
}

/// Listen addresses of the nodes started so far.
final class LaunchedAddresses: @unchecked Sendable {
    private let lock = NSLock()
    private var addresses: [String]

    init(_ first: String) { addresses = [first] }

    func add(_ address: String) { lock.withLock { addresses.append(address) } }

    func random() -> String { lock.withLock { addresses.randomElement()! } }
}

/// Processes that spin on the CPU until stopped, started and stopped by PID.
final class CPUHog: @unchecked Sendable {
    private var processes: [Process] = []

    init(spinners: Int) throws {
        for _ in 0..<spinners {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "while :; do :; done"]
            try process.run()
            processes.append(process)
        }
    }

    /// Ends the spinners this hog started (by their PIDs). Calling it again does nothing.
    func stop() {
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        processes.removeAll()
    }

    deinit { stop() }
}
