import NIOCore
import ShoalCore
import ShoalWire

/// Reads files back from their objects: any byte range, in order, with up to ``maxInFlight``
/// chunks fetched in parallel (fewer when fewer keep the consumer busy: ``ReadAhead``), every
/// object verified end to end.
///
/// Only the manifest nodes on the path to the requested range are fetched. The source verifies each
/// object against its ID (see ``ObjectSource``); the reader opens it (which authenticates it and its
/// position in the file) and checks it against the size its manifest entry gives; the total written
/// must equal the range's length.
public struct FileReader: Sendable {
    public let source: any ObjectSource
    /// Chunks fetched concurrently; also the most chunks buffered for reordering.
    public let maxInFlight: Int

    /// - Parameters:
    ///   - source: where objects come from.
    ///   - maxInFlight: the parallel fetch window (at least 1).
    public init(source: any ObjectSource, maxInFlight: Int = 8) {
        precondition(maxInFlight >= 1, "maxInFlight must be at least 1")
        self.source = source
        self.maxInFlight = maxInFlight
    }

    /// Fetches and opens the root manifest only: the file's size and shape.
    /// - Throws: ``FileReaderError`` (`keyRequired`, `wrongKey`, `corrupt`), or what the source throws.
    public func open(_ address: FileAddress) async throws -> OpenFile {
        let bytes = try await fetch(address.root, kind: .manifest)
        if let key = address.key {
            for cipher in [Cipher.aes256GCM, .chaCha20Poly1305] {
                let sealer = Sealer(key: key, cipher: cipher)
                guard let plain = try? sealer.open(bytes, index: Manifest.rootSealIndex, domain: .manifest) else {
                    continue
                }
                let root = try decode(plain, id: address.root)
                guard root.cipher == cipher, root.firstChunk == 0 else {
                    throw FileReaderError(
                        .corrupt, id: address.root,
                        "the root manifest \(address.root.short) contradicts how it was sealed; the file is damaged")
                }
                return OpenFile(address: address, root: root, sealer: sealer)
            }
            if let root = try? Manifest(serialized: bytes.readableBytesView), root.cipher == .none, root.firstChunk == 0
            {
                return OpenFile(address: address, root: root, sealer: .plaintext)
            }
            throw FileReaderError(
                .wrongKey, id: address.root,
                "the key in the address does not open file \(address.root.short): the key is wrong (check the address was copied whole)"
            )
        }
        guard let root = try? Manifest(serialized: bytes.readableBytesView) else {
            throw FileReaderError(
                .keyRequired, id: address.root,
                "file \(address.root.short) is private: its address needs the key as well (<hash>.<key>)")
        }
        guard root.cipher == .none else {
            throw FileReaderError(
                .keyRequired, id: address.root,
                "file \(address.root.short) is private: its address needs the key as well (<hash>.<key>)")
        }
        guard root.firstChunk == 0 else {
            throw FileReaderError(.corrupt, id: address.root, "object \(address.root.short) is not the root of a file")
        }
        return OpenFile(address: address, root: root, sealer: .plaintext)
    }

    /// Reads `length` bytes from `offset` (default: the whole file) and hands them, in order, to
    /// `write`.
    /// - Parameters:
    ///   - address: the file.
    ///   - offset: the first byte; at most the file's size.
    ///   - length: bytes to read; `nil` or more than remain means to the end.
    ///   - write: receives the bytes in order; the next chunk is not handed over until it returns,
    ///     so a slow writer slows the reader (at most ``maxInFlight`` chunks wait meanwhile).
    /// - Returns: bytes written.
    /// - Throws: ``FileReaderError``, what the source throws, or what `write` throws.
    @discardableResult
    public func read(
        _ address: FileAddress, offset: UInt64 = 0, length: UInt64? = nil,
        to write: (ByteBuffer) async throws -> Void
    ) async throws -> UInt64 {
        try await read(open(address), offset: offset, length: length, to: write)
    }

