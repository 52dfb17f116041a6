import Foundation
import Logging
import ShoalCore
import ShoalNode
import ShoalTestKit

/// `shoal-bench lookup`: a loopback cluster of `--nodes` nodes in this one process (each
/// `ShoalNode.start`ed on port 0 with its own temp data directory, bootstrapping from one or two
/// earlier nodes), left to settle, then iterative lookups of random targets from random nodes, one
/// at a time: latency percentiles, hops, messages, and whether the lookup found the true closest
/// nodes. Beside them, a Ping round trip on an established connection, measured in the same run.
enum LookupBenchmark {
    struct Options {
        var nodes = 100
        var lookups = 500
        var pings = 1000
        var seed: UInt64 = 1
        var settleLimit: Duration = .seconds(120)
        var directory = BenchSupport.temporaryDirectory()
    }

    static func run(_ options: Options) async -> Int32 {
        CleanupRegistry.shared.installSignalHandlers()
        do {
            return try await benchmark(options)
        } catch {
            BenchSupport.printError("shoal-bench lookup: \(error)")
            CleanupRegistry.shared.cleanUpEverything()
            return 1
        }
    }

    private static func benchmark(_ options: Options) async throws -> Int32 {
        let fileLimit = BenchSupport.raiseOpenFileLimit()
        guard let root = BenchSupport.makeTemporaryDirectory(under: options.directory, prefix: "shoal-bench-lookup")
        else {
            throw ClusterError("cannot create a temp directory under \(options.directory)")
        }
        CleanupRegistry.shared.add(directory: root)
        defer {
            CleanupRegistry.shared.removeDirectory(root)
        }
        print(
            "shoal-bench lookup: \(options.nodes) nodes in one process on 127.0.0.1 (TLS, K = 20, α = 3), each bootstrapping from 1–2 earlier nodes"
        )
        print(
            "\(ProcessInfo.processInfo.activeProcessorCount) CPUs shared by every node (load average \(BenchSupport.loadAverage())); SWIM probes and repair keep running in the background; open-file limit \(fileLimit)"
        )
        print("")

        var logger = Logger(label: "shoal")
        logger.logLevel = .error
        var rng = SeededRandom(seed: options.seed)
        var nodes: [ShoalNode] = []
        var failure: (any Error)?
        // Every node runs as a child of this group, which ends once all have stopped.
        await withDiscardingTaskGroup { group in
            do {
                let clock = ContinuousClock()
                let startTime = clock.now
                for index in 0..<options.nodes {
                    var config = NodeConfiguration(
                        listen: PeerAddress(host: "127.0.0.1", port: 0),
                        dataDirectory: URL(fileURLWithPath: root + "/node\(index + 1)"))
                    if !nodes.isEmpty {
                        let count = min(nodes.count, 1 + Int(rng.next() % 2))
                        var picks: [Int] = []
                        // Bounded: at most `count` distinct picks from a non-empty range; collisions retry.
                        for _ in 0..<64 where picks.count < count {
                            let pick = Int(rng.next() % UInt64(nodes.count))
                            if !picks.contains(pick) { picks.append(pick) }
                        }
                        config.bootstrap = picks.map { nodes[$0].contact.address }
                    }
                    let node = try await ShoalNode.start(configuration: config, logger: logger)
                    nodes.append(node)
                    group.addTask { try? await node.run() }
                }
                print(
                    String(
                        format: "started %d nodes in %.1f s", nodes.count, BenchSupport.seconds(clock.now - startTime)))

                let settled = try await settle(nodes, limit: options.settleLimit)
                print(settled)
                print("")

                try await measureLookups(nodes, options: options, rng: &rng)
                print("")
                try await measurePings(nodes, count: options.pings)
                print("")
                print(
                    "process peak RSS with \(nodes.count) nodes: \(BenchSupport.formatSize(BenchSupport.peakResidentBytes() ?? 0))"
                )
            } catch {
                failure = error
            }
            await stopAll(nodes)
        }
        if let failure { throw failure }
        return 0
    }

