import Foundation
import Logging

// shoal-bench: programs that print figures, each beside a baseline measured in the same run.
// Usage: shoal-bench <benchmark> [options]; with no benchmark named it prints the usage.
// Each benchmark lives in its own file as `enum <Name>Benchmark { static func run(_ arguments: [String]) async -> Int32 }`.

let usage = """
    usage: shoal-bench <benchmark> [options]

    benchmarks:
      ingest [--sizes 256M,1G,4G] [--chunk-size 1M] [--in-flight 8] [--public] [--dir PATH]
             stream a generated file through chunk → seal → SHA-256 → ChunkStore, each size in a
             fresh child process; prints MB/s beside SHA-256 and AES-256-GCM MB/s, and peak RSS

      cluster [--size 1G | --sizes 256M,1G,4G] [--replicas 3,1] [--tcp-bytes 1G] [--public]
              [--shoal PATH] [--dir PATH]
             three real `shoal node` processes (the `shoal` binary beside shoal-bench) on
             127.0.0.1, one cluster per replication factor; each size is put through node 1's HTTP
             API and got through node 3's, SHA-256 verified; prints put and get MB/s, the share of
             bytes that crossed the peer network, every node's peak RSS after every size, beside
             loopback TCP and SHA-256 MB/s. Sizes that do not fit on the disk are skipped.

      lookup [--nodes 100] [--lookups 500] [--pings 1000] [--seed 1] [--settle-seconds 120] [--dir PATH]
             that many nodes in this one process on 127.0.0.1, left to settle, then iterative
             lookups of random targets from random nodes: latency p50/p90/p99/max, hop histogram,
             messages per lookup, how often the 3 closest found are the true 3 closest; beside a
             Ping round trip on an established connection

      antientropy [--objects 10k,100k,1M] [--nodes 20] [--replicas 3] [--changed 1] [--seed 1]
             a simulated stable cluster (in memory, metadata only) where one node holds that many
             objects: requests and bytes of its repair round today (one FindValue per object per
             replica, counted) beside the range exchange, stable, after a node dies, after changes

      all    ingest --sizes 256M, cluster --sizes 256M, lookup --lookups 200: a quick pass of each

    with no benchmark named, shoal-bench prints this text. Figures only: no benchmark asserts
    anything about speed. The exit status is non-zero when a run could not complete, when bytes
    read back differ from those written, or (ingest) when a size's peak RSS reached 64 MiB.

    """

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}

let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
switch arguments.first {
case nil, "help", "-h", "--help":
    print(usage, terminator: "")
    status = 0
case "ingest":
    status = await IngestBenchmark.run(Array(arguments.dropFirst()))
case "cluster":
    status = await ClusterBenchmark.run(Array(arguments.dropFirst()))
case "lookup":
    status = await LookupBenchmark.run(Array(arguments.dropFirst()))
case "antientropy":
    do { status = try await AntiEntropyBenchmark.run(arguments: Array(arguments.dropFirst())) } catch {
        FileHandle.standardError.write(Data("shoal-bench antientropy: \(error)\n".utf8))
        status = 1
    }
case "all":
    let ingest = await IngestBenchmark.run(["--sizes", "256M"])
    print("")
    let cluster = await ClusterBenchmark.run(["--sizes", "256M"])
    print("")
    let lookup = await LookupBenchmark.run(["--lookups", "200"])
    status = [ingest, cluster, lookup].first { $0 != 0 } ?? 0
case let other?:
    FileHandle.standardError.write(Data("shoal-bench: unknown benchmark '\(other)'\n\n\(usage)".utf8))
    status = 2
}
CleanupRegistry.shared.cleanUpEverything()
exit(status)
