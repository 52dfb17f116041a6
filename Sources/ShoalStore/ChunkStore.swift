import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ShoalCore
import ShoalFile

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
/// - A write is two steps. ``stage(_:id:verifyHash:)`` reserves room and writes the bytes to a
///   fresh file in `tmp/`; ``publish(_:durable:)`` makes a batch of staged objects visible: each
///   file's data is synced (when durable), hard-linked into place (never replacing an existing
///   object, so concurrent writers of one object are safe and counted once), and each shard
///   directory that gained an entry is synced once for the whole batch. A crash never leaves a
///   partial object visible; temp files left by a crash are removed on open.
/// - Reads can verify: ``get(_:)`` and verifying ``read(_:offset:length:verify:)`` hash the whole
///   object; a corrupt object is moved to `quarantine/`, reported as `corrupt`, and never served.
/// - Space is counted as the disk counts it: the blocks each object's file takes, the shard
///   directories, and (through ``setExternalBytes(_:)``) the metadata database. With `maxBytes`
///   set, an object that would bring the total beyond it is refused before anything is written.
///   A full disk is reported as `diskFull` and leaves nothing behind.
///
/// Thread-safe. Blocking file-system calls run on ``BlockingIO/pool`` (an `NIOThreadPool`), not on the
/// cooperative pool.
public final class ChunkStore: Sendable {
    /// The largest object stored: an 8 MiB chunk plus its AEAD tag (manifest nodes are far smaller).
    public static let maximumObjectSize = ObjectSize.maximum
    /// The allocation unit assumed before a write (the file system reports the truth after it).
    static let blockSize: UInt64 = 4096

    /// The data directory.
    public let directory: String
    /// The byte limit for everything the node stores (`--max-storage`); `nil` means only the disk limits it.
    public let maxBytes: UInt64?

    let io: NIOThreadPool
    let logger: Logger
    let faults: ChunkStoreFaults

    private struct State {
        /// Allocated bytes of object files and shard directories.
        var bytesInUse: UInt64 = 0
        var objectCount = 0
        var reservedBytes: UInt64 = 0
        /// Bytes the owner counts against the limit too (the metadata database).
        var externalBytes: UInt64 = 0
        var nextTemp: UInt64 = 0
        var lockDescriptor: Int32 = -1
    }

    private let state: NIOLockedValueBox<State>

    private var chunksDirectory: String { directory + "/chunks" }
    private var tempDirectory: String { directory + "/tmp" }
    private var quarantineDirectory: String { directory + "/quarantine" }

    /// Opens (creating if needed) the chunk store in `directory`: takes the directory lock, removes
    /// temp files left by a crash and counts the bytes in use.
    /// - Parameters:
    ///   - directory: the node's data directory; objects go under `chunks/` inside it.
    ///   - maxBytes: refuse new objects beyond this many bytes on disk; `nil` for no limit.
    ///   - io: the threads that run blocking file-system calls.
    ///   - logger: where crash clean-up and quarantines are reported.
    /// - Returns: the open store. Call ``close()`` before opening the directory again.
    /// - Throws: ``ChunkStoreError`` with code `directoryInUse` when another process has the
    ///   directory open, or `io` when it cannot be created or read.
    public static func open(
        directory: String, maxBytes: UInt64? = nil, io: NIOThreadPool = BlockingIO.pool,
        logger: Logger = Logger(label: "shoal.store")
    ) async throws -> ChunkStore {
        try await open(directory: directory, maxBytes: maxBytes, io: io, logger: logger, faults: ChunkStoreFaults())
    }

    static func open(
        directory: String, maxBytes: UInt64? = nil, io: NIOThreadPool = BlockingIO.pool,
        logger: Logger = Logger(label: "shoal.store"), faults: ChunkStoreFaults
    ) async throws -> ChunkStore {
        let store = ChunkStore(directory: directory, maxBytes: maxBytes, io: io, logger: logger, faults: faults)
        try await io.runToCompletion { try store.start() }
        return store
    }

