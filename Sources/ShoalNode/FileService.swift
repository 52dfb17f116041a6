import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore
import ShoalDHT
import ShoalFile
import ShoalStore
import ShoalTransport
import ShoalWire

/// Put, get, stat and delete of whole files across the cluster: the client side of a node.
///
/// A put walks down once: bytes → ``FileIngest`` (chunk, seal, manifest tree, root last) →
/// ``ObjectPlacer`` (each object on its `r` closest nodes) → this node's ``LocalObjects`` or the
/// transport. A get walks down once too: ``FileReader`` (root manifest, then the chunks of the
/// range, in order, in a bounded window) → ``ObjectFetcher`` (this node's copy, or the holders,
/// swarm-style) → back up, verified and opened. Nothing below calls back up.
///
/// Every file put through this node is recorded (its key in the keyring, its objects in the
/// metadata) so that `rm` removes exactly what no other file of this node still needs, and a put
/// that fails is cleaned up: its objects' claims are withdrawn with a signed Delete.
public final class FileService: Sendable {
    let local: Contact
    let identity: NodeIdentity
    let chunkSize: Int
    let window: Int
    let placer: ObjectPlacer
    let fetcher: ObjectFetcher
    let deleter: DeleteFanOut
    let objects: LocalObjects
    let clock: NodeClock
    let metrics: NodeMetrics
    let logger: Logger
    /// Uploads that did not finish, waiting for ``runJanitor()`` to withdraw what they placed.
    private let unfinished: AsyncStream<ContentID>
    private let unfinishedQueue: AsyncStream<ContentID>.Continuation

    init(
        local: Contact, identity: NodeIdentity, chunkSize: Int, window: Int, placer: ObjectPlacer,
        fetcher: ObjectFetcher,
        deleter: DeleteFanOut, objects: LocalObjects, clock: NodeClock, metrics: NodeMetrics, logger: Logger
    ) {
        (unfinished, unfinishedQueue) = AsyncStream.makeStream(of: ContentID.self)
        self.local = local
        self.identity = identity
        self.chunkSize = chunkSize
        self.window = window
        self.placer = placer
        self.fetcher = fetcher
        self.deleter = deleter
        self.objects = objects
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
    }

    private var metadata: MetadataStore { objects.metadata }

    // MARK: Put

    /// Stores a file in the cluster.
    /// - Parameters:
    ///   - bytes: the file's bytes, in order.
    ///   - isPublic: store plaintext, addressed by hash alone.
    ///   - name: a name for the local keyring (not part of the address).
    ///   - progress: called with the bytes consumed so far.
    /// - Returns: the address (with key for private files) and what was written.
    /// - Throws: ``PlacementError`` when an object could not reach enough replicas (it says how many
    ///   did), or what the byte source throws. Either way the objects already placed are withdrawn.
    public func put<Bytes: AsyncSequence>(
        _ bytes: Bytes, isPublic: Bool, name: String = "",
        progress: (@Sendable (UInt64) -> Void)? = nil
    ) async throws -> IngestResult
    where Bytes.Element == ByteBuffer {
        var rng = SystemRandomNumberGenerator()
        let upload = ContentID.random(using: &rng)
        try await metadata.beginUpload(upload, at: clock.wallNow)
        let sink = PlacingSink(placer: placer, metadata: metadata, upload: upload)
        let ingest = try FileIngest(chunkSize: chunkSize, maxInFlight: window)
        let counted = CountingSequence(base: bytes, progress: progress)
        let result: IngestResult
        let started = clock.now
        do {
            result = try await ingest.ingest(counted, into: sink, encryption: isPublic ? .public : .private())
            try await sink.flush()
            try await metadata.finishUpload(upload, root: result.address.root)
            try await metadata.saveKeyringEntry(
                KeyringEntry(
                    address: result.address, size: result.size, name: name,
                    createdAt: clock.wallNow))
        } catch {
            // Withdrawn by the janitor, which a client that went away (cancelling this task) cannot stop.
            try? await sink.flush()
            unfinishedQueue.yield(upload)
            throw error
        }
        let lookups = await sink.lookups
        metrics.placed(file: result.size, lookups: lookups)
        metrics.transferred(bytes: result.size, in: clock.now - started, put: true)
        logger.info(
            "file stored",
            metadata: [
                "file.root": "\(result.address.root.short)", "file.size": "\(result.size)",
                "file.chunks": "\(result.chunkCount)", "file.lookups": "\(lookups)",
            ])
        return result
    }

    /// Withdraws what unfinished uploads placed, for the life of the node: first those an earlier
    /// run left behind, then each put that fails.
    func runJanitor() async {
        for upload in (try? await metadata.unfinishedUploads()) ?? [] { await abandon(upload) }
        for await upload in unfinished { await abandon(upload) }
    }

    /// Ends ``runJanitor()`` once the uploads queued so far were withdrawn.
    func stopJanitor() { unfinishedQueue.finish() }

    /// Withdraws what an upload that did not finish placed: this node's claims on its objects that
    /// no other file of this node needs, everywhere they were placed.
    func abandon(_ upload: ContentID) async {
        do {
            let objects = try await metadata.objectsOnlyIn(upload)
            if !objects.isEmpty {
                let report = try await deleter.delete(objects: objects, root: upload)
                logger.info(
                    "withdrew the objects of an unfinished upload",
                    metadata: ["objects": "\(objects.count)", "removed": "\(report.removed)"])
            }
            try await metadata.removeFileObjects(root: upload)
        } catch {
            logger.warning(
                "could not withdraw the objects of an unfinished upload; will retry at the next start",
                metadata: ["upload": "\(upload.short)", "error": "\(error)"])
        }
    }