    /// Reads a range of a file opened with ``open(_:)``, as the address-taking `read` does, without
    /// fetching the root manifest again.
    @discardableResult
    public func read(
        _ file: OpenFile, offset: UInt64 = 0, length: UInt64? = nil,
        to write: (ByteBuffer) async throws -> Void
    ) async throws -> UInt64 {
        let size = file.size
        guard offset <= size else {
            throw FileReaderError(
                .rangeNotSatisfiable, id: file.address.root,
                "offset \(offset) is past the end of file \(file.address.root.short) (\(size) bytes)")
        }
        let end = offset + min(length ?? size, size - offset)
        guard end > offset else { return 0 }
        let range = offset..<end
        var walker = TreeWalker(file: file, range: range, reader: self)
        let sealer = file.sealer
        let source = self.source
        var window = ReadAhead(minimum: min(2, maxInFlight), maximum: maxInFlight)
        var written: UInt64 = 0
        let clock = ContinuousClock()

        try await withThrowingTaskGroup(of: (Int, ByteBuffer, Duration).self) { group in
            var scheduled = 0
            var nextToWrite = 0
            var ready: [Int: ByteBuffer] = [:]
            var exhausted = false
            var lastWrite = clock.now
            while true {
                // Keep the window full: fetched-but-unwritten plus in-flight stays within it.
                while !exhausted && scheduled - nextToWrite < window.current {
                    guard let chunk = try await walker.next() else {
                        exhausted = true
                        break
                    }
                    let sequence = scheduled
                    scheduled += 1
                    group.addTask {
                        let started = clock.now
                        let bytes = try await Self.fetchChunk(chunk, range: range, sealer: sealer, source: source)
                        return (sequence, bytes, clock.now - started)
                    }
                }
                guard nextToWrite < scheduled, let (sequence, bytes, elapsed) = try await group.next() else { break }
                window.fetched(bytes: bytes.readableBytes, after: elapsed.inSeconds)
                ready[sequence] = bytes
                while let opened = ready.removeValue(forKey: nextToWrite) {
                    written += UInt64(opened.readableBytes)
                    try await write(opened)
                    let now = clock.now
                    window.consumed(bytes: opened.readableBytes, over: (now - lastWrite).inSeconds)
                    lastWrite = now
                    nextToWrite += 1
                }
            }
        }
        guard written == range.count else {
            throw FileReaderError(
                .corrupt, id: file.address.root,
                "file \(file.address.root.short) yielded \(written) bytes for a range of \(range.count); its manifest is damaged"
            )
        }
        return written
    }

    /// Walks the whole manifest tree (no chunk is fetched): the file's size and every object it
    /// consists of, for `stat` and deletion.
    public func stat(_ address: FileAddress) async throws -> FileStat {
        let file = try await open(address)
        var manifests = [address.root]
        var chunks: [ContentID] = []
        var walker = TreeWalker(file: file, range: 0..<file.size, reader: self)
        while let chunk = try await walker.next() { chunks.append(chunk.id) }
        manifests += walker.visitedNodes
        guard UInt64(chunks.count) == file.root.chunkCount else {
            throw FileReaderError(
                .corrupt, id: address.root,
                "file \(address.root.short) lists \(chunks.count) chunks, its size needs \(file.root.chunkCount); its manifest is damaged"
            )
        }
        return FileStat(
            size: file.size, chunkSize: file.root.chunkSize, cipher: file.root.cipher, depth: file.root.depth,
            manifestIDs: manifests, chunkIDs: chunks)
    }

    // MARK: - Fetching

    /// Fetches an object (the source has verified it hashes to `id`).
    func fetch(_ id: ContentID, kind: ObjectKind) async throws -> ByteBuffer {
        try await source.get(id: id, kind: kind)
    }

    /// Fetches and opens one chunk; returns the part of its plaintext that `range` wants.
    private static func fetchChunk(
        _ chunk: ChunkReference, range: Range<UInt64>, sealer: Sealer,
        source: any ObjectSource
    ) async throws -> ByteBuffer {
        let sealed = try await source.get(
            id: chunk.id, kind: .chunk,
            expectedSize: UInt64(sealer.sealedSize(ofPlaintext: Int(chunk.size))))
        var plain: ByteBuffer
        do {
            plain = try sealer.open(sealed, index: chunk.index, domain: .chunk)
        } catch {
            throw FileReaderError(
                .corrupt, id: chunk.id, "chunk \(chunk.index) (\(chunk.id.short)) failed authentication: \(error)")
        }
        guard UInt64(plain.readableBytes) == chunk.size else {
            throw FileReaderError(
                .corrupt, id: chunk.id,
                "chunk \(chunk.index) has \(plain.readableBytes) bytes, its manifest says \(chunk.size); the file is damaged"
            )
        }
        let lower = Int(max(range.lowerBound, chunk.offset) - chunk.offset)
        let upper = Int(min(range.upperBound, chunk.offset + chunk.size) - chunk.offset)
        plain.moveReaderIndex(forwardBy: lower)
        return plain.readSlice(length: upper - lower)!
    }

