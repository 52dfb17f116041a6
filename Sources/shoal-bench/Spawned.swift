import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process (`shoal put`, `shoal get`) with its standard input and output as pipes, whose
/// peak RSS and CPU time come from `wait4` when it exits.
final class Spawned: @unchecked Sendable {
    let pid: pid_t
    /// Write end of the child's standard input (`nil` once closed).
    private(set) var input: Int32?
    /// Read end of the child's standard output.
    let output: Int32

    struct Exit {
        var status: Int32
        var peakResident: UInt64
        var cpuSeconds: Double
    }

    /// Starts `executable` with `arguments`; its stderr goes to `errorLog`.
    init(_ executable: String, _ arguments: [String], errorLog: String) throws {
        var stdinPipe: [Int32] = [0, 0]
        var stdoutPipe: [Int32] = [0, 0]
        guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0 else { throw ClusterError("pipe() failed: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, errorLog, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        for fd in stdinPipe + stdoutPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        guard result == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            throw ClusterError("cannot start \(executable): error \(result)")
        }
        pid = child
        input = stdinPipe[1]
        output = stdoutPipe[0]
    }

    /// Writes all of `bytes` to the child's standard input (blocking).
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let input else { throw ClusterError("the child's input is closed") }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(input, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw ClusterError("write to the child failed: errno \(errno)")
            }
            offset += n
        }
    }

    func closeInput() {
        if let input { close(input) }
        input = nil
    }

    /// Reads the child's standard output until it ends, handing each piece to `body` (blocking).
    func readAll(_ body: (UnsafeRawBufferPointer) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Waits for the child to exit.
    func wait() -> Exit {
        closeInput()
        close(output)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        let exited = (status & 0x7f) == 0
        return Exit(
            status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), peakResident: UInt64(usage.ru_maxrss) * 1024,
            cpuSeconds: cpu)
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
func cpuSeconds(of pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
