import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `shoal node` child process started by a test. Signals go to its own PID only, and only
/// while it runs.
final class NodeProcess: @unchecked Sendable {
    let pid: Int32
    private let process: Process
    private let lock = NSLock()

    /// Starts `executable` with `arguments`, its stdout and stderr appended to `log`.
    init(executable: URL, arguments: [String], log: URL) throws {
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: log.path])
        }
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try? output.close()
        self.process = process
        self.pid = process.processIdentifier
    }

    var isRunning: Bool { lock.withLock { process.isRunning } }

    /// The exit status, or the signal that ended it; `nil` while running.
    var exit: (status: Int32, bySignal: Bool)? {
        lock.withLock {
            process.isRunning ? nil : (process.terminationStatus, process.terminationReason == .uncaughtSignal)
        }
    }

    /// How many file descriptors the process has open (sockets included); `nil` where `/proc`
    /// is unavailable or the process has exited.
    var openFileDescriptors: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// The process's resident set size now and at its peak (`VmRSS`, `VmHWM` in `/proc/PID/status`),
    /// in bytes; `nil` where `/proc` is unavailable or the process has exited.
    var memory: (resident: UInt64, peak: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> UInt64? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return line.split(separator: " ").compactMap { UInt64($0) }.first.map { $0 * 1024 }
        }
        guard let resident = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (resident, peak)
    }

    /// Sends `signal` (SIGTERM, SIGKILL) if the process still runs.
    func send(_ signal: Int32) {
        lock.withLock {
            if process.isRunning { _ = kill(pid, signal) }
        }
    }

    /// Waits until the process has exited, polling every 50 ms.
    /// - Returns: `true` when it exited within `limit`.
    func waitForExit(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }
}