    /// Fetches, opens and checks a non-root manifest node against what its parent says of it.
    func loadNode(_ entry: Manifest.Entry, offset: UInt64, parent: Manifest, file: OpenFile) async throws -> Manifest {
        let chunkSize = UInt64(parent.chunkSize)
        guard offset % chunkSize == 0 else {
            throw FileReaderError(
                .corrupt, id: entry.id,
                "manifest node \(entry.id.short) starts at byte \(offset), not on a chunk boundary; the file is damaged"
            )
        }
        let firstChunk = offset / chunkSize
        let depth = parent.depth - 1
        let sealed = try await fetch(entry.id, kind: .manifest)
        let plain: ByteBuffer
        do {
            plain = try file.sealer.open(sealed, index: (UInt64(depth) << 56) | firstChunk, domain: .manifest)
        } catch {
            throw FileReaderError(
                .corrupt, id: entry.id, "manifest node \(entry.id.short) failed authentication: \(error)")
        }
        let node = try decode(plain, id: entry.id)
        guard node.depth == depth, node.firstChunk == firstChunk, node.totalSize == entry.size,
            node.chunkSize == parent.chunkSize, node.cipher == parent.cipher
        else {
            throw FileReaderError(
                .corrupt, id: entry.id,
                "manifest node \(entry.id.short) does not match its parent's entry; the file is damaged")
        }
        return node
    }

    private func decode(_ plain: ByteBuffer, id: ContentID) throws -> Manifest {
        do {
            return try Manifest(serialized: plain.readableBytesView)
        } catch {
            throw FileReaderError(.corrupt, id: id, "manifest node \(id.short) is not a valid manifest: \(error)")
        }
    }
}

/// A file whose root manifest is open: its size is known, ranges can be read.
public struct OpenFile: Sendable {
    public let address: FileAddress
    public let root: Manifest
    let sealer: Sealer

    /// Plaintext size in bytes.
    public var size: UInt64 { root.totalSize }
    public var chunkCount: UInt64 { root.chunkCount }
}

/// A file's shape and the objects it consists of.
public struct FileStat: Sendable, Hashable {
    public var size: UInt64
    public var chunkSize: UInt32
    public var cipher: Cipher
    /// Depth of the root node (0: the root lists the chunks itself).
    public var depth: UInt32
    /// Every manifest node, the root first.
    public var manifestIDs: [ContentID]
    /// Every data chunk, in file order.
    public var chunkIDs: [ContentID]

    public var chunkCount: Int { chunkIDs.count }
    /// Manifest nodes and chunks: everything a deletion removes.
    public var allObjectIDs: [ContentID] { manifestIDs + chunkIDs }
}

/// One data chunk a range needs.
struct ChunkReference: Sendable {
    var id: ContentID
    var index: UInt64
    /// File offset of the chunk's first byte.
    var offset: UInt64
    var size: UInt64
}

/// Depth-first walk of the manifest tree along the branches that overlap a byte range, yielding
/// the chunks in file order and fetching each manifest node only when the walk reaches it.
struct TreeWalker {
    private struct Frame {
        var node: Manifest
        var entries: [(entry: Manifest.Entry, offset: UInt64)]
        var position = 0
    }

    private let file: OpenFile
    private let range: Range<UInt64>
    private let reader: FileReader
    private var stack: [Frame]
    /// IDs of the non-root manifest nodes loaded so far, in the order loaded.
    private(set) var visitedNodes: [ContentID] = []

    init(file: OpenFile, range: Range<UInt64>, reader: FileReader) {
        self.file = file
        self.range = range
        self.reader = reader
        self.stack = [Frame(node: file.root, entries: file.root.entries(overlapping: range))]
    }

    mutating func next() async throws -> ChunkReference? {
        while let top = stack.last {
            guard top.position < top.entries.count else {
                stack.removeLast()
                continue
            }
            let (entry, offset) = top.entries[top.position]
            stack[stack.count - 1].position += 1
            if top.node.depth == 0 {
                let chunkSize = UInt64(top.node.chunkSize)
                guard offset % chunkSize == 0 else {
                    throw FileReaderError(
                        .corrupt, id: entry.id,
                        "chunk \(entry.id.short) starts at byte \(offset), not on a chunk boundary; the file is damaged"
                    )
                }
                return ChunkReference(id: entry.id, index: offset / chunkSize, offset: offset, size: entry.size)
            }
            let child = try await reader.loadNode(entry, offset: offset, parent: top.node, file: file)
            visitedNodes.append(entry.id)
            stack.append(Frame(node: child, entries: child.entries(overlapping: range)))
        }
        return nil
    }
}
