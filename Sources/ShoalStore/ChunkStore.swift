import Logging
import ShoalCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Content-addressed objects (sealed chunks and manifest nodes) on local disk.
///
/// Layout under the data directory: `chunks/ab/cd/<64 hex digits>` for objects, `tmp/` for writes
/// in progress, `quarantine/` for objects found corrupt, and a `LOCK` file that keeps a second
/// process out of the same directory.
///
/// - A write goes to a fresh file in `tmp/`, is fsynced, hard-linked into place (never replacing an
///   existing object, so concurrent writers of one object are safe and counted once), and the shard
///   directory is fsynced: a crash never leaves a partial object visible. Temp files left by a crash
///   are removed by ``open(directory:maxBytes:io:logger:)``.
/// - Every read hashes the whole object and compares it with its ID. A corrupt object is moved to
///   `quarantine/`, reported as ``ChunkStoreError/Code-swift.struct/corrupt``, and never served.
/// - Bytes in use are counted on open and kept current; with `maxBytes` set, a new object that would
///   exceed it is refused (``ChunkStoreError/Code-swift.struct/capacityExceeded``) before anything is
///   written. A full disk is reported as ``ChunkStoreError/Code-swift.struct/diskFull`` and leaves
///   nothing behind.
///
/// Thread-safe. Blocking file-system calls run on a ``BlockingIOPool``, not on the cooperative pool.
public final class ChunkStore: Sendable {
    /// The largest object stored: an 8 MiB chunk plus its AEAD tag (manifest nodes are far smaller).
    public static let maximumObjectSize = Chunker.maximumChunkSize + Sealer.overhead

    /// The data directory.
    public let directory: String
    /// The byte limit for stored objects (`--max-storage`); `nil` means only the disk limits it.
    public let maxBytes: UInt64?

    let io: BlockingIOPool
    let logger: Logger
    let faults: ChunkStoreFaults

    private struct State {
        var bytesInUse: UInt64 = 0
        var objectCount = 0
        var reservedBytes: UInt64 = 0
        var nextTemp: UInt64 = 0
        var lockDescriptor: Int32 = -1
    }

    private let state: Locked<State>

    private var chunksDirectory: String { directory + "/chunks" }
    private var tempDirectory: String { directory + "/tmp" }
    private var quarantineDirectory: String { directory + "/quarantine" }

    /// Opens (creating if needed) the chunk store in `directory`: takes the directory lock, removes
    /// temp files left by a crash and counts the bytes in use.
    /// - Parameters:
    ///   - directory: the node's data directory; objects go under `chunks/` inside it.
    ///   - maxBytes: refuse new objects beyond this many stored bytes; `nil` for no limit.
    ///   - io: the threads that run blocking file-system calls.
    ///   - logger: where crash clean-up and quarantines are reported.
    /// - Returns: the open store. Call ``close()`` before opening the directory again.
    /// - Throws: ``ChunkStoreError`` with code `directoryInUse` when another process has the
    ///   directory open, or `io` when it cannot be created or read.
    public static func open(directory: String, maxBytes: UInt64? = nil, io: BlockingIOPool = .shared,
                            logger: Logger = Logger(label: "shoal.store")) async throws -> ChunkStore {
        try await open(directory: directory, maxBytes: maxBytes, io: io, logger: logger, faults: ChunkStoreFaults())
    }

    static func open(directory: String, maxBytes: UInt64? = nil, io: BlockingIOPool = .shared,
                     logger: Logger = Logger(label: "shoal.store"), faults: ChunkStoreFaults) async throws -> ChunkStore {
        let store = ChunkStore(directory: directory, maxBytes: maxBytes, io: io, logger: logger, faults: faults)
        try await io.run { try store.start() }
        return store
    }

    private init(directory: String, maxBytes: UInt64?, io: BlockingIOPool, logger: Logger, faults: ChunkStoreFaults) {
        var directory = directory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        self.directory = directory
        self.maxBytes = maxBytes
        self.io = io
        self.logger = logger
        self.faults = faults
        self.state = Locked(State())
    }

    deinit {
        let fd = state.withLock { $0.lockDescriptor }
        if fd >= 0 { Posix.close(fd) }
    }

    /// Releases the directory lock. The store must not be used afterwards.
    public func close() {
        let fd = state.withLock { state -> Int32 in
            defer { state.lockDescriptor = -1 }
            return state.lockDescriptor
        }
        if fd >= 0 { Posix.close(fd) }
    }

