import Crypto
import Foundation
import ShoalNode

/// `shoal-bench cluster`: three real `shoal node` processes on loopback. For each size, a generated
/// file is streamed in through node 1's HTTP API and out through node 3's, its SHA-256 checked;
/// beside the MB/s, raw loopback TCP and SHA-256 measured in the same run, and every node's peak
/// RSS after every size.
///
/// With r = 3 every node holds every object, so node 3's get reads its own disk; so the benchmark
/// also runs a cluster with r = 1 (by default), where node 3 must fetch about two thirds of the
/// objects from nodes 1 and 2 over TLS. The share that crossed the peer network is measured from
/// the nodes' own counters and printed.
enum ClusterBenchmark {
    struct Options {
        var sizes: [UInt64] = [256 << 20, 1 << 30, 4 << 30]
        var replicas: [Int] = [3, 1]
        var directory = BenchSupport.temporaryDirectory()
        var shoal: String?
        var tcpBytes: UInt64 = 1 << 30
        var isPublic = false
    }

    static let nodeCount = 3

    static func run(_ arguments: [String]) async -> Int32 {
        guard let options = parse(arguments) else { return 2 }
        CleanupRegistry.shared.installSignalHandlers()
        do {
            return try await benchmark(options)
        } catch {
            BenchSupport.printError("shoal-bench cluster: \(error)")
            CleanupRegistry.shared.cleanUpEverything()
            return 1
        }
    }

