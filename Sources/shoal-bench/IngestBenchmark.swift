import Crypto
import Foundation
import Logging
import NIOCore
import ShoalCore
import ShoalFile
import ShoalNode
import ShoalStore

/// `shoal-bench ingest`: streams a generated file through chunk → seal → SHA-256 → ChunkStore
/// (temp file, fsync, link, fsync of the directory: the real write path) and reads it back.
///
/// Each size runs in a fresh child process (this executable re-run with the hidden `--child`
/// flag), so that the peak RSS printed is that size's alone. Baselines measured in the same run:
/// SHA-256, AES-256-GCM and the byte generator, each on one core.
enum IngestBenchmark {
    struct Options {
        var sizes: [UInt64] = [256 << 20, 1 << 30, 4 << 30]
        var chunkSize = Chunker.defaultChunkSize
        var inFlight = 8
        var isPublic = false
        var directory = BenchSupport.temporaryDirectory()
        var child: UInt64?
    }

    /// The peak RSS every size must stay under.
    static let residentLimit: UInt64 = 64 << 20

    static func run(_ options: Options) async -> Int32 {
        do {
            if let size = options.child { return try await child(size: size, options: options) }
            return try await parent(options)
        } catch {
            BenchSupport.printError("shoal-bench ingest: \(error)")
            return 1
        }
    }

    // MARK: - Parent: baselines, one child per size, the table

