import Foundation
import ShoalCore
import ShoalNode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A running `shoal node` process as the tests see it.
struct ClusterNode: Sendable {
    /// A short label for messages and log file names (`n0`, `n1`, `joiner`…).
    let name: String
    let dataDirectory: URL
    /// The peer address's host: 127.0.0.1, or the node's address in its network namespace.
    var host = "127.0.0.1"
    let listenPort: Int
    let process: NodeProcess
    let api: NodeAPI
    /// Lowercase hex NodeID, as `/v1/status` reports it.
    let nodeID: String
    let log: URL

    var listenAddress: String { "\(host):\(listenPort)" }
    var shortID: String { String(nodeID.prefix(8)) }
}

/// Starts `shoal node` processes on 127.0.0.1, each with its own data directory under one
/// temporary root, and keeps a registry of every process it started so that ``shutdownAll()``
/// can end exactly those (SIGTERM, a bounded wait, then SIGKILL).
final class LocalCluster: @unchecked Sendable {
    /// Temporary root: `<name>/` data directories and `logs/`.
    let root: URL
    let binary: URL
    let protocolPeriodMs: Int
    let repairIntervalSeconds: Int
    let logLevel: String
    private let lock = NSLock()
    private var processes: [NodeProcess] = []
    private var launches = 0

    /// - Throws: when `.build/debug/shoal` is missing (build it first).
    init(protocolPeriodMs: Int = 1000, repairIntervalSeconds: Int = 2) throws {
        binary = try Self.locateBinary()
        root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "shoal-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("logs"), withIntermediateDirectories: true)
        self.protocolPeriodMs = protocolPeriodMs
        self.repairIntervalSeconds = repairIntervalSeconds
        logLevel = ProcessInfo.processInfo.environment["SHOAL_CLUSTER_LOG_LEVEL"] ?? "info"
    }