    private static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            func value() -> String? {
                guard let next = iterator.next() else {
                    BenchSupport.printError("shoal-bench cluster: \(argument) needs a value")
                    return nil
                }
                return next
            }
            switch argument {
            case "--size", "--sizes":
                guard let text = value() else { return nil }
                let sizes = text.split(separator: ",").map { BenchSupport.parseSize(String($0)) }
                guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                    BenchSupport.printError("shoal-bench cluster: \(argument) takes sizes like 256M,1G,4G")
                    return nil
                }
                options.sizes = sizes.map { $0! }
            case "--replicas":
                guard let text = value() else { return nil }
                let counts = text.split(separator: ",").map { Int($0) }
                guard !counts.isEmpty, counts.allSatisfy({ (1...nodeCount).contains($0 ?? 0) }) else {
                    BenchSupport.printError("shoal-bench cluster: --replicas takes replication factors from 1 to \(nodeCount), e.g. 3,1")
                    return nil
                }
                options.replicas = counts.map { $0! }
            case "--tcp-bytes":
                guard let text = value(), let bytes = BenchSupport.parseSize(text), bytes > 0 else {
                    BenchSupport.printError("shoal-bench cluster: --tcp-bytes takes a size like 1G")
                    return nil
                }
                options.tcpBytes = bytes
            case "--shoal":
                guard let text = value() else { return nil }
                options.shoal = text
            case "--dir":
                guard let text = value() else { return nil }
                options.directory = text
            case "--public":
                options.isPublic = true
            default:
                BenchSupport.printError("shoal-bench cluster: unknown option \(argument)\n\n\(usage)")
                return nil
            }
        }
        return options
    }

    private static func shoalExecutable(_ options: Options) throws -> String {
        let path = options.shoal ?? URL(fileURLWithPath: BenchSupport.executablePath()).deletingLastPathComponent().appendingPathComponent("shoal").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ClusterError("no shoal executable at \(path): build it beside shoal-bench (swift build -c release --product shoal) or pass --shoal PATH")
        }
        return path
    }

    // MARK: - Baselines, then one cluster per replication factor

    private static func benchmark(_ options: Options) async throws -> Int32 {
        let shoal = try shoalExecutable(options)
        print("shoal-bench cluster: \(nodeCount) shoal node processes on 127.0.0.1; put through node 1's HTTP API, get through node 3's")
        print("node binary \(shoal); data under \(options.directory); \(ProcessInfo.processInfo.activeProcessorCount) CPUs shared by the nodes, this client and anything else running (load average \(BenchSupport.loadAverage()))")
        print("\(options.isPublic ? "public files (no encryption)" : "private files (AES-256-GCM)"), 1 MiB chunks, each node's default transfer window (8)")
        print("MB = 10^6 bytes. The client streams generated bytes (never held whole) and hashes what it gets back.")
        print("")

        let tcp = try Baselines.loopbackTCP(total: options.tcpBytes)
        let sha = Baselines.sha256()
        let aes = Baselines.aesGCM()
        print("baselines, measured now:")
        print("  loopback TCP, one plain socket pair, \(BenchSupport.formatSize(options.tcpBytes)) \(String(format: "%8.0f", tcp)) MB/s")
        print("  SHA-256, one core                          \(String(format: "%8.0f", sha)) MB/s")
        print("  AES-256-GCM seal, one core                 \(String(format: "%8.0f", aes)) MB/s")
        print("")

        var failed = false
        for replicas in options.replicas {
            failed = try await cluster(replicas: replicas, shoal: shoal, options: options) || failed
            print("")
        }
        print(failed ? "some sizes failed; see above" : "all sizes verified (SHA-256 of what node 3 served == SHA-256 of what was generated)")
        return failed ? 1 : 0
    }

    /// Runs every size on one fresh cluster with replication factor `replicas`.
    /// - Returns: `true` when a size failed.
    private static func cluster(replicas: Int, shoal: String, options: Options) async throws -> Bool {
        guard let root = BenchSupport.makeTemporaryDirectory(under: options.directory, prefix: "shoal-bench-cluster-r\(replicas)") else {
            throw ClusterError("cannot create a temp directory under \(options.directory)")
        }
        CleanupRegistry.shared.add(directory: root)
        var nodes: [NodeProcess] = []
        defer {
            CleanupRegistry.shared.removeDirectory(root)
        }
        do {
            let failed = try await runSizes(replicas: replicas, shoal: shoal, root: root, nodes: &nodes, options: options)
            for node in nodes.reversed() { await node.stop(grace: .seconds(20)) }
            return failed
        } catch {
            for node in nodes { await node.stop(grace: .seconds(2)) }
            throw error
        }
    }

    private static func runSizes(replicas: Int, shoal: String, root: String, nodes: inout [NodeProcess], options: Options) async throws -> Bool {
        let common = ["--replicas", String(replicas), "--log-level", "warning"]
        let first = try NodeProcess(name: "node1", executable: shoal, dataDirectory: root + "/node1", extraArguments: common)
        nodes.append(first)
        try await first.waitUntilServing(within: .seconds(30))
        guard let seed = first.listenAddress else { throw ClusterError("node1 reported no listen address") }
        for index in 2...nodeCount {
            let node = try NodeProcess(name: "node\(index)", executable: shoal, dataDirectory: root + "/node\(index)",
                                       extraArguments: common + ["--bootstrap", seed])
            nodes.append(node)
        }
        for node in nodes.dropFirst() { try await node.waitUntilServing(within: .seconds(30)) }
        try await waitUntilFormed(nodes, within: .seconds(60))

        print("r = \(replicas): " + replicaNote(replicas))
        print("  " + nodes.map { "\($0.name) pid \($0.pid) peer \($0.listenAddress ?? "?")" }.joined(separator: ", "))
        print("  put→peers: bytes nodes 2+3 stored from peers during the put; get←peers: bytes nodes 1+2 served during the get; both ÷ file size")
        print("  RSS in MiB: each node's VmHWM (peak since the cluster started) and VmRSS (now), read after each size;")
        print("  client: this process's VmHWM after the put and after the get")
        print("  size       put s  put MB/s    get s  get MB/s  put→peers  get←peers  SHA-256   peak n1/n2/n3   now n1/n2/n3  client put/get")

        let (api1, api3) = (nodes[0].api!, nodes[nodeCount - 1].api!)
        var failed = false
        for size in options.sizes {
            let label = "  " + BenchSupport.pad(BenchSupport.formatSize(size), 9, right: false)
            // Room for r copies, node 3's read cache (up to 1 GiB) and slack.
            let needed = size + size / 50 + size * UInt64(replicas) + (replicas < nodeCount ? min(size, 1 << 30) : 0) + (1 << 30)
            if let free = BenchSupport.freeBytes(at: root), free < needed {
                print("\(label)skipped: needs about \(BenchSupport.formatSize(needed)) free, \(BenchSupport.formatSize(free)) free under \(options.directory)")
                continue
            }
            let seed = 7 &+ size
            let expected = GeneratedBytes.digest(size: size, seed: seed)

            let storedBefore = try await sum(nodes.dropFirst(), "shoal_stored_bytes_total")
            let clock = ContinuousClock()
            let putStart = clock.now
            let put: PutResult
            do {
                put = try await api1.put(GeneratedBytes(size: size, seed: seed), length: Int64(size), isPublic: options.isPublic,
                                         name: "bench-\(size)")
            } catch {
                print("\(label)put failed: \(error)")
                failed = true
                continue
            }
            let putTime = clock.now - putStart
            let storedAfter = try await sum(nodes.dropFirst(), "shoal_stored_bytes_total")
            let clientPeakAfterPut = BenchSupport.peakResidentBytes() ?? 0

            let servedBefore = try await sum(nodes.prefix(nodeCount - 1), "shoal_served_bytes_total")
            var hasher = SHA256()
            var received: UInt64 = 0
            let getStart = clock.now
            do {
                try await api3.get(put.address) { buffer, _ in
                    buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                    received += UInt64(buffer.readableBytes)
                }
            } catch {
                print("\(label)get failed after \(received) bytes: \(error)")
                failed = true
                _ = try? await api1.delete(put.address)
                continue
            }
            let getTime = clock.now - getStart
            let servedAfter = try await sum(nodes.prefix(nodeCount - 1), "shoal_served_bytes_total")
            let verified = received == size && hasher.finalize() == expected
            failed = failed || !verified

            let resident = nodes.map { $0.resident }
            let peaks = resident.map { $0.map { String($0.peak >> 20) } ?? "?" }.joined(separator: "/")
            let now = resident.map { $0.map { String($0.current >> 20) } ?? "?" }.joined(separator: "/")
            let share = { (bytes: Double) in String(format: "%.0f%%", bytes / Double(size) * 100) }
            print([
                label,
                BenchSupport.pad(String(format: "%.2f", BenchSupport.seconds(putTime)), 6),
                BenchSupport.pad(String(format: "%.1f", BenchSupport.megabytesPerSecond(size, putTime)), 9),
                BenchSupport.pad(String(format: "%.2f", BenchSupport.seconds(getTime)), 8),
                BenchSupport.pad(String(format: "%.1f", BenchSupport.megabytesPerSecond(size, getTime)), 9),
                BenchSupport.pad(share(storedAfter - storedBefore), 10),
                BenchSupport.pad(share(servedAfter - servedBefore), 10),
                BenchSupport.pad(verified ? "ok" : "MISMATCH", 9),
                BenchSupport.pad(peaks, 15),
                BenchSupport.pad(now, 14),
                BenchSupport.pad("\(clientPeakAfterPut >> 20)/\((BenchSupport.peakResidentBytes() ?? 0) >> 20)", 13),
            ].joined(separator: " "))
            if !verified {
                print("    node 3 served \(received) bytes whose SHA-256 differs from the generated \(BenchSupport.formatSize(size))")
            }
            // Frees the disk for the next size (tombstones stay).
            do {
                _ = try await api1.delete(put.address)
            } catch {
                print("    could not delete the \(BenchSupport.formatSize(size)) file (\(error)); its chunks stay until the cluster is removed")
            }
        }
        return failed
    }

    private static func replicaNote(_ replicas: Int) -> String {
        switch replicas {
        case nodeCount:
            return "every node holds every object, so node 3's get reads its own disk (no peer traffic); the put sends each object to nodes 2 and 3 over TLS"
        case 1:
            return "each object lives on one node (the XOR-closest), so node 3 fetches about two thirds of the file from nodes 1 and 2 over TLS"
        default:
            return "each object lives on \(replicas) of the \(nodeCount) nodes; node 3 fetches what it lacks from nodes 1 and 2 over TLS"
        }
    }

    /// Waits until every node's routing table holds the other two.
    private static func waitUntilFormed(_ nodes: [NodeProcess], within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        var sizes: [Int] = []
        // Bounded by the deadline.
        while ContinuousClock.now < deadline {
            sizes = []
            for node in nodes {
                guard node.process.isRunning else { throw ClusterError("\(node.name) exited:\n\(node.logTail())") }
                sizes.append((try? await node.api?.status())?.routingTableSize ?? 0)
            }
            if sizes.allSatisfy({ $0 >= nodes.count - 1 }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterError("the nodes did not all find each other within \(limit) (routing table sizes \(sizes))")
    }

    private static func sum(_ nodes: some Sequence<NodeProcess>, _ metric: String) async throws -> Double {
        var total = 0.0
        for node in nodes { total += try await node.metric(metric) }
        return total
    }
}
