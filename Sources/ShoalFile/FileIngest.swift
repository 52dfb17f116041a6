import NIOCore
import ShoalCore
import ShoalWire

/// How a file is stored: sealed with a per-file key, or as plaintext that anyone with the hash reads.
public enum FileEncryption: Sendable, Hashable {
    /// Seal every chunk and manifest node; `key` `nil` means a fresh random key.
    case `private`(key: FileKey? = nil, cipher: Cipher = .aes256GCM)
    /// Store plaintext (`--public`).
    case `public`
}

/// Streams a file of any size into content-addressed objects: chunk → seal → SHA-256 → sink,
/// with at most ``maxInFlight`` chunks being sealed and stored at once, then the manifest tree,
/// root last.
///
/// Memory is bounded whatever the file size: the chunker's buffer, `maxInFlight` chunks (each
/// plaintext plus sealed copy), one manifest node per tree level, and the buffers the byte source
/// yields. Never the whole file.
public struct FileIngest: Sendable {
    public let chunkSize: Int
    public let maxInFlight: Int
    /// The most entries per manifest node (smaller values make deeper trees; tests use 4).
    public let maxEntries: Int
    /// Whether ``IngestResult/objectIDs`` lists the objects written (32 bytes per object, at most
    /// ``maximumRecordedIDs`` of them).
    public let recordObjectIDs: Bool
    /// The most object IDs a result lists.
    public static let maximumRecordedIDs = 16_384

    /// - Parameters:
    ///   - chunkSize: bytes per chunk, 64 KiB … 8 MiB.
    ///   - maxInFlight: chunks sealed and stored concurrently (at least 1).
    ///   - maxEntries: entries per manifest node (at least 2).
    ///   - recordObjectIDs: list every object written in the result.
    /// - Throws: `ChunkerError.chunkSizeOutOfRange` for a chunk size out of range.
    public init(
        chunkSize: Int = Chunker.defaultChunkSize, maxInFlight: Int = 8,
        maxEntries: Int = Manifest.defaultMaxEntries, recordObjectIDs: Bool = true
    ) throws {
        _ = try Chunker(chunkSize: chunkSize)
        precondition(maxInFlight >= 1, "maxInFlight must be at least 1")
        precondition(maxEntries >= 2, "a manifest node must hold at least two entries")
        self.chunkSize = chunkSize
        self.maxInFlight = maxInFlight
        self.maxEntries = maxEntries
        self.recordObjectIDs = recordObjectIDs
    }

    /// Ingests one file.
    /// - Parameters:
    ///   - bytes: the file's bytes in order, in buffers of any size (each buffer is held until it
    ///     has been cut into chunks, so keep them modest, e.g. 64 KiB – 1 MiB).
    ///   - sink: where the objects go (see ``ObjectSink`` for the call contract).
    ///   - encryption: private (default, fresh key) or public.
    /// - Returns: the file's address and what was written.
    /// - Throws: what the byte source or the sink throws; the objects stored before the error stay
    ///   in the sink (no root is stored, so no address refers to them).
    public func ingest<Bytes: AsyncSequence>(
        _ bytes: Bytes, into sink: some ObjectSink,
        encryption: FileEncryption = .private()
    ) async throws -> IngestResult
    where Bytes.Element == ByteBuffer {
        let key: FileKey?
        let sealer: Sealer
        switch encryption {
        case .public:
            key = nil
            sealer = .plaintext
        case .private(let given, let cipher):
            let fileKey = given ?? FileKey.generate()
            key = fileKey
            sealer = Sealer(key: fileKey, cipher: cipher)
        }
        var run = IngestRun(
            sealer: sealer, sink: sink, chunkSize: chunkSize, maxEntries: maxEntries,
            recordObjectIDs: recordObjectIDs)
        var chunker = try Chunker(chunkSize: chunkSize)
        let maxInFlight = self.maxInFlight

        try await withThrowingTaskGroup(of: SealedChunk.self) { group in
            var inFlight = 0
            var nextIndex: UInt64 = 0
            func submit(_ chunk: ByteBuffer, _ group: inout ThrowingTaskGroup<SealedChunk, any Error>) async throws {
                if inFlight == maxInFlight, let done = try await group.next() {
                    inFlight -= 1
                    try await run.absorb(done)
                }
                let index = nextIndex
                nextIndex += 1
                inFlight += 1
                let plaintext = PlaintextBox(chunk)
                group.addTask { try await IngestRun.sealAndStore(plaintext, index: index, sealer: sealer, sink: sink) }
            }
            for try await buffer in bytes {
                for chunk in chunker.append(buffer) {
                    try await submit(chunk, &group)
                }
            }
            if let last = chunker.finish() {
                try await submit(last, &group)
            }
            while let done = try await group.next() {
                try await run.absorb(done)
            }
        }
        return try await run.finish(key: key, consumed: chunker.bytesConsumed)
    }
}

/// What ``FileIngest/ingest(_:into:encryption:)`` wrote.
public struct IngestResult: Sendable {
    /// The file's address (root ID, and key for a private file).
    public var address: FileAddress
    /// Plaintext bytes.
    public var size: UInt64
    public var chunkCount: UInt64
    /// Manifest nodes written, the root included.
    public var manifestNodeCount: Int
    /// Depth of the root node (0: the root lists the chunks itself).
    public var depth: UInt32
    /// Bytes as stored, over every object.
    public var storedBytes: UInt64
    /// Objects written: chunks plus manifest nodes.
    public var objectCount: Int
    /// The objects written: the chunks in file order, each manifest node after the chunks it lists,
    /// the root last (empty when the ingest was made with `recordObjectIDs: false`; at most
    /// ``FileIngest/maximumRecordedIDs``, so that memory stays bounded for any file).
    public var objectIDs: [ContentID]
}

