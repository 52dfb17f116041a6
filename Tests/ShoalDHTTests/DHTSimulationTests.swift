import ShoalCore
import ShoalDHT
import ShoalTestKit
import XCTest

/// Whole-network checks: thousands of routing tables, lookups as real message passing over
/// ``SimulatedNetwork``, results compared with the global truth.
final class DHTSimulationTests: XCTestCase {
    private struct Figures {
        var correct = 0
        var lookups = 0
        var hops: [Int: Int] = [:]
        var messages: [Int] = []

        mutating func record(_ result: LookupResult, correct isCorrect: Bool) {
            lookups += 1
            if isCorrect { correct += 1 }
            hops[result.stats.hops, default: 0] += 1
            messages.append(result.stats.messagesSent)
        }

        func report(_ title: String) {
            let sorted = messages.sorted()
            let mean = Double(sorted.reduce(0, +)) / Double(max(1, sorted.count))
            let histogram = hops.keys.sorted().map { "\($0): \(hops[$0]!)" }.joined(separator: ", ")
            print(
                """
                [\(title)] \(correct)/\(lookups) lookups found the true r=3 closest
                [\(title)] hops histogram {\(histogram)}
                [\(title)] messages per lookup: mean \(String(format: "%.1f", mean)), \
                p50 \(sorted[sorted.count / 2]), p99 \(sorted[sorted.count * 99 / 100]), max \(sorted.last!)
                """)
        }
    }

    /// Runs `count` lookups of random targets from random live origins and compares the replica set
    /// each origin would compute (the r = 3 closest of the answer plus itself) with the global truth.
    private func measure(_ sim: DHTSimulation, live: [Int], count: Int, seed: UInt64) -> Figures {
        var rng = SeededRandom(seed: seed)
        let liveIDs = live.map { sim.nodes[$0].contact.id }
        var figures = Figures()
        for _ in 0..<count {
            let target = Key256.random(using: &rng)
            let origin = live[Int.random(in: 0..<live.count, using: &rng)]
            let result = sim.lookup(from: origin, target: target)
            let seen = Placement.replicaSet(for: target, r: 3, among: result.closest + [sim.nodes[origin].contact])
            figures.record(result, correct: seen.map(\.id) == linearClosest(liveIDs, to: target, count: 3))
        }
        return figures
    }

    func testTwoThousandNodesFindTheTrueClosestAlsoWithTenPercentDead() {
        let clock = ContinuousClock()
        let buildStart = clock.now
        let sim = DHTSimulation(nodeCount: 2000, seed: 2024, learnFromTraffic: false)
        let offered = sim.populateTablesDirectly(seed: 1)
        let sizes = sim.nodes.map(\.table.count)
        print(
            "[2000 nodes] tables built from \(offered) answers in \(clock.now - buildStart); "
                + "contacts per table: min \(sizes.min()!), mean \(sizes.reduce(0, +) / sizes.count), max \(sizes.max()!)"
        )
        XCTAssertGreaterThan(sizes.min()!, 60)

        let allLive = Array(sim.nodes.indices)
        let lookupStart = clock.now
        let healthy = measure(sim, live: allLive, count: 1000, seed: 7)
        healthy.report("2000 nodes, all live")
        print(
            "[2000 nodes] 1000 lookups (\(sim.net.statistics.messagesDelivered) messages delivered) in \(clock.now - lookupStart)"
        )
        XCTAssertEqual(healthy.correct, 1000, "every lookup must find the true 3 closest")

        // 10% of the nodes die silently; the tables still list them.
        var rng = SeededRandom(seed: 99)
        let dead = Set(allLive.shuffled(using: &rng).prefix(200))
        for n in dead { sim.net.kill(sim.nodes[n].contact.id) }
        let live = allLive.filter { !dead.contains($0) }
        let deadStart = clock.now
        let degraded = measure(sim, live: live, count: 1000, seed: 8)
        degraded.report("2000 nodes, 10% silently dead")
        print("[2000 nodes] 1000 lookups with dead nodes in \(clock.now - deadStart)")
        XCTAssertGreaterThanOrEqual(degraded.correct, 990, "at least 99% must find the true 3 closest live nodes")
        XCTAssertGreaterThan(sim.net.statistics.messagesDroppedDead, 0, "dead nodes were asked and did not answer")
    }

    func testNodesJoiningThroughTheNetworkBuildUsefulTables() {
        let clock = ContinuousClock()
        let start = clock.now
        let count = 300
        let sim = DHTSimulation(nodeCount: count, seed: 77, learnFromTraffic: true)
        var rng = SeededRandom(seed: 5)
        for n in 1..<count {
            let bootstraps = Array((0..<n).shuffled(using: &rng).prefix(3))
            _ = sim.join(n, bootstraps: bootstraps)
        }
        let refreshes = sim.refreshAll(using: &rng)
        sim.drain(maxEvents: 100_000)
        let sizes = sim.nodes.map(\.table.count)
        print(
            "[join \(count)] joined and ran \(refreshes) refresh lookups in \(clock.now - start), "
                + "\(sim.eventsHandled) events; contacts per table: min \(sizes.min()!), max \(sizes.max()!)")

        // Every node's table holds its own 5 true nearest neighbours.
        let ids = sim.ids
        var missing = 0
        for n in sim.nodes.indices {
            let me = ids[n]
            for neighbour in linearClosest(ids.filter { $0 != me }, to: me, count: 5)
            where !sim.table(n).contains(neighbour) {
                missing += 1
            }
        }
        XCTAssertEqual(missing, 0, "joins and refreshes make each node known to its nearest neighbours")

        sim.learnFromTraffic = false
        let figures = measure(sim, live: Array(sim.nodes.indices), count: 300, seed: 9)
        figures.report("join \(count)")
        XCTAssertEqual(figures.correct, 300)
    }
}