    // MARK: - Accounting

    /// Bytes of all stored objects.
    public var bytesInUse: UInt64 { state.withLock { $0.bytesInUse } }

    /// Number of stored objects.
    public var objectCount: Int { state.withLock { $0.objectCount } }

    // MARK: - Writing

    /// Stores one object under its content ID, durably.
    ///
    /// Idempotent: storing an object that is already present (or being stored concurrently) does
    /// nothing more and counts its bytes once.
    /// - Parameters:
    ///   - bytes: the object as stored (sealed bytes for private files); at most
    ///     ``maximumObjectSize`` bytes.
    ///   - id: the object's ID, which must be SHA-256 of `bytes`.
    /// - Returns: `true` when this call stored the object, `false` when it was already present.
    /// - Throws: ``ChunkStoreError`` with code `hashMismatch`, `objectTooLarge`, `capacityExceeded`,
    ///   `diskFull` or `io`. After any error no partial object is visible.
    @discardableResult
    public func put(_ bytes: [UInt8], id: ContentID) async throws -> Bool {
        guard bytes.count <= Self.maximumObjectSize else {
            throw ChunkStoreError(.objectTooLarge, id: id,
                                  "object \(id.short) is \(bytes.count) bytes; objects are at most \(Self.maximumObjectSize) bytes (an 8 MiB chunk plus its tag): it was not stored")
        }
        return try await io.run { try self.putBlocking(bytes, id: id) }
    }

    private func putBlocking(_ bytes: [UInt8], id: ContentID) throws -> Bool {
        let actual = Key256.sha256(of: bytes)
        guard actual == id else {
            throw ChunkStoreError(.hashMismatch, id: id,
                                  "refused object \(id.short): its \(bytes.count) bytes hash to \(actual.short); the sender must resend the right bytes")
        }
        let destination = objectPath(id)
        if try wrapIO({ try Posix.fileSize(destination) }, id: id) != nil { return false }

        let size = UInt64(bytes.count)
        let tempName = try reserve(size, for: id)
        var stored = false
        defer {
            state.withLock { state in
                state.reservedBytes -= size
                if stored {
                    state.bytesInUse += size
                    state.objectCount += 1
                }
            }
        }
        let temp = tempDirectory + "/" + tempName
        do {
            let fd = try Posix.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
            do {
                try Posix.writeAll(fd, bytes, path: temp, failAfter: faults.failWritesAfterBytes)
                try Posix.fsync(fd, path: temp)
            } catch {
                Posix.close(fd)
                throw error
            }
            Posix.close(fd)
            let shard = try makeShardDirectories(id)
            stored = try Posix.linkUnlessExists(temp, destination)
            if stored { try Posix.fsyncDirectory(shard) }
            _ = try? Posix.unlink(temp)
            return stored
        } catch {
            _ = try? Posix.unlink(temp)
            throw mapWriteError(error, id: id, size: bytes.count)
        }
    }

    /// Reserves room for `size` new bytes against `maxBytes`.
    /// - Returns: a unique temp file name for the write.
    private func reserve(_ size: UInt64, for id: ContentID) throws -> String {
        try state.withLock { state in
            if let maxBytes, state.bytesInUse + state.reservedBytes + size > maxBytes {
                throw ChunkStoreError(.capacityExceeded, id: id,
                                      "storage limit reached: object \(id.short) (\(size) bytes) would bring the chunk store to \(state.bytesInUse + state.reservedBytes + size) of its \(maxBytes)-byte limit (--max-storage); it was not stored. Delete files or raise --max-storage")
            }
            state.reservedBytes += size
            state.nextTemp += 1
            return "\(id.hex).\(getpid()).\(state.nextTemp).tmp"
        }
    }

    /// Creates `chunks/ab` and `chunks/ab/cd` for `id` when missing, fsyncing each parent whose
    /// entries changed. - Returns: the `chunks/ab/cd` path.
    private func makeShardDirectories(_ id: ContentID) throws -> String {
        let hex = id.hex
        let outer = chunksDirectory + "/" + hex.prefix(2)
        let inner = outer + "/" + hex.dropFirst(2).prefix(2)
        if try Posix.fileSize(inner) == nil {
            if try Posix.makeDirectory(outer) { try Posix.fsyncDirectory(chunksDirectory) }
            if try Posix.makeDirectory(inner) { try Posix.fsyncDirectory(outer) }
        }
        return inner
    }