    private init(directory: String, maxBytes: UInt64?, io: NIOThreadPool, logger: Logger, faults: ChunkStoreFaults) {
        var directory = directory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        self.directory = directory
        self.maxBytes = maxBytes
        self.io = io
        self.logger = logger
        self.faults = faults
        self.state = NIOLockedValueBox(State())
    }

    deinit {
        let fd = state.withLockedValue { $0.lockDescriptor }
        if fd >= 0 { Posix.close(fd) }
    }

    /// Releases the directory lock. The store must not be used afterwards.
    public func close() {
        let fd = state.withLockedValue { state -> Int32 in
            defer { state.lockDescriptor = -1 }
            return state.lockDescriptor
        }
        if fd >= 0 { Posix.close(fd) }
    }

    // MARK: - Accounting

    /// Bytes the stored objects and their directories take on disk.
    public var bytesInUse: UInt64 { state.withLockedValue { $0.bytesInUse } }

    /// Everything counted against ``maxBytes``: objects, directories, staged writes and the
    /// external bytes.
    public var bytesCounted: UInt64 { state.withLockedValue { $0.bytesInUse + $0.reservedBytes + $0.externalBytes } }

    /// Bytes still free on the disk holding the store, or `nil` when the file system does not say.
    public var diskFree: UInt64? { try? Posix.freeSpace(directory) }

    /// Number of stored objects.
    public var objectCount: Int { state.withLockedValue { $0.objectCount } }

    /// Sets the bytes that also count against ``maxBytes`` (the metadata database's size).
    public func setExternalBytes(_ bytes: UInt64) {
        state.withLockedValue { $0.externalBytes = bytes }
    }

    // MARK: - Writing

    /// Reserves room for `bytes` and writes them to a temp file; nothing is visible until
    /// ``publish(_:durable:)``. Call exactly one of `publish` or ``discard(_:)`` for what it returns.
    /// - Parameters:
    ///   - bytes: the object as stored (sealed bytes for private files); at most ``maximumObjectSize``.
    ///   - id: the object's ID, SHA-256 of `bytes`.
    ///   - verifyHash: hash `bytes` and refuse them if they do not match `id`; pass `false` only
    ///     when the caller computed `id` from these very bytes.
    /// - Returns: the staged write, or `nil` when the object is already stored.
    /// - Throws: ``ChunkStoreError`` with code `hashMismatch`, `objectTooLarge`, `capacityExceeded`,
    ///   `diskFull` or `io`; nothing is left behind.
    public func stage(_ bytes: ByteBuffer, id: ContentID, verifyHash: Bool) async throws -> StagedObject? {
        guard bytes.readableBytes <= Self.maximumObjectSize else {
            throw ChunkStoreError(
                .objectTooLarge, id: id,
                "object \(id.short) is \(bytes.readableBytes) bytes; objects are at most \(Self.maximumObjectSize) bytes (an 8 MiB chunk plus its tag): it was not stored"
            )
        }
        if verifyHash {
            let actual = ContentID.sha256(of: bytes)
            guard actual == id else {
                throw ChunkStoreError(
                    .hashMismatch, id: id,
                    "refused object \(id.short): its \(bytes.readableBytes) bytes hash to \(actual.short); the sender must resend the right bytes"
                )
            }
        }
        return try await io.runToCompletion { try self.stageBlocking(bytes, id: id) }
    }