    /// `<repo>/.build/debug/shoal`, found from this file's path, or `SHOAL_BINARY`.
    static func locateBinary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SHOAL_BINARY"] { return URL(fileURLWithPath: path) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let binary = repo.appendingPathComponent(".build/debug/shoal")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ClusterError(
                "the shoal executable is missing at \(binary.path): run 'swift build --build-tests' (or 'swift build --product shoal') first, or set SHOAL_BINARY"
            )
        }
        return binary
    }

    /// Starts one node and waits until its API answers.
    /// - Parameters:
    ///   - name: label; also the data directory's name unless `dataDirectory` is given.
    ///   - dataDirectory: reuse a data directory (restart); a fresh one otherwise.
    ///   - port: the peer port; a free one is picked otherwise (and picked again if taken).
    ///   - bootstrap: `host:port` peers to join through.
    ///   - arguments: more `shoal node` options (resource limits, chunk size…).
    ///   - descriptorLimit: run the node with `ulimit -n` set to this.
    ///   - namespace: run the node in this network namespace (`ip netns exec`, which becomes the
    ///     node, so the PID is the node's), listening on `host` there and with its API on `apiHost`.
    func launch(
        _ name: String, dataDirectory: URL? = nil, port: Int? = nil, bootstrap: [String] = [],
        arguments extra: [String] = [], descriptorLimit: Int? = nil,
        namespace: (name: String, host: String, apiHost: String)? = nil
    ) async throws -> ClusterNode {
        let dir = dataDirectory ?? root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lastFailure = ""
        for _ in 0..<4 {
            let listenPort = try port ?? Self.freePort()
            // A crashed node leaves its API file behind; the new process writes a fresh one.
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("api"))
            let launchNumber = lock.withLock { () -> Int in
                launches += 1
                return launches
            }
            let log = root.appendingPathComponent("logs/\(name).\(launchNumber).log")
            let host = namespace?.host ?? "127.0.0.1"
            var arguments = [
                "node", "--listen", "\(host):\(listenPort)", "--data", dir.path, "--api",
                "\(namespace?.apiHost ?? "127.0.0.1"):0",
                "--protocol-period-ms", "\(protocolPeriodMs)", "--repair-interval", "\(repairIntervalSeconds)",
                "--log-level", logLevel,
            ]
            for peer in bootstrap { arguments += ["--bootstrap", peer] }
            // An API off loopback requires a token.
            let token = namespace.map { _ in Self.apiToken }
            if let token { arguments += ["--api-token", token] }
            arguments += extra
            let process: NodeProcess
            if let descriptorLimit {
                // `ulimit -n` in a shell that then becomes the node (exec), so the PID is the node's.
                let quoted = ([binary.path] + arguments).map { "'\($0.replacingOccurrences(of: "'", with: "'\\''"))'" }
                    .joined(separator: " ")
                process = try NodeProcess(
                    executable: URL(fileURLWithPath: "/bin/sh"),
                    arguments: ["-c", "ulimit -n \(descriptorLimit) && exec \(quoted)"], log: log)
            } else if let namespace {
                process = try NodeProcess(
                    executable: URL(fileURLWithPath: "/usr/sbin/ip"),
                    arguments: ["netns", "exec", namespace.name, binary.path] + arguments, log: log)
            } else {
                process = try NodeProcess(executable: binary, arguments: arguments, log: log)
            }
            lock.withLock { processes.append(process) }
            if let found = try await waitForAPIFile(in: dir, of: process, within: .seconds(60)) {
                let api = NodeAPI(address: found.address, token: token)
                let status = try await poll("\(name)'s /v1/status", every: .milliseconds(100), within: .seconds(60)) {
                    try? await api.status()
                }
                return ClusterNode(
                    name: name, dataDirectory: dir, host: host, listenPort: listenPort, process: process, api: api,
                    nodeID: status.nodeID, log: log)
            }
            lastFailure = Self.tail(of: log)
            process.send(SIGKILL)
            _ = await process.waitForExit(within: .seconds(5))
            guard port == nil, lastFailure.contains("cannot listen") else { break }
        }
        throw ClusterError("node \(name) did not start; its log ends with:\n\(lastFailure)")
    }

    /// SIGKILL: a crash, no hand-off. Waits (bounded) until the process is gone.
    func crash(_ node: ClusterNode) async throws {
        node.process.send(SIGKILL)
        guard await node.process.waitForExit(within: .seconds(10)) else {
            throw ClusterError("node \(node.name) (pid \(node.process.pid)) still runs 10 s after SIGKILL")
        }
    }

    /// SIGTERM: a graceful leave with hand-off. Waits up to `limit` for the process to exit.
    /// - Returns: the exit status, `nil` when it did not exit in time.
    func stop(_ node: ClusterNode, within limit: Duration) async -> Int32? {
        node.process.send(SIGTERM)
        guard await node.process.waitForExit(within: limit) else { return nil }
        return node.process.exit?.status
    }

    /// Ends every process this cluster started and that still runs: SIGTERM, up to 5 s, then SIGKILL.
    func shutdownAll() async {
        let running = lock.withLock { processes.filter(\.isRunning) }
        for p in running { p.send(SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(5)
        for p in running {
            let left = deadline - ContinuousClock.now
            let exited = left > .zero ? await p.waitForExit(within: left) : !p.isRunning
            if !exited { p.send(SIGKILL) }
        }
        for p in running { _ = await p.waitForExit(within: .seconds(5)) }
    }

    /// Removes the temporary root (data directories and logs).
    func removeFiles() {
        try? FileManager.default.removeItem(at: root)
    }

    /// Counts lines containing `text` in every log written so far.
    func countLogLines(containing text: String) -> [String: Int] {
        let logs =
            (try? FileManager.default.contentsOfDirectory(
                at: root.appendingPathComponent("logs"), includingPropertiesForKeys: nil)) ?? []
        var out: [String: Int] = [:]
        for log in logs {
            let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
            out[log.lastPathComponent] = lines.filter { $0.contains(text) }.count
        }
        return out
    }

    /// The API token of nodes whose API is off loopback.
    static let apiToken = "shoal-cluster-test-\(UUID().uuidString.prefix(8))"

    // MARK: Helpers

    private func waitForAPIFile(in dir: URL, of process: NodeProcess, within limit: Duration) async throws -> NodeAPI? {
        let file = dir.appendingPathComponent("api")
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: file, encoding: .utf8) {
                let address = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !address.isEmpty { return NodeAPI(address: address) }
            }
            if !process.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    static func tail(of log: URL, lines: Int = 15) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? "(no log at \(log.path))"
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    static func freePort() throws -> Int {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ClusterError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw ClusterError("bind() to 127.0.0.1:0 failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw ClusterError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A cluster test could not proceed; says what was awaited or what failed.
struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Calls `attempt` every `interval` until it returns a value; throws after `limit` (a bound on
/// waiting, not an assertion about speed).
func poll<T>(
    _ what: String, every interval: Duration, within limit: Duration,
    _ attempt: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let value = try await attempt() { return value }
        guard ContinuousClock.now < deadline else { throw ClusterError("timed out after \(limit) waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

/// Kademlia placement computed by the test from NodeIDs, independently of any node.
enum XORPlacement {
    /// The `count` IDs of `ids` closest to `object` by XOR distance, closest first.
    static func closest(to object: String, among ids: [String], count: Int) -> [String] {
        guard let target = Key256(hex: object) else { return [] }
        let keyed = ids.compactMap { id in Key256(hex: id).map { (id, $0) } }
        return keyed.sorted { target.isCloser($0.1, than: $1.1) }.prefix(count).map(\.0)
    }
}

extension Duration {
    /// Seconds as a Double, for printing.
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// A small deterministic generator for file contents (SplitMix64).
struct ContentGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            withUnsafeBytes(of: next()) { out.append(contentsOf: $0) }
        }
        return Array(out.prefix(count))
    }
}
