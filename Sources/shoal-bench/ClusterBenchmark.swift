import Crypto
import Foundation
import NIOConcurrencyHelpers
import ShoalNode

/// `shoal-bench cluster`: six `shoal node` processes hold the data, a seventh that stores nothing
/// (`--max-storage 1M --cache-size 0`) serves the reads. Each size is put with `shoal put -`
/// through node 1 and got with `shoal get` through node 7, both real CLI processes, the bytes
/// generated and hashed by this process, never held whole.
///
/// Beside the figures, measured in the same run: raw loopback TCP, one bare TLS 1.3 stream between
/// two processes (swift-nio-ssl), SHA-256 and AES-256-GCM on one core, and the disk's rate for
/// writing and fsyncing 1 MiB files one at a time. Per phase and node: CPU seconds per GiB and
/// the peak RSS (sampled every 50 ms); per client: peak RSS and CPU from `wait4`.
enum ClusterBenchmark {
    struct Options {
        var sizes: [UInt64] = [1 << 30, 4 << 30]
        var storageNodes = 6
        var replicas: [Int] = [3, 1]
        var isPublic = false
        var shoal: String?
        var directory = BenchSupport.temporaryDirectory()
        var baselineBytes: UInt64 = 1 << 30
    }

    static func run(_ options: Options) async -> Int32 {
        CleanupRegistry.shared.installSignalHandlers()
        do {
            return try await benchmark(options)
        } catch {
            BenchSupport.printError("shoal-bench cluster: \(error)")
            CleanupRegistry.shared.cleanUpEverything()
            return 1
        }
    }