/// The result of sealing and storing one chunk.
struct SealedChunk: Sendable {
    var index: UInt64
    var entry: Manifest.Entry
    var storedSize: Int
}

/// The ordered half of an ingest: puts chunk results back in order, feeds the manifest tree, and
/// stores manifest nodes as they fill.
struct IngestRun<Sink: ObjectSink> {
    let sealer: Sealer
    let sink: Sink
    let recordObjectIDs: Bool
    var builder: ManifestTreeBuilder
    var waiting: [UInt64: SealedChunk] = [:]
    var nextToBuild: UInt64 = 0
    var objectIDs: [ContentID] = []
    var objectCount = 0
    var manifestNodes = 0
    var storedBytes: UInt64 = 0

    init(sealer: Sealer, sink: Sink, chunkSize: Int, maxEntries: Int, recordObjectIDs: Bool) {
        self.sealer = sealer
        self.sink = sink
        self.recordObjectIDs = recordObjectIDs
        self.builder = ManifestTreeBuilder(chunkSize: UInt32(chunkSize), cipher: sealer.cipher, maxEntries: maxEntries)
    }

    static func sealAndStore(
        _ plaintext: PlaintextBox, index: UInt64, sealer: Sealer, sink: Sink
    ) async throws -> SealedChunk {
        let (sealed, size) = try plaintext.seal(index: index, with: sealer)
        let id = ContentID.sha256(of: sealed)
        try await sink.put(id: id, bytes: sealed, kind: .chunk)
        return SealedChunk(
            index: index, entry: Manifest.Entry(id: id, size: UInt64(size)), storedSize: sealed.readableBytes)
    }

    /// Takes a finished chunk; adds every chunk that is now next in file order to the tree.
    mutating func absorb(_ done: SealedChunk) async throws {
        waiting[done.index] = done
        while let next = waiting.removeValue(forKey: nextToBuild) {
            record(next.entry.id, storedSize: next.storedSize)
            var nodes: [(ContentID, ByteBuffer)] = []
            let sealer = self.sealer
            try builder.add(next.entry) { node in
                let sealed = try sealer.seal(
                    ByteBuffer(bytes: node.serialized()), index: node.sealIndex, domain: .manifest)
                let id = ContentID.sha256(of: sealed)
                nodes.append((id, sealed))
                return id
            }
            try await storeNodes(nodes)
            nextToBuild += 1
        }
    }

    /// Flushes the tree and stores the root last.
    mutating func finish(key: FileKey?, consumed: UInt64) async throws -> IngestResult {
        precondition(waiting.isEmpty, "every chunk is absorbed before the tree is finished")
        var nodes: [(ContentID, ByteBuffer)] = []
        let sealer = self.sealer
        let root = try builder.finish { node in
            let sealed = try sealer.seal(ByteBuffer(bytes: node.serialized()), index: node.sealIndex, domain: .manifest)
            let id = ContentID.sha256(of: sealed)
            nodes.append((id, sealed))
            return id
        }
        try await storeNodes(nodes)
        precondition(root.totalSize == consumed, "the manifest covers every byte read")
        let sealedRoot = try sealer.seal(
            ByteBuffer(bytes: root.serialized()), index: Manifest.rootSealIndex, domain: .manifest)
        let rootID = ContentID.sha256(of: sealedRoot)
        try await storeNodes([(rootID, sealedRoot)])
        return IngestResult(
            address: FileAddress(root: rootID, key: key), size: root.totalSize,
            chunkCount: nextToBuild, manifestNodeCount: manifestNodes, depth: root.depth,
            storedBytes: storedBytes, objectCount: objectCount, objectIDs: objectIDs)
    }

    private mutating func storeNodes(_ nodes: [(ContentID, ByteBuffer)]) async throws {
        for (id, bytes) in nodes {
            try await sink.put(id: id, bytes: bytes, kind: .manifest)
            manifestNodes += 1
            record(id, storedSize: bytes.readableBytes)
        }
    }

    private mutating func record(_ id: ContentID, storedSize: Int) {
        objectCount += 1
        storedBytes += UInt64(storedSize)
        if recordObjectIDs, objectIDs.count < FileIngest.maximumRecordedIDs { objectIDs.append(id) }
    }
}

/// Hands a chunk's plaintext to the task that seals it and lets go of it as soon as it is sealed,
/// so that an object waiting for its write holds only its sealed bytes.
final class PlaintextBox: @unchecked Sendable {
    private var bytes: ByteBuffer?

    init(_ bytes: ByteBuffer) {
        self.bytes = bytes
    }

    /// Seals and releases the plaintext. Called once, by the one task that owns the box.
    /// - Returns: the sealed bytes and the plaintext size.
    func seal(index: UInt64, with sealer: Sealer) throws -> (sealed: ByteBuffer, size: Int) {
        guard let plaintext = bytes else { preconditionFailure("a chunk is sealed once") }
        bytes = nil
        return (try sealer.seal(plaintext, index: index, domain: .chunk), plaintext.readableBytes)
    }
}