    private static func parent(_ options: Options) async throws -> Int32 {
        let cipher = options.isPublic ? "none (public)" : "AES-256-GCM"
        print("shoal-bench ingest: chunk → seal → SHA-256 → ChunkStore (temp file, fsync, link, fsync dir)")
        print(
            "chunk size \(BenchSupport.formatSize(UInt64(options.chunkSize))), cipher \(cipher), \(options.inFlight) objects in flight, \(ProcessInfo.processInfo.activeProcessorCount) CPUs, store under \(options.directory)"
        )
        print(
            "MB = 10^6 bytes. Each size runs in a fresh process (MALLOC_ARENA_MAX=1); peak RSS is that process's VmHWM."
        )
        print("")

        let baseline = measureBaselines(chunkSize: options.chunkSize)
        let disk = try Baselines.diskWriteFsync(blockSize: options.chunkSize, under: options.directory)
        print(
            "baselines (one core, \(BenchSupport.formatSize(UInt64(options.chunkSize))) blocks, \(BenchSupport.formatSize(baseline.bytes)) each):"
        )
        print("  SHA-256                   \(String(format: "%8.0f", baseline.sha256)) MB/s")
        print("  AES-256-GCM seal          \(String(format: "%8.0f", baseline.aesGCM)) MB/s")
        print("  byte generator            \(String(format: "%8.0f", baseline.generator)) MB/s")
        print("  disk: write+fsync files   \(String(format: "%8.0f", disk)) MB/s (one file per block, one at a time)")
        print("")
        print("size        chunks   objects   ingest s   ingest MB/s   read-back MB/s   peak RSS")

        var failed = false
        for size in options.sizes {
            if let free = BenchSupport.freeBytes(at: options.directory), free < size + size / 10 + (256 << 20) {
                print(
                    "\(BenchSupport.pad(BenchSupport.formatSize(size), 10, right: false))  skipped: \(BenchSupport.formatSize(free)) free under \(options.directory)"
                )
                continue
            }
            var childArguments = [
                "ingest", "--child", String(size), "--chunk-size", String(options.chunkSize),
                "--in-flight", String(options.inFlight), "--dir", options.directory, "--sizes", String(size),
            ]
            if options.isPublic { childArguments.append("--public") }
            let (status, output) = try BenchSupport.runChild(childArguments, environment: ["MALLOC_ARENA_MAX": "1"])
            guard status == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
                print(
                    "\(BenchSupport.pad(BenchSupport.formatSize(size), 10, right: false))  failed (exit status \(status))"
                )
                failed = true
                continue
            }
            var fields: [String: String] = [:]
            for pair in line.dropFirst(7).split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            let rss = UInt64(fields["rss"] ?? "") ?? 0
            let overLimit = rss >= residentLimit
            failed = failed || overLimit
            print(
                [
                    BenchSupport.pad(BenchSupport.formatSize(size), 10, right: false),
                    BenchSupport.pad(fields["chunks"] ?? "?", 8),
                    BenchSupport.pad(fields["objects"] ?? "?", 9),
                    BenchSupport.pad(fields["ingest_s"] ?? "?", 10),
                    BenchSupport.pad(fields["ingest_mbps"] ?? "?", 13),
                    BenchSupport.pad(fields["read_mbps"] ?? "?", 16),
                    BenchSupport.pad(BenchSupport.formatSize(rss), 10)
                        + (overLimit ? "  OVER \(BenchSupport.formatSize(residentLimit))" : ""),
                ].joined(separator: " "))
        }
        print("")
        print(
            failed
                ? "FAIL: a size failed or its peak RSS reached \(BenchSupport.formatSize(residentLimit))"
                : "ok: peak RSS stayed under \(BenchSupport.formatSize(residentLimit)) at every size")
        return failed ? 1 : 0
    }

    private static func measureBaselines(
        chunkSize: Int
    ) -> (bytes: UInt64, sha256: Double, aesGCM: Double, generator: Double) {
        let total: UInt64 = 256 << 20
        let measured = UInt64((Int(total) / chunkSize) * chunkSize)
        return (
            measured, Baselines.sha256(total: total, blockSize: chunkSize),
            Baselines.aesGCM(total: total, blockSize: chunkSize),
            Baselines.generator(total: total, blockSize: chunkSize)
        )
    }

    // MARK: - Child: one ingest and read-back, then its figures on one line

    private static func child(size: UInt64, options: Options) async throws -> Int32 {
        var template = Array((options.directory + "/shoal-bench-ingest-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            BenchSupport.printError("shoal-bench ingest: cannot create a temp directory under \(options.directory)")
            return 1
        }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let objects = try await LocalObjects.open(
            directory: directory, maxStorage: nil, cacheSize: 0, logger: Logger(label: "bench"))
        let wall = NodeClock.system()
        let ingest = try FileIngest(chunkSize: options.chunkSize, maxInFlight: options.inFlight, recordObjectIDs: false)
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await ingest.ingest(
            GeneratedBytes(size: size, seed: 7),
            into: LocalObjectSink(objects: objects, now: { wall.wallNow }),
            encryption: options.isPublic ? .public : .private())
        let ingestTime = clock.now - start
        guard result.size == size, objects.chunks.objectCount == result.objectCount else {
            BenchSupport.printError(
                "shoal-bench ingest: the store holds \(objects.chunks.objectCount) objects; the ingest wrote \(result.objectCount)"
            )
            await objects.close()
            return 1
        }

        // Read it back and compare with the generator's bytes, so the figure is of a verified read.
        let reader = FileReader(source: LocalObjectSource(objects: objects), maxInFlight: options.inFlight)
        var expected = GeneratedBytes(size: size, seed: 7).makeAsyncIterator()
        var pending = ByteBuffer()
        var mismatch = false
        let readStart = clock.now
        let read = try await reader.read(result.address) { buffer in
            var buffer = buffer
            while buffer.readableBytes > 0 {
                if pending.readableBytes == 0, let next = await expected.next() { pending = next }
                let n = min(buffer.readableBytes, pending.readableBytes)
                guard n > 0 else {
                    mismatch = true
                    return
                }
                if buffer.readSlice(length: n) != pending.readSlice(length: n) { mismatch = true }
            }
        }
        let readTime = clock.now - readStart
        await objects.close()
        guard read == size, !mismatch else {
            BenchSupport.printError(
                "shoal-bench ingest: read back \(read) bytes\(mismatch ? " that differ from what was written" : "")")
            return 1
        }

        let rss = BenchSupport.peakResidentBytes() ?? 0
        print(
            "RESULT size=\(size) chunks=\(result.chunkCount) objects=\(result.objectCount)"
                + " ingest_s=\(String(format: "%.2f", BenchSupport.seconds(ingestTime)))"
                + " ingest_mbps=\(String(format: "%.1f", BenchSupport.megabytesPerSecond(size, ingestTime)))"
                + " read_mbps=\(String(format: "%.1f", BenchSupport.megabytesPerSecond(size, readTime)))"
                + " rss=\(rss)")
        return 0
    }
}