    private func mapWriteError(_ error: any Error, id: ContentID, size: Int) -> any Error {
        guard let error = error as? SystemCallError else { return error }
        if error.isNoSpace {
            return ChunkStoreError(.diskFull, id: id,
                                   "the disk holding \(directory) is full: object \(id.short) (\(size) bytes) was not stored and nothing partial was kept. Free disk space, or set --max-storage below the free space so the node refuses new chunks before the disk fills")
        }
        return ChunkStoreError(.io, id: id, "could not store object \(id.short) in \(directory): \(error); nothing partial was kept. Check the directory's permissions and the disk")
    }

    // MARK: - Reading

    /// Reads a whole object, verified against its ID.
    /// - Parameter id: the object's content ID.
    /// - Returns: the object's bytes, whose SHA-256 is `id`.
    /// - Throws: ``ChunkStoreError`` with code `notFound`, `corrupt` (the object was quarantined and
    ///   is no longer held: fetch it again from another node) or `io`.
    public func get(_ id: ContentID) async throws -> [UInt8] {
        try await io.run { try self.getBlocking(id) }
    }

    /// Reads part of an object (for `GetChunk`). The whole object is verified before any of it is
    /// returned.
    /// - Parameters:
    ///   - id: the object's content ID.
    ///   - offset: the first byte to return.
    ///   - length: how many bytes to return at most; `0` means to the end (as in `GetChunk`).
    /// - Returns: the bytes of the range (shorter than `length` at the end of the object) and the
    ///   object's full size.
    /// - Throws: ``ChunkStoreError`` as ``get(_:)``, or `rangeOutOfBounds` when `offset` is past the
    ///   end.
    public func read(_ id: ContentID, offset: UInt64, length: UInt64) async throws -> ChunkSlice {
        let bytes = try await get(id)
        let total = UInt64(bytes.count)
        guard offset <= total else {
            throw ChunkStoreError(.rangeOutOfBounds, id: id,
                                  "offset \(offset) is past the end of object \(id.short), which has \(total) bytes; ask for an offset below \(total)")
        }
        let end = length == 0 ? total : min(total, offset + min(length, total))
        return ChunkSlice(data: Array(bytes[Int(offset)..<Int(end)]), offset: offset, totalSize: total)
    }

    private func getBlocking(_ id: ContentID) throws -> [UInt8] {
        let path = objectPath(id)
        let fd: Int32
        do {
            fd = try Posix.open(path, O_RDONLY)
        } catch let error as SystemCallError where error.errno == ENOENT || error.errno == ENOTDIR {
            throw ChunkStoreError(.notFound, id: id, "object \(id.short) is not held by this node")
        } catch {
            throw ChunkStoreError(.io, id: id, "could not read object \(id.short): \(error)")
        }
        defer { Posix.close(fd) }
        let bytes: [UInt8]? = try wrapIO({
            let size = try Posix.fileSize(fd: fd, path: path)
            guard size <= UInt64(Self.maximumObjectSize) else { return nil }
            return try Posix.readAll(fd, count: Int(size), path: path)
        }, id: id)
        guard let bytes, Key256.sha256(of: bytes) == id else {
            try quarantine(id)
            throw ChunkStoreError(.corrupt, id: id,
                                  "object \(id.short) was corrupt on disk (its bytes no longer match its hash); it was moved to \(quarantineDirectory) and is no longer held. Fetch it again from another node or re-upload the file")
        }
        return bytes
    }

    /// Moves a corrupt object out of `chunks/` so that it is never served again.
    private func quarantine(_ id: ContentID) throws {
        let path = objectPath(id)
        guard let size = try wrapIO({ try Posix.fileSize(path) }, id: id) else { return }
        try wrapIO({ try Posix.rename(path, self.quarantineDirectory + "/" + id.hex) }, id: id)
        state.withLock { state in
            state.bytesInUse -= min(state.bytesInUse, size)
            state.objectCount = max(0, state.objectCount - 1)
        }
        logger.warning("object failed verification and was quarantined", metadata: ["chunk.id": "\(id.hex)", "chunk.size": "\(size)"])
    }

    // MARK: - Queries and deletion

    /// Whether the store holds `id` (without verifying it).
    public func contains(_ id: ContentID) async throws -> Bool {
        try await size(of: id) != nil
    }

