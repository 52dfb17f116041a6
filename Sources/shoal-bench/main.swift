import Foundation

// shoal-bench: programs that print figures, each beside a baseline measured in the same run.
// Usage: shoal-bench <benchmark> [options]; with no benchmark, every benchmark runs with its defaults.
// Each benchmark lives in its own file as `enum <Name>Benchmark { static func run(_ arguments: [String]) async -> Int32 }`.

let usage = """
    usage: shoal-bench <benchmark> [options]

    benchmarks:
      ingest [--sizes 256M,1G,4G] [--chunk-size 1M] [--in-flight 8] [--public] [--dir PATH]
             stream a generated file through chunk → seal → SHA-256 → ChunkStore, each size in a
             fresh child process; prints MB/s beside SHA-256 and AES-256-GCM MB/s, and peak RSS

    with no benchmark named, every benchmark runs with its defaults.

    """

let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
switch arguments.first {
case nil:
    status = await IngestBenchmark.run([])
case "ingest":
    status = await IngestBenchmark.run(Array(arguments.dropFirst()))
case "help", "-h", "--help":
    print(usage, terminator: "")
    status = 0
case let other?:
    FileHandle.standardError.write(Data("shoal-bench: unknown benchmark '\(other)'\n\n\(usage)".utf8))
    status = 2
}
exit(status)