    private static func shoalExecutable(_ options: Options) throws -> String {
        let path =
            options.shoal
            ?? URL(fileURLWithPath: BenchSupport.executablePath()).deletingLastPathComponent().appendingPathComponent(
                "shoal"
            ).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ClusterError(
                "no shoal executable at \(path): build it beside shoal-bench (swift build -c release) or pass --shoal PATH"
            )
        }
        return path
    }

    struct Baseline {
        var tcp: Double
        var tls: Double
        var sha256: Double
        var aes: Double
        var disk: Double
    }

    private static func benchmark(_ options: Options) async throws -> Int32 {
        let shoal = try shoalExecutable(options)
        print(
            "shoal-bench cluster: \(options.storageNodes) storage nodes + 1 reader that stores nothing, all shoal node processes on 127.0.0.1"
        )
        print(
            "put: `shoal put -` through node 1; get: `shoal get` through node 7; \(options.isPublic ? "public files" : "private files (AES-256-GCM)"), 1 MiB chunks"
        )
        print(
            "\(ProcessInfo.processInfo.activeProcessorCount) CPUs shared by every process (load average \(BenchSupport.loadAverage())); data under \(options.directory); MB = 10^6 bytes"
        )
        print("")
        let baseline = Baseline(
            tcp: try Baselines.loopbackTCP(total: options.baselineBytes),
            tls: try await TLSBaseline.measure(total: options.baselineBytes),
            sha256: Baselines.sha256(), aes: Baselines.aesGCM(),
            disk: try Baselines.diskWriteFsync(under: options.directory))
        print("baselines, measured now:")
        print("  loopback TCP, one socket pair                   \(String(format: "%8.0f", baseline.tcp)) MB/s")
        print("  TLS 1.3 stream between two processes (NIOSSL)   \(String(format: "%8.0f", baseline.tls)) MB/s")
        print("  SHA-256, one core                               \(String(format: "%8.0f", baseline.sha256)) MB/s")
        print("  AES-256-GCM seal, one core                      \(String(format: "%8.0f", baseline.aes)) MB/s")
        print("  disk: write + fsync 1 MiB files, one at a time  \(String(format: "%8.0f", baseline.disk)) MB/s")
        print("")
        var failed = false
        for replicas in options.replicas {
            failed = try await cluster(replicas: replicas, shoal: shoal, baseline: baseline, options: options) || failed
            print("")
        }
        print(
            failed
                ? "some sizes failed; see above"
                : "all sizes verified (SHA-256 of what node 7 served == SHA-256 of what was generated)")
        return failed ? 1 : 0
    }

    private static func cluster(replicas: Int, shoal: String, baseline: Baseline, options: Options) async throws -> Bool
    {
        guard
            let root = BenchSupport.makeTemporaryDirectory(
                under: options.directory, prefix: "shoal-bench-cluster-r\(replicas)")
        else {
            throw ClusterError("cannot create a temp directory under \(options.directory)")
        }
        CleanupRegistry.shared.add(directory: root)
        defer { CleanupRegistry.shared.removeDirectory(root) }
        var nodes: [NodeProcess] = []
        do {
            let common = ["--replicas", String(replicas), "--log-level", "warning"]
            nodes.append(
                try NodeProcess(name: "n1", executable: shoal, dataDirectory: root + "/n1", extraArguments: common))
            try await nodes[0].waitUntilServing(within: .seconds(30))
            guard let seed = nodes[0].listenAddress else { throw ClusterError("n1 reported no listen address") }
            for index in 2...options.storageNodes {
                nodes.append(
                    try NodeProcess(
                        name: "n\(index)", executable: shoal, dataDirectory: root + "/n\(index)",
                        extraArguments: common + ["--bootstrap", seed]))
            }
            for node in nodes.dropFirst() { try await node.waitUntilServing(within: .seconds(30)) }
            try await waitUntilFormed(nodes, within: .seconds(60))
            let reader = try NodeProcess(
                name: "n\(options.storageNodes + 1)", executable: shoal, dataDirectory: root + "/reader",
                extraArguments: common + ["--bootstrap", seed, "--max-storage", "1M", "--cache-size", "0"])
            nodes.append(reader)
            try await reader.waitUntilServing(within: .seconds(30))
            try await waitUntilFormed(nodes, within: .seconds(60))
            let failed = try await runSizes(
                replicas: replicas, shoal: shoal, nodes: nodes, root: root, baseline: baseline, options: options)
            for node in nodes.reversed() { await node.stop(grace: .seconds(20)) }
            return failed
        } catch {
            for node in nodes { await node.stop(grace: .seconds(2)) }
            throw error
        }
    }

    private static func runSizes(
        replicas: Int, shoal: String, nodes: [NodeProcess], root: String, baseline: Baseline,
        options: Options
    ) async throws -> Bool {
        let (writer, reader) = (nodes[0], nodes[nodes.count - 1])
        let diskShare = baseline.disk / Double(replicas)
        print(
            "r = \(replicas): \(nodes.map { "\($0.name) pid \($0.pid)" }.joined(separator: ", ")) (\(reader.name) stores nothing)"
        )
        print(
            "  put target: 80% of disk ÷ r = \(String(format: "%.0f", 0.8 * diskShare)) MB/s; get target: 35% of the TLS stream = \(String(format: "%.0f", 0.35 * baseline.tls)) MB/s and 400 MB/s"
        )
        var failed = false
        for size in options.sizes {
            let label = BenchSupport.formatSize(size)
            let needed = size * UInt64(replicas) + size / 20 + (1 << 30)
            if let free = BenchSupport.freeBytes(at: root), free < needed {
                print(
                    "  \(label): skipped, needs about \(BenchSupport.formatSize(needed)) free, \(BenchSupport.formatSize(free)) free"
                )
                continue
            }
            let seed = 7 &+ size
            // Put.
            let sampler = ResidentSampler(nodes.map(\.pid))
            let cpuBefore = nodes.map { cpuSeconds(of: $0.pid) ?? 0 }
            let started = ContinuousClock.now
            let put = try await Task.detached {
                try putFile(
                    shoal: shoal, api: writer.apiAddress!, size: size, seed: seed,
                    isPublic: options.isPublic, log: root + "/put.err")
            }.value
            let putTime = ContinuousClock.now - started
            let putPeaks = sampler.stop()
            let cpuAfterPut = nodes.map { cpuSeconds(of: $0.pid) ?? 0 }
            guard put.exit.status == 0, let address = put.address else {
                print("  \(label): put failed (exit \(put.exit.status)): \(BenchSupport.tail(of: root + "/put.err"))")
                failed = true
                continue
            }
            let lookups = (try? await writer.metric("shoal_file_placement_lookups_total")) ?? 0
            // Get.
            let getSampler = ResidentSampler(nodes.map(\.pid))
            let getStarted = ContinuousClock.now
            let get = try await Task.detached {
                try getFile(
                    shoal: shoal, api: reader.apiAddress!, address: address,
                    log: root + "/get.err")
            }.value
            let getTime = ContinuousClock.now - getStarted
            let getPeaks = getSampler.stop()
            let cpuAfterGet = nodes.map { cpuSeconds(of: $0.pid) ?? 0 }
            let verified =
                get.exit.status == 0 && get.bytes == size
                && get.digest == Array(GeneratedBytes.digest(size: size, seed: seed))
            failed = failed || !verified
            let readerHolds = (try? await reader.api?.status())?.objectsStored ?? -1
            let gib = Double(size) / Double(1 << 30)
            let putMBps = BenchSupport.megabytesPerSecond(size, putTime)
            let getMBps = BenchSupport.megabytesPerSecond(size, getTime)
            func cpu(_ after: [Double], _ before: [Double]) -> String {
                zip(after, before).map { String(format: "%.1f", ($0 - $1) / gib) }.joined(separator: " ")
            }
            func mib(_ peaks: [UInt64]) -> String { peaks.map { String($0 >> 20) }.joined(separator: " ") }
            print("  \(label):")
            print(
                "    put \(String(format: "%7.1f", putMBps)) MB/s = \(String(format: "%3.0f", 100 * putMBps / diskShare))% of disk ÷ r, \(String(format: "%.2f", putTime.inSeconds)) s; network lookups for the file: \(Int(lookups))"
            )
            print(
                "    get \(String(format: "%7.1f", getMBps)) MB/s = \(String(format: "%3.0f", 100 * getMBps / baseline.tls))% of the TLS stream, \(String(format: "%.2f", getTime.inSeconds)) s; \(verified ? "verified" : "MISMATCH: \(get.bytes) bytes, exit \(get.exit.status): \(BenchSupport.tail(of: root + "/get.err"))"); \(reader.name) holds \(readerHolds) objects"
            )
            print(
                "    CPU s/GiB, put (\(nodes.map(\.name).joined(separator: " "))): \(cpu(cpuAfterPut, cpuBefore)); client \(String(format: "%.1f", put.exit.cpuSeconds / gib))"
            )
            print(
                "    CPU s/GiB, get (\(nodes.map(\.name).joined(separator: " "))): \(cpu(cpuAfterGet, cpuAfterPut)); client \(String(format: "%.1f", get.exit.cpuSeconds / gib))"
            )
            print(
                "    peak RSS MiB, put: \(mib(putPeaks)); get: \(mib(getPeaks)); shoal put \(put.exit.peakResident >> 20), shoal get \(get.exit.peakResident >> 20)"
            )
            _ = try? await writer.api?.delete(address)
        }
        return failed
    }

    private struct PutOutcome: Sendable {
        var exit: Spawned.Exit
        var address: String?
    }

    private struct GetOutcome: Sendable {
        var exit: Spawned.Exit
        var bytes: UInt64
        var digest: [UInt8]
    }

    /// `shoal put -` fed `size` generated bytes on its standard input.
    private static func putFile(
        shoal: String, api: String, size: UInt64, seed: UInt64, isPublic: Bool, log: String
    ) throws -> PutOutcome {
        var arguments = ["put", "-", "--api", api]
        if isPublic { arguments.append("--public") }
        let child = try Spawned(shoal, arguments, errorLog: log)
        let output = NIOLockedValueBox("")
        let reader = Thread {
            var text = ""
            child.readAll { text += String(decoding: $0, as: UTF8.self) }
            output.withLockedValue { $0 = text }
        }
        reader.start()
        var state = seed
        var remaining = size
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while remaining > 0 {
            let n = Int(min(UInt64(buffer.count), remaining))
            buffer.withUnsafeMutableBytes {
                GeneratedBytes.fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), state: &state)
            }
            do {
                try buffer.withUnsafeBytes { try child.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } catch {
                break
            }
            remaining -= UInt64(n)
        }
        child.closeInput()
        while !reader.isFinished { usleep(1000) }
        let exit = child.wait()
        let address = output.withLockedValue { $0 }.split(separator: "\n").last.map(String.init)
        return PutOutcome(exit: exit, address: address)
    }

    /// `shoal get ADDRESS` with its standard output hashed here.
    private static func getFile(shoal: String, api: String, address: String, log: String) throws -> GetOutcome {
        let child = try Spawned(shoal, ["get", address, "--api", api], errorLog: log)
        child.closeInput()
        var hasher = SHA256()
        var bytes: UInt64 = 0
        child.readAll { piece in
            hasher.update(bufferPointer: piece)
            bytes += UInt64(piece.count)
        }
        return GetOutcome(exit: child.wait(), bytes: bytes, digest: Array(hasher.finalize()))
    }

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
}

/// Samples the RSS of some processes every 50 ms on its own thread and keeps each one's peak.
final class ResidentSampler: @unchecked Sendable {
    private let pids: [Int32]
    private let peaks: NIOLockedValueBox<[UInt64]>
    private let running = NIOLockedValueBox(true)
    private let thread: Thread

    init(_ pids: [Int32]) {
        self.pids = pids
        let peaks = NIOLockedValueBox([UInt64](repeating: 0, count: pids.count))
        let running = self.running
        self.peaks = peaks
        thread = Thread {
            while running.withLockedValue({ $0 }) {
                for (i, pid) in pids.enumerated() {
                    let now = BenchSupport.residentBytes(pid: pid)?.current ?? 0
                    peaks.withLockedValue { $0[i] = max($0[i], now) }
                }
                usleep(50_000)
            }
        }
        thread.start()
    }

    /// Stops sampling. - Returns: each process's peak RSS while sampled.
    func stop() -> [UInt64] {
        running.withLockedValue { $0 = false }
        while !thread.isFinished { usleep(1000) }
        return peaks.withLockedValue { $0 }
    }
}
