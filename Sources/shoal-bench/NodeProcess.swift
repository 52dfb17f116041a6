import Foundation
import ShoalNode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One real `shoal node` process started by `shoal-bench cluster`: its own data directory, a peer
/// port picked by the kernel on 127.0.0.1, its HTTP API on 127.0.0.1 (port 0, read back from
/// `DATA/api`), its output in `DATA/node.log`.
final class NodeProcess: @unchecked Sendable {
    let name: String
    let dataDirectory: String
    let process: Process
    private(set) var api: APIClient?
    /// The API's `host:port`, as `shoal --api` takes it.
    private(set) var apiAddress: String?
    private(set) var listenAddress: String?

    var pid: Int32 { process.processIdentifier }
    var logPath: String { dataDirectory + "/node.log" }

    /// Starts the node.
    /// - Parameters:
    ///   - executable: the `shoal` binary.
    ///   - extraArguments: appended to `node --listen 127.0.0.1:0 --data DIR --api 127.0.0.1:0`.
    init(name: String, executable: String, dataDirectory: String, extraArguments: [String]) throws {
        self.name = name
        self.dataDirectory = dataDirectory
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dataDirectory + "/node.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDirectory + "/node.log"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            ["node", "--listen", "127.0.0.1:0", "--data", dataDirectory, "--api", "127.0.0.1:0"] + extraArguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
        self.process = process
        CleanupRegistry.shared.add(process)
    }

    /// Waits (at most `limit`) for the node to write its API address, then asks it for its peer
    /// listen address.
    /// - Throws: ``ClusterError`` when the process exits or the API does not come up in time.
    func waitUntilServing(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        let apiFile = dataDirectory + "/api"
        // Bounded by the deadline.
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw ClusterError(
                    "\(name) exited with status \(process.terminationStatus) while starting:\n\(logTail())")
            }
            if let text = try? String(contentsOfFile: apiFile, encoding: .utf8),
                case let address = text.trimmingCharacters(in: .whitespacesAndNewlines), !address.isEmpty
            {
                let client = APIClient(address: address)
                if let status = try? await client.status() {
                    api = client
                    apiAddress = address
                    listenAddress = status.listenAddress
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClusterError("\(name) did not serve its API within \(limit):\n\(logTail())")
    }

    /// Peak and current RSS of the node process.
    var resident: (peak: UInt64, current: UInt64)? { BenchSupport.residentBytes(pid: pid) }

    /// A counter or gauge from the node's `/metrics`, e.g. `shoal_served_bytes_total`.
    func metric(_ name: String) async throws -> Double {
        guard let api else { throw ClusterError("\(self.name) is not serving") }
        let text = try await api.rawJSON("/metrics")
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            if let value = Double(line.dropFirst(name.count + 1)) { return value }
        }
        throw ClusterError("\(self.name)'s /metrics has no \(name)")
    }

    /// Sends SIGTERM (graceful leave), waits up to `grace`, then SIGKILL. Signals go to this
    /// process's PID only.
    func stop(grace: Duration) async {
        if process.isRunning { _ = kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { _ = kill(pid, SIGKILL) }
        process.waitUntilExit()
        CleanupRegistry.shared.remove(process)
    }

    /// The last lines of the node's log.
    func logTail(lines: Int = 15) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "(no log at \(logPath))" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).map { "    " + $0 }.joined(
            separator: "\n")
    }
}

struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