    // MARK: Get

    /// Fills in the key of a private file uploaded through this node when the address lacks it.
    public func resolve(_ address: FileAddress) async throws -> FileAddress {
        guard address.key == nil, let entry = try await metadata.keyringEntry(root: address.root) else {
            return address
        }
        return entry.address
    }

    private var reader: FileReader { FileReader(source: fetcher, maxInFlight: window) }

    /// Opens a file: fetches and decodes its root manifest.
    public func open(_ address: FileAddress) async throws -> OpenFile {
        try await reader.open(try await resolve(address))
    }

    /// Streams a byte range of an open file to `write`, in order, verified.
    @discardableResult
    public func read(
        _ file: OpenFile, offset: UInt64 = 0, length: UInt64? = nil,
        to write: (ByteBuffer) async throws -> Void
    ) async throws -> UInt64 {
        let started = clock.now
        let written = try await reader.read(file, offset: offset, length: length, to: write)
        metrics.transferred(bytes: written, in: clock.now - started, put: false)
        return written
    }

    // MARK: Stat and delete

    /// Size, chunk count, and which nodes hold the manifest and each chunk (the first 10,000 objects).
    public func stat(_ address: FileAddress) async throws -> FileReport {
        let resolved = try await resolve(address)
        let stat = try await reader.stat(resolved)
        let ids = Array(stat.allObjectIDs.prefix(10_000))
        let holders = await deleter.holders(of: ids)
        let objects = zip(ids, holders).map { id, on in
            FileReport.Object(
                id: id.hex, kind: stat.manifestIDs.contains(id) ? "manifest" : "chunk", holders: on.map(\.id.hex))
        }
        return FileReport(
            address: resolved.root.hex, size: stat.size, chunkSize: stat.chunkSize, chunks: stat.chunkCount,
            isPublic: resolved.isPublic, objects: objects)
    }

    /// Deletes a file this node owns: removes this node's claims on its objects from every holder.
    /// Objects another file of this node also consists of keep their claim here; objects other
    /// owners also claim stay for them (the report says how many).
    /// - Throws: ``FetchError`` when the file cannot be found, `WireError(.forbidden)` when the
    ///   holders refuse because this node's key claims none of it.
    public func delete(_ address: FileAddress) async throws -> DeleteReport {
        let resolved = try await resolve(address)
        let stat = try await reader.stat(resolved)
        let shared = Set(try await metadata.objectsShared(by: resolved.root))
        let objects = stat.allObjectIDs.filter { !shared.contains($0) }
        var report = try await deleter.delete(objects: objects, root: resolved.root)
        report.address = resolved.root.hex
        report.objects = stat.allObjectIDs.count
        report.keptForOtherFiles = shared.count
        try await metadata.removeFileObjects(root: resolved.root)
        _ = try await metadata.removeKeyringEntry(root: resolved.root)
        return report
    }

    /// The files put through this node, newest first.
    public func keyring() async throws -> [KeyringEntry] {
        try await metadata.keyringEntries()
    }
}

/// Hands each object of an ingest to the placer, and records it among the upload's objects (in
/// batches) so that a failed upload can be withdrawn.
actor PlacingSink: ObjectSink {
    private let placer: ObjectPlacer
    private let metadata: MetadataStore
    private let upload: ContentID
    private var pending: [ContentID] = []
    private(set) var lookups = 0

    init(placer: ObjectPlacer, metadata: MetadataStore, upload: ContentID) {
        self.placer = placer
        self.metadata = metadata
        self.upload = upload
    }

    nonisolated func put(id: ContentID, bytes: ByteBuffer, kind: ObjectKind) async throws {
        // Recorded before it is placed: a crash in between leaves a record of it, never an orphan.
        try await record(id)
        let outcome = try await placer.place(id: id, bytes: bytes, kind: kind)
        if outcome.lookedUp { await countLookup() }
    }

    private func record(_ id: ContentID) async throws {
        pending.append(id)
        if pending.count >= 64 { try await flush() }
    }

    private func countLookup() { lookups += 1 }

    /// Records the objects not yet recorded.
    func flush() async throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        try await metadata.addFileObjects(root: upload, batch)
    }
}

/// Passes buffers through, reporting the running total.
struct CountingSequence<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let progress: (@Sendable (UInt64) -> Void)?

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let progress: (@Sendable (UInt64) -> Void)?
        var total: UInt64 = 0
        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            total += UInt64(buffer.readableBytes)
            progress?(total)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), progress: progress) }
}

/// What `stat` reports.
public struct FileReport: Codable, Sendable {
    public struct Object: Codable, Sendable {
        public var id: String
        public var kind: String
        public var holders: [String]
    }
    public var address: String
    public var size: UInt64
    public var chunkSize: UInt32
    public var chunks: Int
    public var isPublic: Bool
    public var objects: [Object]
}

/// What `rm` reports: exactly what the Delete did.
public struct DeleteReport: Codable, Sendable {
    public var address: String
    /// The file's objects (manifest nodes and chunks).
    public var objects: Int
    /// Object copies removed from holders (this node's claim was the last), caches included.
    public var removed = 0
    /// Objects whose claim by this node was removed but that stay because other owners claim them.
    public var retainedForOtherOwners = 0
    /// Objects kept because another file put through this node also consists of them.
    public var keptForOtherFiles = 0
    /// Nodes that removed something.
    public var holders: Set<String> = []
    /// Nodes that could not be reached; they refuse the data once they learn of the deletion.
    public var unreachable: Set<String> = []
}
