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
                    BenchSupport.printError("shoal-bench: interrupted; stopping the nodes it started and removing its temp dirs")
                    cleanUpEverything()
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
    func remove(directory: String) { _ = lock.withLock { directories.remove(directory) } }

    /// Kills every registered process that still runs (SIGKILL, by PID) and removes every
    /// registered directory.
    func cleanUpEverything() {
        let (running, dirs) = lock.withLock { (Array(processes.values), Array(directories)) }
        for process in running where process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
        for process in running { process.waitUntilExit() }
        for directory in dirs { try? FileManager.default.removeItem(atPath: directory) }
        lock.withLock {
            processes.removeAll()
            directories.removeAll()
        }
    }
}