    private func stageBlocking(_ bytes: ByteBuffer, id: ContentID) throws -> StagedObject? {
        if try wrapIO({ try Posix.fileSize(objectPath(id)) }, id: id) != nil { return nil }
        // The object's blocks, a block for what recording it adds to the metadata, and the shard
        // directories when they do not exist yet; the disk's own figures replace this on publish.
        let newShard = try wrapIO({ try Posix.fileSize(shardPath(id)) }, id: id) == nil
        let estimate = Self.roundUp(UInt64(bytes.readableBytes)) + Self.blockSize * (newShard ? 3 : 1)
        let tempName = try reserve(estimate, for: id, size: bytes.readableBytes)
        let temp = tempDirectory + "/" + tempName
        var fd: Int32 = -1
        do {
            fd = try Posix.open(temp, O_RDWR | O_CREAT | O_EXCL, mode: 0o644)
            try bytes.withUnsafeReadableBytes {
                try Posix.writeAll(fd, $0, path: temp, failAfter: faults.failWritesAfterBytes)
            }
            return StagedObject(
                id: id, size: UInt64(bytes.readableBytes), tempPath: temp, descriptor: fd, reserved: estimate)
        } catch {
            if fd >= 0 { Posix.close(fd) }
            _ = try? Posix.unlink(temp)
            state.withLockedValue { $0.reservedBytes -= estimate }
            throw mapWriteError(error, id: id, size: bytes.readableBytes)
        }
    }

    /// Makes staged objects visible: syncs each file's data when `durable`, links it into place,
    /// and syncs every shard directory that gained an entry, once for the batch.
    /// - Returns: for each staged object, in order, the space it takes (`nil` when another writer
    ///   stored it first), or the error that kept it out (nothing of it is left behind).
    public func publish(_ staged: [StagedObject], durable: Bool) async -> [Result<ObjectSpace?, any Error>] {
        guard !staged.isEmpty else { return [] }
        do {
            return try await io.runToCompletion { self.publishBlocking(staged, durable: durable) }
        } catch {
            for object in staged { discardBlocking(object) }
            return staged.map { _ in .failure(error) }
        }
    }

    private func publishBlocking(_ staged: [StagedObject], durable: Bool) -> [Result<ObjectSpace?, any Error>] {
        var results: [Result<ObjectSpace?, any Error>] = []
        var dirtyDirectories: Set<String> = []
        var linked: [(index: Int, object: StagedObject, space: ObjectSpace)] = []
        for (index, object) in staged.enumerated() {
            do {
                if durable { try Posix.fdatasync(object.descriptor, path: object.tempPath) }
                let space = try Posix.fileSpace(fd: object.descriptor, path: object.tempPath)
                let (shard, created) = try makeShardDirectories(object.id)
                dirtyDirectories.formUnion(created)
                if try Posix.linkUnlessExists(object.tempPath, objectPath(object.id)) {
                    dirtyDirectories.insert(shard)
                    let recorded = ObjectSpace(size: space.size, allocated: space.allocated)
                    linked.append((index, object, recorded))
                    results.append(.success(recorded))
                } else {
                    results.append(.success(nil))
                }
            } catch {
                results.append(.failure(mapWriteError(error, id: object.id, size: Int(object.size))))
            }
        }
        if durable {
            for directory in dirtyDirectories.sorted(by: { $0.count > $1.count }) {
                do {
                    try Posix.fsyncDirectory(directory)
                } catch {
                    // The links may not survive a crash: withdraw them rather than claim durability.
                    for entry in linked where objectPath(entry.object.id).hasPrefix(directory + "/") {
                        _ = try? Posix.unlink(objectPath(entry.object.id))
                        results[entry.index] = .failure(
                            mapWriteError(error, id: entry.object.id, size: Int(entry.object.size)))
                    }
                    linked.removeAll { objectPath($0.object.id).hasPrefix(directory + "/") }
                }
            }
        }
        state.withLockedValue { state in
            for object in staged { state.reservedBytes -= object.reserved }
            for entry in linked {
                state.bytesInUse += entry.space.allocated
                state.objectCount += 1
            }
        }
        for object in staged {
            Posix.close(object.descriptor)
            _ = try? Posix.unlink(object.tempPath)
        }
        return results
    }

    /// Abandons a staged write: removes its temp file and releases its room.
    public func discard(_ staged: StagedObject) async {
        _ = try? await io.runToCompletion { self.discardBlocking(staged) }
    }

    private func discardBlocking(_ staged: StagedObject) {
        Posix.close(staged.descriptor)
        _ = try? Posix.unlink(staged.tempPath)
        state.withLockedValue { $0.reservedBytes -= staged.reserved }
    }