    /// Waits until every routing table holds at least min(K, n−1) contacts and the total has not
    /// changed for three polls in a row, or `limit` passes.
    /// - Returns: a line saying how it went.
    private static func settle(_ nodes: [ShoalNode], limit: Duration) async throws -> String {
        let clock = ContinuousClock()
        let start = clock.now
        let wanted = min(20, nodes.count - 1)
        var previousTotal = -1
        var stable = 0
        var sizes: [Int] = []
        // Bounded by `limit`.
        while clock.now - start < limit {
            try await Task.sleep(for: .milliseconds(500))
            sizes = []
            for node in nodes { sizes.append(await node.status().routingTableSize) }
            let total = sizes.reduce(0, +)
            stable = total == previousTotal ? stable + 1 : 0
            previousTotal = total
            if sizes.min() ?? 0 >= wanted && stable >= 3 { break }
        }
        sizes.sort()
        let waited = BenchSupport.seconds(clock.now - start)
        let outcome = (sizes.first ?? 0) >= wanted && stable >= 3 ? "settled" : "stopped waiting (bound reached)"
        return String(
            format:
                "%@ after %.1f s: routing table sizes min %d, median %d, max %d (wanted every table ≥ %d and no change for 1.5 s)",
            outcome, waited, sizes.first ?? 0, sizes[sizes.count / 2], sizes.last ?? 0, wanted)
    }

    private static func measureLookups(_ nodes: [ShoalNode], options: Options, rng: inout SeededRandom) async throws {
        var pairs: [(node: Int, target: Key256)] = []
        for _ in 0..<options.lookups {
            pairs.append((Int(rng.next() % UInt64(nodes.count)), Key256.random(using: &rng)))
        }
        let connectionsBefore = meanConnections(nodes)
        print("\(options.lookups) iterative node lookups, one at a time, random targets from random nodes:")
        await lookupPass(nodes, pairs: pairs)
        let connectionsAfter = meanConnections(nodes)
        print(
            String(
                format:
                    "  open connections per node: %.1f before the lookups, %.1f after (a lookup dials, with a TLS handshake, any node it has no connection to)",
                connectionsBefore, connectionsAfter))
        print("")
        print("the same \(options.lookups) (node, target) pairs again, connections now open:")
        await lookupPass(nodes, pairs: pairs)
        print("")
        print(
            "the same pairs, needing only the 3 closest (settling once the β = 3 closest answered, as a lookup for r = 3 replicas does):"
        )
        await lookupPass(nodes, pairs: pairs, wanted: 3)
    }

    private static func meanConnections(_ nodes: [ShoalNode]) -> Double {
        Double(nodes.map(\.connectedPeers.count).reduce(0, +)) / Double(nodes.count)
    }

