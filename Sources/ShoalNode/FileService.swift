import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore
import ShoalDHT
import ShoalStore
import ShoalTransport
import ShoalWire

/// Put, get, stat and delete of whole files across the cluster.
///
/// Put streams a file through chunk → seal → place each object on its `r` closest nodes, with a
/// bounded number of objects in flight, the root manifest last. Get finds each object by lookup and
/// fetches it from a holder, falling back to the next on timeout, error or bad hash; chunks fetched
/// for a reader stay in the local LRU cache.
public final class FileService: Sendable {
    let local: Contact
    let identity: NodeIdentity
    let replicas: Int
    let chunkSize: Int
    let window: Int
    let transport: Transport
    let dht: DHTShell
    let chunks: ChunkStore
    let metadata: MetadataStore
    let logger: Logger
    let metrics: NodeMetrics
    /// Peers that served bad bytes, and when: tried last for a while.
    let suspects = NIOLockedValueBox<[NodeID: Int]>([:])

    init(local: Contact, identity: NodeIdentity, replicas: Int, chunkSize: Int, window: Int, transport: Transport,
         dht: DHTShell, chunks: ChunkStore, metadata: MetadataStore, metrics: NodeMetrics, logger: Logger) {
        self.local = local
        self.identity = identity
        self.replicas = replicas
        self.chunkSize = chunkSize
        self.window = window
        self.transport = transport
        self.dht = dht
        self.chunks = chunks
        self.metadata = metadata
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: Put

    /// Stores a file in the cluster.
    /// - Parameters:
    ///   - bytes: the file's bytes, in order.
    ///   - isPublic: store plaintext, addressed by hash alone.
    ///   - name: a name for the local keyring (not part of the address).
    ///   - progress: called with the bytes consumed so far.
    /// - Returns: the address (with key for private files) and what was written.
    /// - Throws: ``PlacementError`` when an object could not reach enough replicas; it says how many did.
    public func put<Bytes: AsyncSequence>(_ bytes: Bytes, isPublic: Bool, name: String = "",
                                          progress: (@Sendable (UInt64) -> Void)? = nil) async throws -> IngestResult
    where Bytes.Element == ByteBuffer {
        let ingest = try FileIngest(chunkSize: chunkSize, maxInFlight: window)
        let sink = NetworkObjectSink(service: self)
        let counted = CountingSequence(base: bytes, progress: progress)
        let result = try await ingest.ingest(counted, into: sink, encryption: isPublic ? .public : .private())
        try await metadata.saveKeyringEntry(KeyringEntry(address: result.address, size: result.size, name: name,
                                                         createdAt: Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))))
        logger.info("file stored", metadata: ["file.root": "\(result.address.root.short)", "file.size": "\(result.size)",
                                              "file.chunks": "\(result.chunkCount)"])
        return result
    }

    /// The nodes that should hold `id`: a lookup's closest live nodes plus this node, the `r` closest.
    func placement(for id: ContentID) async -> [Contact] {
        let found = await dht.lookup(id).closest
        return Placement.replicaSet(for: id, r: replicas, among: found + [local])
    }

    /// Stores one object on its `r` closest nodes.
    func place(id: ContentID, bytes: [UInt8], kind: ObjectKind) async throws {
        var targets = await placement(for: id)
        let owner = identity.ownerPublicKey
        var acked: [Contact] = []
        var failures: [String] = []
        var tried: Set<NodeID> = []
        // At most two rounds: the second follows the better contacts a decliner names.
        for _ in 0..<2 {
            let round = targets.filter { !tried.contains($0.id) }
            guard !round.isEmpty else { break }
            var redirects: [Contact] = []
            await withTaskGroup(of: (Contact, Result<StoreAck, Error>).self) { group in
                for target in round {
                    tried.insert(target.id)
                    group.addTask { [self] in
                        if target.id == local.id {
                            do {
                                try await storeHere(id: id, bytes: bytes, kind: kind, owner: [UInt8](owner))
                                return (target, .success(StoreAck(stored: true)))
                            } catch { return (target, .failure(error)) }
                        }
                        do {
                            let response = try await transport.request(
                                .storeChunk(StoreChunk(id: id, data: Data(bytes), kind: kind, root: .zero, ownerKey: owner)),
                                to: target, timeout: .seconds(30))
                            guard case .storeAck(let ack) = response else {
                                return (target, .failure(TransportError.protocolViolation("StoreChunk answered with \(response.name)")))
                            }
                            return (target, .success(ack))
                        } catch {
                            return (target, .failure(error))
                        }
                    }
                }
                for await (target, result) in group {
                    switch result {
                    case .success(let ack) where ack.stored:
                        acked.append(target)
                    case .success(let ack):
                        failures.append("\(target.id.short) declined: \(ack.reason)")
                        redirects.append(contentsOf: ack.closer)
                    case .failure(let error):
                        failures.append("\(target.id.short): \(error)")
                        if !(error is WireError) { await dht.peerFailed(target.id) }
                    }
                }
            }
            if acked.count >= replicas { break }
            targets = Placement.replicaSet(for: id, r: replicas, among: targets + redirects + [local])
                .filter { !tried.contains($0.id) }
        }
        let known = await dht.size + 1
        let required = min(replicas, known)
        guard acked.count >= required else {
            throw PlacementError(id: id, achieved: acked.count, required: required, failures: failures)
        }
    }

    /// Writes an object this node must keep (placed here, or put through this node) and records
    /// its pin and owner. A pinned copy is no longer a cache entry.
    func storeHere(id: ContentID, bytes: [UInt8], kind: ObjectKind, root: ContentID? = nil, owner: [UInt8]?) async throws {
        try await metadata.pin(id, root: root ?? id, kind: kind)
        if let owner { try await metadata.addOwner(owner, of: id) }
        if try await metadata.isCached(id) { try await metadata.cacheRemove(id) }
        try await chunks.put(bytes, id: id)
    }

    // MARK: Get

    /// Fills in the key of a private file uploaded through this node when the address lacks it.
    public func resolve(_ address: FileAddress) async throws -> FileAddress {
        guard address.key == nil, let entry = try await metadata.keyringEntry(root: address.root) else { return address }
        return entry.address
    }

    /// Opens a file: fetches and decodes its root manifest.
    public func open(_ address: FileAddress) async throws -> OpenFile {
        try await FileReader(source: NetworkObjectSource(service: self), maxInFlight: window).open(try await resolve(address))
    }

    /// Streams a byte range of an open file to `write`, in order, verified.
    @discardableResult
    public func read(_ file: OpenFile, offset: UInt64 = 0, length: UInt64? = nil,
                     to write: (ByteBuffer) async throws -> Void) async throws -> UInt64 {
        try await FileReader(source: NetworkObjectSource(service: self), maxInFlight: window)
            .read(file, offset: offset, length: length, to: write)
    }

    /// Fetches one object: locally if held, else from the nodes a value lookup names, trying the
    /// next holder on timeout, error or hash mismatch. Fetched objects not pinned here are cached.
    func fetch(id: ContentID, kind: ObjectKind) async throws -> [UInt8] {
        if try await chunks.contains(id) {
            do {
                let bytes = try await chunks.get(id)
                _ = try? await metadata.cacheTouch(id)
                return bytes
            } catch let error as ChunkStoreError where error.code == .corrupt || error.code == .notFound {
                if error.code == .corrupt { metrics.corruptChunk() }
                logger.warning("local copy unusable; fetching from the network", metadata: ["chunk.id": "\(id.short)", "error": "\(error)"])
            }
        }
        let result = await dht.lookup(id, kind: .value)
        var candidates = result.holders
        for c in result.closest where !candidates.contains(c) { candidates.append(c) }
        let penalties = suspects.withLockedValue { $0 }
        candidates = candidates.enumerated().sorted {
            (penalties[$0.element.id] ?? 0, $0.offset) < (penalties[$1.element.id] ?? 0, $1.offset)
        }.map(\.element)
        var errors: [String] = []
        var tried: Set<NodeID> = [local.id]
        if let bytes = await fetch(id, from: candidates, tried: &tried, errors: &errors) { return bytes }
        // A value lookup stops at the first holder; when that copy (and the others seen) failed,
        // ask the object's r closest nodes, where the other replicas live.
        let closest = await dht.lookup(id).closest.prefix(replicas + 2)
        if let bytes = await fetch(id, from: Array(closest), tried: &tried, errors: &errors) { return bytes }
        metrics.fetchFailed()
        throw FetchError(id: id, attempts: errors)
    }

    /// Tries each untried candidate in turn (at most 8); returns the first copy that verifies.
    private func fetch(_ id: ContentID, from candidates: [Contact], tried: inout Set<NodeID>, errors: inout [String]) async -> [UInt8]? {
        for holder in candidates where !tried.contains(holder.id) {
            guard tried.count <= 8 else { break }
            tried.insert(holder.id)
            do {
                let response = try await transport.request(.getChunk(GetChunk(id: id)), to: holder, timeout: .seconds(15))
                guard case .chunkData(let data) = response else {
                    errors.append("\(holder.id.short): answered \(response.name)")
                    continue
                }
                let bytes = [UInt8](data.data)
                guard data.offset == 0, UInt64(bytes.count) == data.totalSize, Key256.sha256(of: bytes) == id else {
                    suspects.withLockedValue { $0[holder.id, default: 0] += 1 }
                    metrics.corruptChunk()
                    logger.warning("peer served bytes that do not match the hash; trying another holder",
                                   metadata: ["peer.id": "\(holder.id.short)", "chunk.id": "\(id.short)"])
                    errors.append("\(holder.id.short): bad hash")
                    continue
                }
                await cache(id: id, bytes: bytes)
                return bytes
            } catch {
                errors.append("\(holder.id.short): \(error)")
                if !(error is WireError) { await dht.peerFailed(holder.id) }
            }
        }
        return nil
    }

    private func cache(id: ContentID, bytes: [UInt8]) async {
        do {
            if try await metadata.isPinned(id) { return }
            let evicted = try await metadata.cacheInsert(id, size: UInt64(bytes.count))
            try await chunks.put(bytes, id: id)
            for old in evicted where old != id {
                if try await !metadata.isPinned(old) { _ = try await chunks.delete(old) }
            }
        } catch {
            logger.debug("could not cache a fetched object", metadata: ["chunk.id": "\(id.short)", "error": "\(error)"])
        }
    }

    // MARK: Stat and delete

    /// Size, chunk count, and which nodes hold the manifest and each chunk.
    public func stat(_ address: FileAddress) async throws -> FileReport {
        let resolved = try await resolve(address)
        let stat = try await FileReader(source: NetworkObjectSource(service: self), maxInFlight: window).stat(resolved)
        var objects: [FileReport.Object] = []
        for id in stat.allObjectIDs.prefix(10_000) {
            objects.append(FileReport.Object(id: id.hex, kind: stat.manifestIDs.contains(id) ? "manifest" : "chunk",
                                             holders: await holders(of: id).map(\.id.hex)))
        }
        return FileReport(address: resolved.root.hex, size: stat.size, chunkSize: stat.chunkSize, chunks: stat.chunkCount,
                          isPublic: resolved.isPublic, objects: objects)
    }

    /// The nodes among an object's closest that keep it as a replica (cached copies do not count).
    func holders(of id: ContentID) async -> [Contact] {
        let closest = await placement(for: id)
        var out: [Contact] = []
        for c in closest {
            if c.id == local.id {
                if (try? await chunks.contains(id)) == true, (try? await metadata.isCached(id)) != true { out.append(c) }
                continue
            }
            if case .valueResult(let v)? = try? await transport.request(.findValue(key: id), to: c, timeout: .seconds(5)), v.held, v.replica {
                out.append(c)
            }
        }
        return out
    }

    /// Deletes a file this node owns from every holder.
    /// - Throws: ``FetchError`` when the file cannot be found, `WireError(.forbidden)` when a holder
    ///   refuses because this node's key is not the owner's.
    public func delete(_ address: FileAddress) async throws -> DeleteReport {
        let resolved = try await resolve(address)
        let stat = try await FileReader(source: NetworkObjectSource(service: self), maxInFlight: window).stat(resolved)
        let objects = stat.allObjectIDs
        // Every object's r closest nodes hold it; any other node may hold copies cached for readers.
        // So the whole signed list goes to the replicas and to every other node this one knows.
        var targets: [NodeID: Contact] = [local.id: local]
        for id in objects {
            for c in await placement(for: id) { targets[c.id] = c }
        }
        for c in await dht.allContacts() { targets[c.id] = c }
        let batches = try stride(from: 0, to: objects.count, by: DeleteRequest.maximumObjects).map {
            try signedDelete(root: resolved.root, objects: Array(objects[$0..<min($0 + DeleteRequest.maximumObjects, objects.count)]))
        }
        var report = DeleteReport(address: resolved.root.hex, objects: objects.count)
        var forbidden: WireError?
        await withTaskGroup(of: (Contact, Result<Int, Error>).self) { group in
            for target in targets.values {
                group.addTask { [self] in
                    var removed = 0
                    for request in batches {
                        do {
                            let response = target.id == local.id
                                ? try await applyDelete(request)
                                : try await transport.request(.delete(request), to: target, timeout: .seconds(30))
                            if case .deleteAck(let n, _) = response { removed += Int(n) }
                        } catch {
                            return (target, .failure(error))
                        }
                    }
                    return (target, .success(removed))
                }
            }
            for await (target, result) in group {
                switch result {
                case .success(let removed):
                    report.removed += removed
                    if removed > 0 { report.holders.insert(target.id.hex) }
                case .failure(let error as WireError) where error.code == .forbidden:
                    forbidden = error
                case .failure:
                    report.unreachable.insert(target.id.hex)
                }
            }
        }
        if let forbidden { throw forbidden }
        _ = try await metadata.removeKeyringEntry(root: resolved.root)
        return report
    }

    /// Applies an owner-signed Delete to this node's store: verifies the signature, removes the
    /// objects whose recorded owner signed it, and leaves tombstones so repair never restores them.
    func applyDelete(_ delete: DeleteRequest) async throws -> WireMessage {
        guard OwnerSignature.verify(signature: [UInt8](delete.signature), message: delete.statementBytes,
                                    publicKey: [UInt8](delete.ownerKey)) else {
            throw WireError(.forbidden, "the Delete signature does not verify against the key it carries")
        }
        let age = Int64(Date().timeIntervalSince1970).saturatingSubtract(delete.issuedAt)
        guard age <= DeleteRequest.maximumAge, age >= -DeleteRequest.maximumClockSkew else {
            throw WireError(.badRequest, "the Delete was issued \(age) s ago; only Deletes issued within the last \(DeleteRequest.maximumAge) s (and at most \(DeleteRequest.maximumClockSkew) s in the future) are accepted, so an old one cannot be replayed — sign a new one")
        }
        let owner = [UInt8](delete.ownerKey)
        // All or nothing: refuse the whole Delete if any listed object belongs to someone else.
        var refused: [ContentID] = []
        for id in delete.objects {
            let owners = try await metadata.owners(of: id)
            if !owners.isEmpty && !owners.contains(owner) { refused.append(id) }
        }
        if !refused.isEmpty {
            throw WireError(.forbidden, "not the owner of \(refused.count) of \(delete.objects.count) objects (first: \(refused[0].hex)); only the key that stored a file can delete it")
        }
        var removed: UInt32 = 0
        var absent: UInt32 = 0
        for id in delete.objects {
            let owners = try await metadata.owners(of: id)
            let present = try await chunks.contains(id)
            if owners.isEmpty {
                // Not owned here: a cached copy at most. Dropping a cache copy is harmless.
                if present, try await metadata.isCached(id) {
                    try await metadata.cacheRemove(id)
                    _ = try await chunks.delete(id)
                    removed += 1
                } else {
                    absent += 1
                }
                continue
            }
            _ = try await metadata.removeOwner(owner, of: id)
            if try await metadata.owners(of: id).isEmpty {
                try await metadata.addTombstone(id, deletedAt: Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)))
                for root in try await metadata.roots(pinning: id) { _ = try await metadata.unpin(id, root: root) }
                if try await metadata.isCached(id) { try await metadata.cacheRemove(id) }
                if try await chunks.delete(id) { removed += 1 } else { absent += 1 }
            } else {
                removed += 1
            }
        }
        return .deleteAck(removed: removed, absent: absent)
    }

    func signedDelete(root: ContentID, objects: [ContentID]) throws -> DeleteRequest {
        let issuedAt = Int64(Date().timeIntervalSince1970)
        let statement = DeleteRequest.statementBytes(root: root, objects: objects, issuedAt: issuedAt)
        let signature = try OwnerSignature.sign(message: statement, with: identity.privateKey)
        return DeleteRequest(root: root, objects: objects, issuedAt: issuedAt, ownerKey: identity.ownerPublicKey,
                             signature: Data(signature))
    }
}