    /// Reserves room for `estimate` new bytes against `maxBytes`.
    /// - Returns: a unique temp file name for the write.
    private func reserve(_ estimate: UInt64, for id: ContentID, size: Int) throws -> String {
        try state.withLockedValue { state in
            let total = state.bytesInUse + state.reservedBytes + state.externalBytes
            if let maxBytes, total + estimate > maxBytes {
                throw ChunkStoreError(
                    .capacityExceeded, id: id,
                    "storage limit reached: object \(id.short) (\(size) bytes, \(estimate) on disk) would bring this node's storage to \(total + estimate) of its \(maxBytes)-byte limit (--max-storage, objects and metadata together); it was not stored. Delete files or raise --max-storage"
                )
            }
            state.reservedBytes += estimate
            state.nextTemp += 1
            return "\(id.hex).\(getpid()).\(state.nextTemp).tmp"
        }
    }

    private func shardPath(_ id: ContentID) -> String {
        let hex = id.hex
        return chunksDirectory + "/" + hex.prefix(2) + "/" + hex.dropFirst(2).prefix(2)
    }

    /// Creates `chunks/ab` and `chunks/ab/cd` for `id` when missing, counting their blocks.
    /// - Returns: the `chunks/ab/cd` path, and the directories whose entries changed (to be synced).
    private func makeShardDirectories(_ id: ContentID) throws -> (shard: String, changed: [String]) {
        let hex = id.hex
        let outer = chunksDirectory + "/" + hex.prefix(2)
        let inner = outer + "/" + hex.dropFirst(2).prefix(2)
        var changed: [String] = []
        if try Posix.fileSize(inner) == nil {
            if try Posix.makeDirectory(outer) {
                changed.append(chunksDirectory)
                try countDirectory(outer)
            }
            if try Posix.makeDirectory(inner) {
                changed.append(outer)
                try countDirectory(inner)
            }
        }
        return (inner, changed)
    }

    private func countDirectory(_ path: String) throws {
        let allocated = try Posix.fileSpace(path)?.allocated ?? Self.blockSize
        state.withLockedValue { $0.bytesInUse += allocated }
    }

    private func mapWriteError(_ error: any Error, id: ContentID, size: Int) -> any Error {
        guard let error = error as? SystemCallError else { return error }
        if error.isNoSpace {
            return ChunkStoreError(
                .diskFull, id: id,
                "the disk holding \(directory) is full: object \(id.short) (\(size) bytes) was not stored and nothing partial was kept. Free disk space, or set --max-storage below the free space so the node refuses new chunks before the disk fills"
            )
        }
        return ChunkStoreError(
            .io, id: id,
            "could not store object \(id.short) in \(directory): \(error); nothing partial was kept. Check the directory's permissions and the disk"
        )
    }

    static func roundUp(_ size: UInt64) -> UInt64 {
        (size + blockSize - 1) / blockSize * blockSize
    }

    // MARK: - Reading

    /// Reads a whole object, verified against its ID.
    /// - Returns: the object's bytes, whose SHA-256 is `id`.
    /// - Throws: ``ChunkStoreError`` with code `notFound`, `corrupt` (the object was quarantined and
    ///   is no longer held: fetch it again from another node) or `io`.
    public func get(_ id: ContentID) async throws -> ByteBuffer {
        try await read(id, offset: 0, length: 0, verify: true).data
    }

    /// Reads part of an object (for `GetChunk`).
    /// - Parameters:
    ///   - id: the object's content ID.
    ///   - offset: the first byte to return.
    ///   - length: how many bytes to return at most; `0` means to the end (as in `GetChunk`).
    ///   - verify: hash the whole object before returning any of it (quarantining it if corrupt);
    ///     `false` reads only the range, for a reader that verifies what it receives.
    /// - Returns: the bytes of the range (shorter than `length` at the end of the object) and the
    ///   object's full size.
    /// - Throws: ``ChunkStoreError`` with code `notFound`, `corrupt`, `io`, or `rangeOutOfBounds`
    ///   when `offset` is past the end.
    public func read(_ id: ContentID, offset: UInt64, length: UInt64, verify: Bool) async throws -> ChunkSlice {
        try await io.runToCompletion { try self.readBlocking(id, offset: offset, length: length, verify: verify) }
    }