    private static func lookupPass(_ nodes: [ShoalNode], pairs: [(node: Int, target: Key256)], wanted: Int? = nil) async
    {
        let ids = nodes.map(\.nodeID)
        var latencies: [Duration] = []
        var hops: [Int: Int] = [:]
        var messages: [Int] = []
        var exactTop3 = 0
        var foundOfTop20 = 0
        var emptyResults = 0
        var waiting: [Duration] = []
        var roundTrips: [Duration] = []
        let clock = ContinuousClock()
        for (index, target) in pairs {
            let node = nodes[index]
            let start = clock.now
            let result = await node.lookupForMeasurement(target, wanted: wanted)
            latencies.append(clock.now - start)
            waiting.append(result.waiting)
            roundTrips += result.roundTrips
            hops[result.hops, default: 0] += 1
            messages.append(result.messages)
            if result.closest.isEmpty { emptyResults += 1 }

            // Placement takes the lookup's closest plus the node itself: compare its 3 closest
            // with the true 3 closest of all node IDs.
            let byDistance = { (ids: [NodeID]) in ids.sorted { target.isCloser($0, than: $1) } }
            let found = byDistance(result.closest.map(\.id) + [node.nodeID])
            let truth = byDistance(ids)
            if Array(found.prefix(3)) == Array(truth.prefix(3)) { exactTop3 += 1 }
            // And how many of the true K closest other nodes the lookup returned.
            let trueOthers = Set(truth.filter { $0 != node.nodeID }.prefix(20))
            foundOfTop20 += result.closest.filter { trueOthers.contains($0.id) }.count
        }
        latencies.sort()
        messages.sort()
        waiting.sort()
        roundTrips.sort()
        let count = pairs.count
        let k = min(20, nodes.count - 1)
        print(
            "  latency    p50 \(p(latencies, 0.5))   p90 \(p(latencies, 0.9))   p99 \(p(latencies, 0.99))   max \(BenchSupport.formatLatency(latencies.last!))"
        )
        print(
            String(
                format: "  messages   mean %.1f   p50 %d   p90 %d   max %d  (requests sent per lookup)",
                Double(messages.reduce(0, +)) / Double(count), BenchSupport.percentile(messages, 0.5)!,
                BenchSupport.percentile(messages, 0.9)!, messages.last!))
        print(
            "  hops       " + hops.keys.sorted().map { "\($0): \(hops[$0]!)" }.joined(separator: "   ")
                + String(
                    format: "   (mean %.2f; hops = longest chain of answers)",
                    Double(hops.map { $0 * $1 }.reduce(0, +)) / Double(count)))
        print(
            String(
                format:
                    "  3 closest correct  %d / %d (%.1f%%): the lookup's answer plus the asking node, 3 closest by XOR, == the true 3 closest of all %d IDs",
                exactTop3, count, Double(exactTop3) / Double(count) * 100, nodes.count))
        print(
            String(
                format: "  K closest found    %.2f of %d on average (of the true %d closest other nodes)",
                Double(foundOfTop20) / Double(count), k, k))
        if emptyResults > 0 { print("  \(emptyResults) lookups returned no contact") }
        let meanLatency = latencies.reduce(Duration.zero, +) / count
        let meanWaiting = waiting.reduce(Duration.zero, +) / count
        print(
            "  where the time goes (means per lookup): \(BenchSupport.formatLatency(meanLatency)) in all = "
                + "\(BenchSupport.formatLatency(meanWaiting)) waiting for answers + \(BenchSupport.formatLatency(meanLatency - meanWaiting)) "
                + "in the asking node (state machine, routing table, starting requests, the caller's hop)")
        print(
            "    each request's round trip as the asker saw it: p50 \(p(roundTrips, 0.5))   p90 \(p(roundTrips, 0.9))   "
                + "(concurrent requests share 2 cores with the answering nodes)")
    }

    private static func measurePings(_ nodes: [ShoalNode], count: Int) async throws {
        let (from, to) = (nodes[0], nodes[1].contact)
        for _ in 0..<20 { _ = try await from.pingForMeasurement(to) }  // dial, handshake, warm up
        var rtts: [Duration] = []
        rtts.reserveCapacity(count)
        for _ in 0..<count { rtts.append(try await from.pingForMeasurement(to)) }
        rtts.sort()
        print("baseline: Ping round trip on an established TLS connection (node 1 → node 2), \(count) in a row:")
        print(
            "  latency    p50 \(p(rtts, 0.5))   p90 \(p(rtts, 0.9))   p99 \(p(rtts, 0.99))   max \(BenchSupport.formatLatency(rtts.last!))"
        )
        // What a round of a lookup costs at best: that many Pings at once, until the last answers.
        for width in [3, 20] where nodes.count > width {
            let peers = nodes[1...width].map(\.contact)
            for peer in peers { _ = try await from.pingForMeasurement(peer) }
            var rounds: [Duration] = []
            let clock = ContinuousClock()
            for _ in 0..<max(1, count / 10) {
                let start = clock.now
                try await withThrowingTaskGroup(of: Duration.self) { group in
                    for peer in peers { group.addTask { try await from.pingForMeasurement(peer) } }
                    try await group.waitForAll()
                }
                rounds.append(clock.now - start)
            }
            rounds.sort()
            print(
                "baseline: \(width) Pings at once from node 1 to \(width) peers, until the last answers (one lookup round of \(width) requests at best), \(rounds.count) times:"
            )
            print("  latency    p50 \(p(rounds, 0.5))   p90 \(p(rounds, 0.9))   p99 \(p(rounds, 0.99))")
        }
    }

    private static func p(_ sorted: [Duration], _ fraction: Double) -> String {
        BenchSupport.percentile(sorted, fraction).map(BenchSupport.formatLatency) ?? "?"
    }

    private static func stopAll(_ nodes: [ShoalNode]) async {
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { await node.stop(handOff: false) } }
        }
    }
}