/// Puts objects on their `r` closest nodes.
struct NetworkObjectSink: ObjectSink {
    let service: FileService
    func put(id: ContentID, bytes: [UInt8], kind: ObjectKind) async throws {
        try await service.place(id: id, bytes: bytes, kind: kind)
    }
}

/// Gets objects from this node or the cluster.
struct NetworkObjectSource: ObjectSource {
    let service: FileService
    func get(id: ContentID, kind: ObjectKind) async throws -> [UInt8] {
        try await service.fetch(id: id, kind: kind)
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

/// An object could not be stored on enough nodes.
public struct PlacementError: Error, CustomStringConvertible {
    public var id: ContentID
    public var achieved: Int
    public var required: Int
    public var failures: [String]
    public var description: String {
        "object \(id.short) reached \(achieved) of \(required) replicas (\(failures.prefix(3).joined(separator: "; "))); the file was not stored completely — check that enough nodes are up and have space, then put it again"
    }
}

/// An object could not be fetched from any holder.
public struct FetchError: Error, CustomStringConvertible {
    public var id: ContentID
    public var attempts: [String]
    public var description: String {
        attempts.isEmpty
            ? "object \(id.short) was not found on any node"
            : "object \(id.short) could not be fetched from any holder (\(attempts.prefix(3).joined(separator: "; ")))"
    }
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

/// What `rm` reports.
public struct DeleteReport: Codable, Sendable {
    public var address: String
    public var objects: Int
    public var removed = 0
    public var holders: Set<String> = []
    public var unreachable: Set<String> = []
}