    private func readBlocking(_ id: ContentID, offset: UInt64, length: UInt64, verify: Bool) throws -> ChunkSlice {
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
        let total = try wrapIO({ try Posix.fileSize(fd: fd, path: path) }, id: id)
        guard total <= UInt64(Self.maximumObjectSize) else {
            try quarantine(id)
            throw corrupt(id)
        }
        guard offset <= total else {
            throw ChunkStoreError(
                .rangeOutOfBounds, id: id,
                "offset \(offset) is past the end of object \(id.short), which has \(total) bytes; ask for an offset below \(total)"
            )
        }
        let end = length == 0 ? total : min(total, offset + min(length, total))
        let (from, count) = verify ? (UInt64(0), Int(total)) : (offset, Int(end - offset))
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let read = try wrapIO(
            {
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                    try Posix.read(
                        fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[..<count]), at: from, path: path)
                }
            }, id: id)
        guard read == count else {
            try quarantine(id)
            throw corrupt(id)
        }
        if verify {
            guard ContentID.sha256(of: buffer) == id else {
                try quarantine(id)
                throw corrupt(id)
            }
            buffer.moveReaderIndex(forwardBy: Int(offset))
            buffer = buffer.readSlice(length: Int(end - offset))!
        }
        return ChunkSlice(data: buffer, offset: offset, totalSize: total)
    }

    /// Hashes the object and quarantines it when it no longer matches its ID.
    /// - Returns: `true` when it is intact, `false` when it was corrupt (and is now quarantined).
    /// - Throws: `notFound` when it is not held.
    public func verify(_ id: ContentID) async throws -> Bool {
        do {
            _ = try await get(id)
            return true
        } catch let error as ChunkStoreError where error.code == .corrupt {
            return false
        }
    }

    private func corrupt(_ id: ContentID) -> ChunkStoreError {
        ChunkStoreError(
            .corrupt, id: id,
            "object \(id.short) was corrupt on disk (its bytes no longer match its hash); it was moved to \(quarantineDirectory) and is no longer held. Fetch it again from another node or re-upload the file"
        )
    }

    /// Moves a corrupt object out of `chunks/` so that it is never served again.
    private func quarantine(_ id: ContentID) throws {
        let path = objectPath(id)
        guard let space = try wrapIO({ try Posix.fileSpace(path) }, id: id) else { return }
        try wrapIO({ try Posix.rename(path, self.quarantineDirectory + "/" + id.hex) }, id: id)
        state.withLockedValue { state in
            state.bytesInUse -= min(state.bytesInUse, space.allocated)
            state.objectCount = max(0, state.objectCount - 1)
        }
        logger.warning(
            "object failed verification and was quarantined",
            metadata: ["chunk.id": "\(id.hex)", "chunk.size": "\(space.size)"])
    }

    // MARK: - Queries and deletion

    /// Whether the store holds `id` (without verifying it).
    public func contains(_ id: ContentID) async throws -> Bool {
        try await size(of: id) != nil
    }

    /// The stored size of `id`, or `nil` when it is not held.
    public func size(of id: ContentID) async throws -> UInt64? {
        let path = objectPath(id)
        return try await io.runToCompletion { try self.wrapIO({ try Posix.fileSize(path) }, id: id) }
    }

    /// Removes an object.
    /// - Returns: `true` when it was removed, `false` when it was not held.
    @discardableResult
    public func delete(_ id: ContentID) async throws -> Bool {
        let path = objectPath(id)
        return try await io.runToCompletion {
            try self.wrapIO(
                {
                    guard let space = try Posix.fileSpace(path), try Posix.unlink(path) else { return false }
                    self.state.withLockedValue { state in
                        state.bytesInUse -= min(state.bytesInUse, space.allocated)
                        state.objectCount = max(0, state.objectCount - 1)
                    }
                    return true
                }, id: id)
        }
    }

    /// Every object on disk with its size and allocation (a full scan: for reconciling the
    /// metadata at start).
    public func inventory() async throws -> [ContentID: ObjectSpace] {
        var out: [ContentID: ObjectSpace] = [:]
        for shard in 0...255 {
            for object in try await io.runToCompletion({
                try self.wrapIO({ try self.scanShard(UInt8(shard)) }, id: nil)
            }) {
                out[object.id] = object.space
            }
        }
        return out
    }

    // MARK: - Start-up

    private func start() throws {
        try wrapIO(
            {
                try Posix.makeDirectory(directory)
                guard let fd = try Posix.lockFile(directory + "/LOCK") else {
                    throw ChunkStoreError(
                        .directoryInUse, id: nil,
                        "the data directory \(directory) is in use by another Shoal process; stop it or choose another --data directory"
                    )
                }
                state.withLockedValue { $0.lockDescriptor = fd }
                for path in [chunksDirectory, tempDirectory, quarantineDirectory] { try Posix.makeDirectory(path) }

                var removed = 0
                for name in try Posix.directoryEntries(tempDirectory) {
                    if try Posix.unlink(tempDirectory + "/" + name) { removed += 1 }
                }
                if removed > 0 {
                    logger.notice(
                        "removed temp files of interrupted writes", metadata: ["store.temp_files": "\(removed)"])
                }

                var bytes: UInt64 = 0
                var count = 0
                for shard in 0...255 {
                    let outer = chunksDirectory + "/" + Self.hexByte(UInt8(shard))
                    guard let outerSpace = try Posix.fileSpace(outer) else { continue }
                    bytes += outerSpace.allocated
                    for inner in try Posix.directoryEntries(outer) where inner.utf8.count == 2 {
                        bytes += try Posix.fileSpace(outer + "/" + inner)?.allocated ?? 0
                    }
                    for object in try scanShard(UInt8(shard)) {
                        bytes += object.space.allocated
                        count += 1
                    }
                }
                state.withLockedValue { state in
                    state.bytesInUse = bytes
                    state.objectCount = count
                }
            }, id: nil)
    }

    private func scanShard(_ shard: UInt8) throws -> [(id: ContentID, space: ObjectSpace)] {
        let outerName = Self.hexByte(shard)
        let outer = chunksDirectory + "/" + outerName
        var out: [(id: ContentID, space: ObjectSpace)] = []
        for innerName in try Posix.directoryEntries(outer) where innerName.utf8.count == 2 {
            let inner = outer + "/" + innerName
            for name in try Posix.directoryEntries(inner) {
                guard let id = Key256(hex: name), id.hex == name,
                    name.hasPrefix(outerName + innerName),
                    let space = try Posix.fileSpace(inner + "/" + name)
                else { continue }
                out.append((id, ObjectSpace(size: space.size, allocated: space.allocated)))
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
            throw ChunkStoreError(
                .io, id: id,
                "file-system error on \(subject) in \(directory): \(error). Check the directory's permissions and the disk"
            )
        }
    }
}

/// A write waiting in `tmp/` for ``ChunkStore/publish(_:durable:)``.
public final class StagedObject: Sendable {
    public let id: ContentID
    public let size: UInt64
    let tempPath: String
    let descriptor: Int32
    let reserved: UInt64

    init(id: ContentID, size: UInt64, tempPath: String, descriptor: Int32, reserved: UInt64) {
        self.id = id
        self.size = size
        self.tempPath = tempPath
        self.descriptor = descriptor
        self.reserved = reserved
    }
}

/// An object's size, and what its file takes on disk.
public struct ObjectSpace: Sendable, Hashable {
    public var size: UInt64
    public var allocated: UInt64

    public init(size: UInt64, allocated: UInt64) {
        self.size = size
        self.allocated = allocated
    }
}

/// Part of a stored object, as `GetChunk` returns it.
public struct ChunkSlice: Sendable {
    /// The bytes of the range.
    public var data: ByteBuffer
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
