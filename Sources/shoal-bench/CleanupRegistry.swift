import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The child processes and temporary directories a benchmark has made, so that an interrupt
/// (SIGINT, SIGTERM) still ends those processes — by PID, only these — and removes those
/// directories before the benchmark exits.
final class CleanupRegistry: @unchecked Sendable {
    static let shared = CleanupRegistry()

    private let lock = NSLock()
    private var processes: [Int32: Process] = [:]
    private var directories: Set<String> = []
    private var sources: [any DispatchSourceSignal] = []

    /// Installs the SIGINT/SIGTERM handlers (once).
    func installSignalHandlers() {
        lock.withLock {
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [self] in
                    BenchSupport.printError(
                        "shoal-bench: interrupted; stopping the nodes it started and removing its temp dirs")
                    // Holds the cleanup lock through exit, so that the benchmark cannot exit (or
                    // clean up) halfway through this.
                    cleanupLock.lock()
                    cleanUpLocked()
                    exit(128 + number)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    func add(_ process: Process) { lock.withLock { processes[process.processIdentifier] = process } }
    func remove(_ process: Process) { _ = lock.withLock { processes.removeValue(forKey: process.processIdentifier) } }
    func add(directory: String) { _ = lock.withLock { directories.insert(directory) } }

    /// Removes a registered directory tree now, never at the same time as an interrupt's cleanup.
    func removeDirectory(_ path: String) {
        cleanupLock.lock()
        defer { cleanupLock.unlock() }
        Self.removeTree(path)
        _ = lock.withLock { directories.remove(path) }
    }

    /// Kills every registered process that still runs (SIGKILL, by PID) and removes every
    /// registered directory. Call it before exiting; it waits for an interrupt's cleanup in
    /// progress.
    func cleanUpEverything() {
        cleanupLock.lock()
        defer { cleanupLock.unlock() }
        cleanUpLocked()
    }

    /// Removes a directory tree, tolerating files that vanish meanwhile.
    private static func removeTree(_ path: String) {
        // Bounded: a few passes; each removes what the previous one could not.
        for _ in 0..<5 where FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    private let cleanupLock = NSLock()

    private func cleanUpLocked() {
        let (running, dirs) = lock.withLock { (Array(processes.values), Array(directories)) }
        for process in running where process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
        for process in running { process.waitUntilExit() }
        for directory in dirs { Self.removeTree(directory) }
        lock.withLock {
            processes.removeAll()
            directories.removeAll()
        }
    }
}