    /// The stored size of `id`, or `nil` when it is not held.
    public func size(of id: ContentID) async throws -> UInt64? {
        let path = objectPath(id)
        return try await io.run { try self.wrapIO({ try Posix.fileSize(path) }, id: id) }
    }

    /// Removes an object.
    /// - Returns: `true` when it was removed, `false` when it was not held.
    @discardableResult
    public func delete(_ id: ContentID) async throws -> Bool {
        let path = objectPath(id)
        return try await io.run {
            try self.wrapIO({
                guard let size = try Posix.fileSize(path), try Posix.unlink(path) else { return false }
                self.state.withLock { state in
                    state.bytesInUse -= min(state.bytesInUse, size)
                    state.objectCount = max(0, state.objectCount - 1)
                }
                return true
            }, id: id)
        }
    }

    /// The IDs of the objects whose first byte is `shard` (about 1/256 of the store), for repair
    /// scans that walk the store a slice at a time.
    public func ids(inShard shard: UInt8) async throws -> [ContentID] {
        try await io.run {
            try self.wrapIO({ try self.scanShard(shard).map(\.id) }, id: nil)
        }
    }

    /// The IDs of every object held, in no particular order.
    public func allIDs() async throws -> [ContentID] {
        var out: [ContentID] = []
        for shard in 0...255 {
            out += try await ids(inShard: UInt8(shard))
        }
        return out
    }

    // MARK: - Start-up

    private func start() throws {
        try wrapIO({
            try Posix.makeDirectory(directory)
            guard let fd = try Posix.lockFile(directory + "/LOCK") else {
                throw ChunkStoreError(.directoryInUse, id: nil,
                                      "the data directory \(directory) is in use by another Shoal process; stop it or choose another --data directory")
            }
            state.withLock { $0.lockDescriptor = fd }
            for path in [chunksDirectory, tempDirectory, quarantineDirectory] { try Posix.makeDirectory(path) }

            var removed = 0
            for name in try Posix.directoryEntries(tempDirectory) {
                if try Posix.unlink(tempDirectory + "/" + name) { removed += 1 }
            }
            if removed > 0 {
                logger.notice("removed temp files of interrupted writes", metadata: ["store.temp_files": "\(removed)"])
            }

            var bytes: UInt64 = 0
            var count = 0
            for shard in 0...255 {
                for object in try scanShard(UInt8(shard)) {
                    bytes += object.size
                    count += 1
                }
            }
            state.withLock { state in
                state.bytesInUse = bytes
                state.objectCount = count
            }
        }, id: nil)
    }

    private func scanShard(_ shard: UInt8) throws -> [(id: ContentID, size: UInt64)] {
        let outerName = Self.hexByte(shard)
        let outer = chunksDirectory + "/" + outerName
        var out: [(id: ContentID, size: UInt64)] = []
        for innerName in try Posix.directoryEntries(outer) where innerName.utf8.count == 2 {
            let inner = outer + "/" + innerName
            for name in try Posix.directoryEntries(inner) {
                guard let id = Key256(hex: name), id.hex == name,
                      name.hasPrefix(outerName + innerName),
                      let size = try Posix.fileSize(inner + "/" + name) else { continue }
                out.append((id, size))
            }
        }
        return out
    }

    // MARK: - Paths and helpers

    /// Where `id` lives: `<directory>/chunks/ab/cd/<hex>`.
    public func objectPath(_ id: ContentID) -> String {
        let hex = id.hex
        return chunksDirectory + "/" + hex.prefix(2) + "/" + hex.dropFirst(2).prefix(2) + "/" + hex
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }

    private func wrapIO<T>(_ body: () throws -> T, id: ContentID?) throws -> T {
        do {
            return try body()
        } catch let error as SystemCallError {
            let subject = id.map { "object \($0.short)" } ?? "the chunk store"
            throw ChunkStoreError(.io, id: id, "file-system error on \(subject) in \(directory): \(error). Check the directory's permissions and the disk")
        }
    }
}

/// Part of a stored object, as `GetChunk` returns it.
public struct ChunkSlice: Sendable, Hashable {
    /// The bytes of the range.
    public var data: [UInt8]
    /// Where the range starts in the object.
    public var offset: UInt64
    /// The object's full size.
    public var totalSize: UInt64
}

/// Failures a test can inject into a chunk store.
struct ChunkStoreFaults: Sendable {
    /// Simulates a full disk: a write fails with `ENOSPC` after this many bytes of an object.
    var failWritesAfterBytes: Int? = nil
}
