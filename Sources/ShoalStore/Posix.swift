#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which call, on which path, with which `errno`.
struct SystemCallError: Error, CustomStringConvertible {
    let call: String
    let path: String
    let errno: Int32

    var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }

    var description: String {
        "\(call)(\(path)) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Thin, retrying wrappers around the blocking POSIX calls the chunk store makes.
enum Posix {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            #if canImport(Darwin)
            let fd = Darwin.open(path, flags | O_CLOEXEC, mode)
            #else
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            #endif
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw SystemCallError(call: "open", path: path, errno: errno)
        }
    }

    static func close(_ fd: Int32) {
        #if canImport(Darwin)
        _ = Darwin.close(fd)
        #else
        _ = Glibc.close(fd)
        #endif
    }

    /// Writes all of `bytes`, or throws. `failAfter` simulates a full disk after that many bytes
    /// (tests only).
    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer, path: String, failAfter: Int? = nil) throws {
        var offset = 0
        while offset < raw.count {
            var want = raw.count - offset
            if let failAfter {
                guard offset < failAfter else {
                    throw SystemCallError(call: "write", path: path, errno: ENOSPC)
                }
                want = min(want, failAfter - offset)
            }
            let n = write(fd, raw.baseAddress! + offset, want)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// Reads up to `raw.count` bytes at `offset` with `pread`. - Returns: the bytes read (fewer at
    /// the end of the file).
    static func read(
        _ fd: Int32, into raw: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String
    ) throws -> Int {
        var done = 0
        while done < raw.count {
            let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "pread", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Makes a file's data durable (and the metadata needed to read it back).
    static func fdatasync(_ fd: Int32, path: String) throws {
        while true {
            #if canImport(Darwin)
            let rc = Darwin.fsync(fd)
            #else
            let rc = Glibc.fdatasync(fd)
            #endif
            if rc == 0 { return }
            if errno == EINTR { continue }
            throw SystemCallError(call: "fdatasync", path: path, errno: errno)
        }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        while true {
            #if canImport(Darwin)
            let rc = Darwin.fsync(fd)
            #else
            let rc = Glibc.fsync(fd)
            #endif
            if rc == 0 { return }
            if errno == EINTR { continue }
            throw SystemCallError(call: "fsync", path: path, errno: errno)
        }
    }

    /// Makes a directory's entries (a rename or link into it) durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    /// Creates a directory. - Returns: `true` when it was created, `false` when it already existed.
    @discardableResult
    static func makeDirectory(_ path: String) throws -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        if errno == EEXIST { return false }
        throw SystemCallError(call: "mkdir", path: path, errno: errno)
    }

    /// The size of a regular file, or `nil` when nothing exists at `path`.
    static func fileSize(_ path: String) throws -> UInt64? {
        var info = stat()
        if stat(path, &info) == 0 { return UInt64(info.st_size) }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw SystemCallError(call: "stat", path: path, errno: errno)
    }

    static func fileSize(fd: Int32, path: String) throws -> UInt64 {
        try fileSpace(fd: fd, path: path).size
    }

    /// A file's size and the bytes its blocks take on disk.
    static func fileSpace(fd: Int32, path: String) throws -> (size: UInt64, allocated: UInt64) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCallError(call: "fstat", path: path, errno: errno) }
        return (UInt64(max(0, info.st_size)), UInt64(max(0, info.st_blocks)) * 512)
    }

    /// The size and allocation of what is at `path`, or `nil` when nothing is.
    static func fileSpace(_ path: String) throws -> (size: UInt64, allocated: UInt64)? {
        var info = stat()
        if stat(path, &info) == 0 { return (UInt64(max(0, info.st_size)), UInt64(max(0, info.st_blocks)) * 512) }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw SystemCallError(call: "stat", path: path, errno: errno)
    }

    /// Links `source` to `destination` without replacing anything.
    /// - Returns: `true` when the link was made, `false` when `destination` already existed.
    static func linkUnlessExists(_ source: String, _ destination: String) throws -> Bool {
        if link(source, destination) == 0 { return true }
        switch errno {
        case EEXIST:
            return false
        case EPERM, EOPNOTSUPP, EXDEV, EMLINK:
            // File systems without hard links: fall back to an atomic (replacing) rename.
            if try fileSize(destination) != nil { return false }
            try rename(source, destination)
            return true
        default:
            throw SystemCallError(call: "link", path: destination, errno: errno)
        }
    }

    static func rename(_ source: String, _ destination: String) throws {
        #if canImport(Darwin)
        let rc = Darwin.rename(source, destination)
        #else
        let rc = Glibc.rename(source, destination)
        #endif
        guard rc == 0 else { throw SystemCallError(call: "rename", path: source, errno: errno) }
    }

    /// Removes a file. - Returns: `false` when it did not exist.
    @discardableResult
    static func unlink(_ path: String) throws -> Bool {
        #if canImport(Darwin)
        let rc = Darwin.unlink(path)
        #else
        let rc = Glibc.unlink(path)
        #endif
        if rc == 0 { return true }
        if errno == ENOENT { return false }
        throw SystemCallError(call: "unlink", path: path, errno: errno)
    }

    /// Bytes available to an unprivileged user on the file system holding `path`.
    static func freeSpace(_ path: String) throws -> UInt64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw SystemCallError(call: "statvfs", path: path, errno: errno) }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Takes an exclusive advisory lock on `path` (created if needed) and returns its descriptor.
    /// - Returns: `nil` when another open file description holds the lock.
    static func lockFile(_ path: String) throws -> Int32? {
        let fd = try open(path, O_RDWR | O_CREAT, mode: 0o600)
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return fd }
        let code = errno
        close(fd)
        if code == EWOULDBLOCK { return nil }
        throw SystemCallError(call: "flock", path: path, errno: code)
    }

    /// The names in a directory (without `.` and `..`); empty when it does not exist.
    static func directoryEntries(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw SystemCallError(call: "opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
