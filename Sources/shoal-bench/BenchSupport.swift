import Foundation
import ShoalCore
import ShoalNode

/// Helpers shared by the benchmarks: sizes, formatting, memory and disk figures, child processes.
enum BenchSupport {
    /// Parses `256M`, `1G`, `4096K`, `123` (bytes); binary units.
    static func parseSize(_ text: String) -> UInt64? { ByteSize(parsing: text)?.bytes }

    /// `256 MiB`, `1 GiB`, `1.5 GiB`.
    static func formatSize(_ bytes: UInt64) -> String { ByteCountFormat.string(bytes) }

    /// Decimal megabytes per second.
    static func megabytesPerSecond(_ bytes: UInt64, _ duration: Duration) -> Double {
        let seconds = duration.inSeconds
        return seconds > 0 ? Double(bytes) / 1e6 / seconds : 0
    }

    static func seconds(_ duration: Duration) -> Double { duration.inSeconds }

    /// This process's peak resident set size in bytes (`VmHWM`), or `nil` where unavailable.
    static func peakResidentBytes() -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            #if canImport(Darwin)
            var usage = rusage()
            guard getrusage(RUSAGE_SELF, &usage) == 0 else { return nil }
            return UInt64(usage.ru_maxrss)  // bytes on Darwin
            #else
            return nil
            #endif
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let number = line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first
            return number.flatMap { UInt64($0) }.map { $0 * 1024 }
        }
        return nil
    }

    /// Peak (`VmHWM`) and current (`VmRSS`) resident set size of process `pid`, in bytes; `nil`
    /// where `/proc` is unavailable or the process is gone.
    static func residentBytes(pid: Int32) -> (peak: UInt64, current: UInt64)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> UInt64? {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                let number = line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ")
                    .first
                return number.flatMap { UInt64($0) }.map { $0 * 1024 }
            }
            return nil
        }
        guard let peak = field("VmHWM"), let current = field("VmRSS") else { return nil }
        return (peak, current)
    }

    /// The value at fraction `p` (0…1) of `sorted` (ascending), by nearest rank.
    static func percentile<T>(_ sorted: [T], _ p: Double) -> T? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// `0.412 ms`, `12.3 ms`, `1.20 s`.
    static func formatLatency(_ duration: Duration) -> String {
        let seconds = seconds(duration)
        if seconds >= 1 { return String(format: "%.2f s", seconds) }
        if seconds >= 0.01 { return String(format: "%.1f ms", seconds * 1e3) }
        return String(format: "%.3f ms", seconds * 1e3)
    }

    /// Raises this process's soft limit on open files to its hard limit.
    /// - Returns: the limit now in force.
    @discardableResult
    static func raiseOpenFileLimit() -> UInt64 {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
        }
        return UInt64(limit.rlim_cur)
    }

    /// Makes a fresh directory `<parent>/<prefix>-XXXXXX`.
    static func makeTemporaryDirectory(under parent: String, prefix: String) -> String? {
        var template = Array((parent + "/" + prefix + "-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { return nil }
        return String(cString: made)
    }

    /// The 1-, 5- and 15-minute load averages as `/proc/loadavg` gives them, e.g. `1.52 0.98 0.40`:
    /// on a shared machine, the context every figure needs.
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// The system temp directory, without a trailing slash.
    static func temporaryDirectory() -> String {
        var path = NSTemporaryDirectory()
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// Bytes available to an unprivileged user on the file system holding `path`.
    static func freeBytes(at path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// The path of this executable, for re-running it as a child.
    static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return CommandLine.arguments[0]
    }

    /// Runs this executable with `arguments` (and `environment` added to this process's) and
    /// returns its exit status and standard output (standard error passes through).
    static func runChild(
        _ arguments: [String], environment: [String: String] = [:]
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The last lines of the text file at `path` (a child's stderr), on one line, for a failure report.
    static func tail(of path: String, lines: Int = 4) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else { return "(no output)" }
        return text.split(separator: "\n").suffix(lines).joined(separator: " | ")
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
        guard text.count < width else { return text }
        let padding = String(repeating: " ", count: width - text.count)
        return right ? padding + text : text + padding
    }
}
