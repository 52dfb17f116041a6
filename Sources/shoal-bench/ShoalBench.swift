import ArgumentParser
import Foundation
import Logging
import ShoalCore
import ShoalNode

/// `shoal-bench`: programs that print figures, each beside a baseline measured in the same run.
/// Figures only: no benchmark asserts anything about speed. The exit status is non-zero when a run
/// could not complete or bytes read back differ from those written.
@main
struct ShoalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoal-bench",
        abstract: "Benchmarks of Shoal, each printed beside baselines measured in the same run.",
        subcommands: [Cluster.self, Ingest.self, Lookup.self, AntiEntropy.self, All.self, TLSSink.self])

    static func finish(_ status: Int32) throws {
        CleanupRegistry.shared.cleanUpEverything()
        if status != 0 { throw ExitCode(status) }
    }

    static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
    }
}

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension ShoalBench {
    struct Cluster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Six storage nodes and a reader that stores nothing: put and get MB/s, CPU and RSS per node and client.",
            discussion: """
                Each size is put with `shoal put -` through node 1 and got with `shoal get` through node 7, both \
                real processes; beside loopback TCP, a bare TLS 1.3 stream between two processes, SHA-256, \
                AES-256-GCM and the disk's write+fsync rate, all measured in the same run.
                """)

        @Option(help: "File sizes, comma-separated.")
        var sizes = "1G,4G"
        @Option(help: "Replication factors to run, comma-separated (each on a fresh cluster).")
        var replicas = "3,1"
        @Option(help: "Storage nodes (the reader is one more).")
        var nodes = 6
        @Flag(help: "Public files (no encryption).")
        var `public` = false
        @Option(help: "The shoal executable (default: beside shoal-bench).")
        var shoal: String?
        @Option(help: "Where the nodes keep their data.")
        var dir = BenchSupport.temporaryDirectory()
        @Option(help: "Bytes each network baseline moves.")
        var baselineBytes = ByteSize(bytes: 1 << 30)

        func run() async throws {
            ShoalBench.bootstrapLogging()
            var options = ClusterBenchmark.Options()
            options.sizes = try parseSizes(sizes)
            options.replicas = try replicas.split(separator: ",").map {
                guard let r = Int($0), (1...nodes).contains(r) else {
                    throw ValidationError("--replicas takes factors from 1 to --nodes, e.g. 3,1")
                }
                return r
            }
            guard (3...64).contains(nodes) else { throw ValidationError("--nodes must be from 3 to 64") }
            options.storageNodes = nodes
            options.isPublic = `public`
            options.shoal = shoal
            options.directory = dir
            options.baselineBytes = baselineBytes.bytes
            try ShoalBench.finish(await ClusterBenchmark.run(options))
        }
    }

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "chunk → seal → SHA-256 → local store, each size in a fresh process; beside SHA-256, AES-256-GCM and the disk."
        )

        @Option(help: "File sizes, comma-separated.")
        var sizes = "256M,1G,4G"
        @Option(help: "Chunk size.")
        var chunkSize = ByteSize(bytes: UInt64(ObjectSize.defaultChunk))
        @Option(help: "Objects sealed and stored at once.")
        var inFlight = 8
        @Flag(help: "Public files (no encryption).")
        var `public` = false
        @Option(help: "Where the store lives.")
        var dir = BenchSupport.temporaryDirectory()
        @Option(help: .hidden)
        var child: UInt64?

        func run() async throws {
            ShoalBench.bootstrapLogging()
            var options = IngestBenchmark.Options()
            options.sizes = try parseSizes(sizes)
            guard (UInt64(ObjectSize.minimumChunk)...UInt64(ObjectSize.maximumChunk)).contains(chunkSize.bytes) else {
                throw ValidationError("--chunk-size takes 64K … 8M")
            }
            guard inFlight >= 1 else { throw ValidationError("--in-flight takes a positive number") }
            options.chunkSize = Int(chunkSize.bytes)
            options.inFlight = inFlight
            options.isPublic = `public`
            options.directory = dir
            options.child = child
            try ShoalBench.finish(await IngestBenchmark.run(options))
        }
    }

    struct Lookup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Iterative lookups in a cluster of in-process nodes: latency, hops, messages, accuracy, and where the time goes; beside a Ping round trip."
        )

        @Option(help: "Nodes in the cluster (4 to 1000).")
        var nodes = 100
        @Option(help: "Lookups to time.")
        var lookups = 500
        @Option(help: "Pings to time for the baseline.")
        var pings = 1000
        @Option(help: "Seed for targets and bootstrap choices.")
        var seed: UInt64 = 1
        @Option(help: "Seconds to let the cluster settle, at most.")
        var settleSeconds = 120
        @Option(help: "Where the nodes keep their data.")
        var dir = BenchSupport.temporaryDirectory()

        func run() async throws {
            ShoalBench.bootstrapLogging()
            guard (4...1000).contains(nodes), lookups >= 1, pings >= 1, (1...3600).contains(settleSeconds) else {
                throw ValidationError("--nodes 4…1000, --lookups and --pings at least 1, --settle-seconds 1…3600")
            }
            var options = LookupBenchmark.Options()
            options.nodes = nodes
            options.lookups = lookups
            options.pings = pings
            options.seed = seed
            options.settleLimit = .seconds(settleSeconds)
            options.directory = dir
            try ShoalBench.finish(await LookupBenchmark.run(options))
        }
    }

    struct AntiEntropy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "antientropy",
            abstract:
                "Requests and bytes of one node's repair round with many objects: per-object FindValue confirmations beside the range exchange.",
            discussion: """
                A simulated stable cluster, in memory and metadata only, where node 0 holds that many objects: \
                its round stable, after a co-holder dies and after a share of its records changed.
                """)

        @Option(help: "Objects node 0 holds, comma-separated (10k, 1M, ...).")
        var objects = "10k,100k,1M"
        @Option(help: "Nodes in the simulated cluster (4 to 1000).")
        var nodes = 20
        @Option(help: "Replication factor (2 to 8, below --nodes).")
        var replicas = 3
        @Option(help: "Percent of node 0's records changed for the last round.")
        var changed = 1.0
        @Option(help: "Seed of the node IDs and objects.")
        var seed: UInt64 = 1

        func run() throws {
            var options = AntiEntropyBenchmark.Options()
            options.objectCounts = try objects.split(separator: ",").map {
                guard let n = AntiEntropyBenchmark.count(String($0)), (1...10_000_000).contains(n) else {
                    throw ValidationError("--objects takes counts from 1 to 10M, e.g. 10k,100k,1M")
                }
                return n
            }
            guard (4...1_000).contains(nodes) else { throw ValidationError("--nodes must be from 4 to 1000") }
            guard (2...8).contains(replicas), replicas < nodes else {
                throw ValidationError("--replicas must be from 2 to 8 and below --nodes")
            }
            guard changed > 0, changed <= 50 else {
                throw ValidationError("--changed takes a percentage above 0 and at most 50")
            }
            options.nodes = nodes
            options.replicas = replicas
            options.changedPercent = changed
            options.seed = seed
            try ShoalBench.finish(AntiEntropyBenchmark.run(options))
        }
    }

    struct All: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A quick pass of each: ingest 256M, cluster 256M, lookup 200 lookups.")

        func run() async throws {
            ShoalBench.bootstrapLogging()
            var ingest = IngestBenchmark.Options()
            ingest.sizes = [256 << 20]
            let a = await IngestBenchmark.run(ingest)
            print("")
            var cluster = ClusterBenchmark.Options()
            cluster.sizes = [256 << 20]
            let b = await ClusterBenchmark.run(cluster)
            print("")
            var lookup = LookupBenchmark.Options()
            lookup.lookups = 200
            let c = await LookupBenchmark.run(lookup)
            try ShoalBench.finish([a, b, c].first { $0 != 0 } ?? 0)
        }
    }

    /// The receiving end of the TLS baseline (run by `cluster` as a child process).
    struct TLSSink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tls-sink", abstract: "(internal) the TLS baseline's receiver.",
            shouldDisplay: false)
        @Option var bytes: UInt64

        func run() async throws {
            try await TLSBaseline.sink(total: bytes)
        }
    }
}

private func parseSizes(_ text: String) throws -> [UInt64] {
    let sizes = text.split(separator: ",").map { ByteSize(parsing: String($0))?.bytes }
    guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("sizes look like 256M,1G,4G")
    }
    return sizes.map { $0! }
}
