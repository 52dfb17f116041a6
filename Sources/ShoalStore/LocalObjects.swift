import Logging
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore

/// The objects this node holds, as one unit: the bytes on disk (``ChunkStore``) and what the
/// metadata says of them (``MetadataStore``: replica or cache, claims, tombstones), kept in step.
///
/// Both the request handler (stores, reads and deletes from peers) and this node's own put and get
/// paths go through it, so every rule is applied in one place:
/// - a store is decided first (ownership rules, ``ClaimDecision``), then written, then recorded;
///   a refused store writes nothing, and a failed write or record leaves nothing behind;
/// - replicas are durable before a store returns, with the syncs of concurrent stores batched
///   (``GroupCommit``); cached copies are written without a sync, off the reader's path, and
///   evicted least recently used first;
/// - space is counted as the disk counts it, files and metadata together, against `--max-storage`;
/// - every change to an object's record (a store, a Delete, a drop, what repair learns) is noted,
///   so that the in-memory copy repair keeps of the records can read it again
///   (``takeChangedRecords(limit:)``).
public final class LocalObjects: Sendable {
    public let chunks: ChunkStore
    public let metadata: MetadataStore
    private let logger: Logger
    private let group: GroupCommit
    private let cacheWrites: AsyncStream<CacheWrite>
    private let cacheWriter: AsyncStream<CacheWrite>.Continuation
    /// Objects a Delete listed recently: a copy offered to the cache before the Delete arrived is
    /// not written after it.
    private let recentlyDeleted = NIOLockedValueBox(RecentSet(capacity: 4096))
    /// The copy the cache writer is writing now, so that a Delete can wait for it to settle.
    private let writing = CacheWriting()
    /// Objects whose record changed since repair last read them.
    private let changed = NIOLockedValueBox(Set<ContentID>())
    /// Replicas not served until repair has compared them with their other holders (after a
    /// restart, a Delete may have happened meanwhile).
    private let withheld = NIOLockedValueBox(Set<ContentID>())

    /// How many fetched objects may wait for the cache writer; beyond it, new ones are not cached.
    public static let cacheQueueLimit = 16

    struct CacheWrite: Sendable {
        var id: ContentID
        var bytes: ByteBuffer
        var kind: ObjectKind
    }

    public init(chunks: ChunkStore, metadata: MetadataStore, logger: Logger) {
        self.chunks = chunks
        self.metadata = metadata
        self.logger = logger
        self.group = GroupCommit(chunks: chunks, metadata: metadata)
        (cacheWrites, cacheWriter) = AsyncStream.makeStream(
            of: CacheWrite.self, bufferingPolicy: .bufferingOldest(Self.cacheQueueLimit))
    }

    /// Opens the chunk store and the metadata database of a data directory and brings them in step:
    /// objects whose files are gone are forgotten, files the metadata does not list are kept as
    /// unchecked copies, and sizes are taken from the disk.
    /// - Parameter withholdingUntilChecked: a node's start: withhold every replica (not served
    ///   until repair has compared it with its other holders and releases it) and drop the copies
    ///   cached for readers, since Deletes may have happened while the node was down.
    /// - Throws: ``ChunkStoreError`` or ``MetadataStoreError`` (a damaged database is refused).
    public static func open(
        directory: String, maxStorage: UInt64?, cacheSize: UInt64, withholdingUntilChecked: Bool = false,
        logger: Logger
    ) async throws -> LocalObjects {
        let chunks = try await ChunkStore.open(directory: directory, maxBytes: maxStorage, logger: logger)
        let metadata: MetadataStore
        do {
            metadata = try await MetadataStore.open(
                path: directory + "/metadata.sqlite", cacheSize: cacheSize, logger: logger)
        } catch {
            chunks.close()
            throw error
        }
        let objects = LocalObjects(chunks: chunks, metadata: metadata, logger: logger)
        do {
            try await objects.reconcile()
            if withholdingUntilChecked {
                try await objects.dropCachedCopies()
                var cursor: ContentID?
                // Bounded: each page advances the cursor through finitely many replicas.
                while let page = try? await metadata.objects(in: [.replica], after: cursor, limit: 4096),
                    let last = page.last
                {
                    cursor = last.id
                    objects.withhold(page.map(\.id))
                }
            }
        } catch {
            await metadata.close()
            chunks.close()
            throw error
        }
        return objects
    }

    private func reconcile() async throws {
        let onDisk = try await chunks.inventory()
        let unlisted = try await metadata.reconcile(with: onDisk.mapValues { ($0.size, $0.allocated) })
        if !unlisted.isEmpty {
            logger.warning(
                "objects on disk that the metadata does not list are kept as unchecked copies until their owners are known",
                metadata: ["objects": "\(unlisted.count)"])
            try await metadata.adoptUnlisted(
                unlisted.map {
                    StoredObject(
                        id: $0, kind: .chunk, size: onDisk[$0]!.size, allocated: onDisk[$0]!.allocated,
                        state: .unchecked)
                })
        }
        chunks.setExternalBytes(await metadata.databaseBytes())
    }

    /// Durable batches published so far, and the objects in them (group commit at work).
    public func commitStatistics() async -> (batches: Int, objects: Int) {
        (await group.batches, await group.objects)
    }

    /// Closes both stores. Nothing may be used afterwards.
    public func close() async {
        cacheWriter.finish()
        await metadata.close()
        chunks.close()
    }

    // MARK: - Storing

    /// Stores a replica durably and records its claims; returns once both are on disk.
    /// - Parameters:
    ///   - id: SHA-256 of `bytes`.
    ///   - bytes: the object as stored.
    ///   - kind: chunk or manifest.
    ///   - claims: the claims it comes with (an anonymous claim when it names no owner).
    ///   - fresh: an owner storing now (`true`), or a push of earlier claims (`false`).
    ///   - tombstones: a push's tombstones, already verified: they refuse the claims of their
    ///     owners made before them, and are recorded.
    ///   - hashVerified: the caller computed `id` from these very bytes (skips a second hash).
    ///   - now: the wall-clock time, for fresh claims.
    /// - Returns: whether the bytes were written now or were already held.
    /// - Throws: ``LocalObjectsError/gone(_:)`` when every claim is refused by its owner's later
    ///   Delete (nothing is written); ``ChunkStoreError`` (`capacityExceeded`, `diskFull`,
    ///   `hashMismatch`, …) or ``MetadataStoreError``; nothing is left behind.
    @discardableResult
    public func storeReplica(
        _ id: ContentID, bytes: ByteBuffer, kind: ObjectKind, claims: [OwnerClaim], fresh: Bool,
        tombstones: [Tombstone] = [], hashVerified: Bool, now: Timestamp
    ) async throws -> StoreResult {
        defer { noteChanged([id]) }
        let offered = claims.isEmpty ? [OwnerClaim(owner: .anonymous, claimedAt: now)] : claims
        let (decision, existing) = try await metadata.decide(
            id, offered: offered, fresh: fresh, tombstones: tombstones, now: now)
        if decision.accepted.isEmpty {
            if let existing, existing.state != .cache { return .alreadyHeld }
            throw LocalObjectsError.gone(id)
        }
        if fresh { release([id]) }
        if let existing, existing.state != .cache {
            if existing.state == .unchecked && fresh {
                // An owner putting it now vouches for it: the unchecked copy is a replica again.
                try await metadata.commit([
                    ObjectCommit(
                        record: existing.with(state: .replica), decision: decision,
                        tombstones: tombstones)
                ])
            } else {
                try await metadata.addClaims(decision, tombstones: tombstones, to: id)
            }
            return .alreadyHeld
        }
        let record = StoredObject(
            id: id, kind: kind, size: UInt64(bytes.readableBytes),
            allocated: ChunkStore.roundUp(UInt64(bytes.readableBytes)), state: .replica)
        if existing != nil {
            // A cached copy becomes a replica: it was written without a sync, so write it again durably.
            _ = try await chunks.delete(id)
            _ = try await metadata.removeObject(id, keepingClaims: true)
        }
        guard let staged = try await chunks.stage(bytes, id: id, verifyHash: !hashVerified) else {
            // Another store of the same object published it first; record the claims with it.
            try await metadata.commit([ObjectCommit(record: record, decision: decision, tombstones: tombstones)])
            return .alreadyHeld
        }
        _ = try await group.commit(
            GroupCommit.Item(
                staged: staged,
                commit: ObjectCommit(
                    record: record, decision: decision,
                    tombstones: tombstones)))
        return .stored
    }

    /// Offers a verified copy fetched for a reader to the cache. Returns at once: the copy is
    /// written later by ``runCacheWriter()``, without a sync, and dropped if the writer is behind.
    public func cache(_ id: ContentID, bytes: ByteBuffer, kind: ObjectKind) {
        _ = cacheWriter.yield(CacheWrite(id: id, bytes: bytes, kind: kind))
    }

    /// Writes offered copies into the cache until ``close()``. Run it for the life of the node.
    public func runCacheWriter() async {
        for await write in cacheWrites {
            if recentlyDeleted.withLockedValue({ $0.contains(write.id) }) { continue }
            await writing.begin(write.id)
            await writeToCache(write)
            await writing.end()
        }
    }

    private func writeToCache(_ write: CacheWrite) async {
        do {
            guard try await metadata.object(write.id) == nil,
                let staged = try await chunks.stage(write.bytes, id: write.id, verifyHash: false)
            else { return }
            guard case .success(let space?) = await chunks.publish([staged], durable: false).first else { return }
            let record = StoredObject(
                id: write.id, kind: write.kind, size: space.size, allocated: space.allocated, state: .cache)
            for victim in try await metadata.cacheInsert(record) {
                _ = try await chunks.delete(victim.id)
            }
            // A Delete that began while the copy was being written found nothing to drop.
            if recentlyDeleted.withLockedValue({ $0.contains(write.id) }),
                try await metadata.object(write.id)?.state == .cache
            {
                _ = try await metadata.removeObject(write.id)
                _ = try await chunks.delete(write.id)
            }
            chunks.setExternalBytes(await metadata.databaseBytes())
        } catch {
            logger.debug(
                "could not cache a fetched object", metadata: ["chunk.id": "\(write.id.short)", "error": "\(error)"])
        }
    }

    // MARK: - Reading

    /// What this node holds of `id`, or `nil`.
    public func holding(_ id: ContentID) async throws -> StoredObject? {
        try await metadata.object(id)
    }

    /// Reads part of an object this node serves (replicas and cached copies; unchecked and
    /// withheld copies are not served).
    /// - Parameter verify: hash the whole object first (quarantining it if corrupt).
    /// - Throws: ``ChunkStoreError`` (`notFound`, `corrupt`, `rangeOutOfBounds`, `io`).
    public func read(_ id: ContentID, offset: UInt64, length: UInt64, verify: Bool) async throws -> ChunkSlice {
        guard let record = try await metadata.object(id), record.state != .unchecked, !isWithheld(id) else {
            throw ChunkStoreError(.notFound, id: id, "object \(id.short) is not served by this node")
        }
        do {
            let slice = try await chunks.read(id, offset: offset, length: length, verify: verify)
            if record.state == .cache { try? await metadata.touch(id) }
            return slice
        } catch let error as ChunkStoreError where error.code == .corrupt || error.code == .notFound {
            _ = try? await metadata.removeObject(id)
            noteChanged([id])
            throw error
        }
    }

    /// A whole object, verified against its ID, or `nil` when this node does not serve it.
    public func get(_ id: ContentID) async throws -> ByteBuffer? {
        do {
            return try await read(id, offset: 0, length: 0, verify: true).data
        } catch let error as ChunkStoreError where error.code == .notFound || error.code == .corrupt {
            return nil
        }
    }

    /// A reader found this node's copy bad: verifies it, and quarantines and forgets it if so.
    /// - Returns: `true` when the copy was corrupt (and is gone now).
    @discardableResult
    public func checkReportedCopy(_ id: ContentID) async throws -> Bool {
        guard try await metadata.object(id) != nil else { return false }
        do {
            if try await chunks.verify(id) { return false }
        } catch let error as ChunkStoreError where error.code == .notFound {
            // Gone from disk: forget it too.
        }
        try await metadata.removeObject(id)
        noteChanged([id])
        return true
    }

    // MARK: - Deleting

    /// Applies an owner's (already authorised) Delete: removes the owner's claims and the objects
    /// no claim keeps, files and records.
    /// - Returns: the effect on each listed object, in order.
    /// - Parameter recordingAbsent: objects to keep the tombstone of even where this node has no
    ///   record of them (it is among their closest nodes).
    public func applyDelete(
        owner: ObjectOwner, objects ids: [ContentID], deletedAt: Timestamp, deleteID: Key256,
        message: [UInt8], recordingAbsent: Set<ContentID> = []
    ) async throws -> [DeleteEffect] {
        recentlyDeleted.withLockedValue { set in for id in ids { set.insert(id) } }
        await writing.settle(Set(ids))
        defer { noteChanged(ids) }
        let effects = try await metadata.applyDelete(
            owner: owner, objects: ids, deletedAt: deletedAt, deleteID: deleteID,
            message: message, recordingAbsent: recordingAbsent)
        for (id, effect) in zip(ids, effects) where effect == .removed || effect == .droppedFromCache {
            _ = try await chunks.delete(id)
        }
        chunks.setExternalBytes(await metadata.databaseBytes())
        return effects
    }

    /// Drops a replica handed off to the nodes now responsible for it, with its record (its claims
    /// and tombstones went with it).
    /// - Returns: `true` when it was held.
    @discardableResult
    public func drop(_ id: ContentID) async throws -> Bool {
        defer { noteChanged([id]) }
        guard let held = try await metadata.removeRecord(id) else { return false }
        if held.state != .cache { _ = try await chunks.delete(id) }
        chunks.setExternalBytes(await metadata.databaseBytes())
        return true
    }

    // MARK: - Withholding

    /// Stops serving `ids` (replicas) until they are released.
    public func withhold(_ ids: some Sequence<ContentID>) {
        withheld.withLockedValue { set in for id in ids { set.insert(id) } }
    }

    /// Serves `ids` again.
    public func release(_ ids: some Sequence<ContentID>) {
        withheld.withLockedValue { set in for id in ids { set.remove(id) } }
    }

    /// Whether `id` is withheld.
    public func isWithheld(_ id: ContentID) -> Bool {
        withheld.withLockedValue { $0.contains(id) }
    }

    /// The objects withheld now.
    public var withheldObjects: Set<ContentID> { withheld.withLockedValue { $0 } }

    /// Forgets every copy cached for readers (at start: copies of files deleted while the node was
    /// down would otherwise be served).
    /// - Returns: how many were dropped.
    @discardableResult
    public func dropCachedCopies() async throws -> Int {
        var dropped = 0
        var cursor: ContentID?
        // Bounded: each page advances the cursor through finitely many cached copies.
        while let page = try? await metadata.objects(in: [.cache], after: cursor, limit: 1024), let last = page.last {
            cursor = last.id
            for object in page where try await metadata.removeObject(object.id) != nil {
                _ = try await chunks.delete(object.id)
                dropped += 1
            }
        }
        chunks.setExternalBytes(await metadata.databaseBytes())
        return dropped
    }

    // MARK: - Records

    /// Frees the bytes of deleted content (every claim tombstoned), keeping its record; does
    /// nothing when a claim was made meanwhile.
    /// - Returns: `true` when bytes were freed.
    @discardableResult
    public func discard(_ id: ContentID) async throws -> Bool {
        defer { noteChanged([id]) }
        guard try await metadata.discard(id) != nil else { return false }
        _ = try await chunks.delete(id)
        chunks.setExternalBytes(await metadata.databaseBytes())
        return true
    }

    /// Merges what peers know into the records (``MetadataStore/mergeRecords(_:deletes:)``).
    public func mergeRecords(_ records: [MetadataRecord], deletes: [Key256: [UInt8]] = [:]) async throws {
        guard !records.isEmpty || !deletes.isEmpty else { return }
        defer { noteChanged(records.map(\.id)) }
        try await metadata.mergeRecords(records, deletes: deletes)
    }

    /// Settles a quarantined object by what its other holders know
    /// (``MetadataStore/settleQuarantined(_:learned:cutoff:deletes:)``), freeing its bytes when it
    /// turns out deleted.
    /// - Returns: whether it was settled.
    public func settleQuarantined(
        _ id: ContentID, learned: MetadataRecord, cutoff: Timestamp,
        deletes: [Key256: [UInt8]] = [:]
    ) async throws -> Bool {
        defer { noteChanged([id]) }
        let (freed, settled) = try await metadata.settleQuarantined(
            id, learned: learned, cutoff: cutoff, deletes: deletes)
        if freed != nil {
            _ = try await chunks.delete(id)
            chunks.setExternalBytes(await metadata.databaseBytes())
        }
        return settled
    }

    /// Forgets a record this node keeps no bytes of (claims learned for an object others hold).
    /// - Returns: whether it was forgotten (not when bytes are held).
    @discardableResult
    public func forgetRecordWithoutBytes(_ id: ContentID) async throws -> Bool {
        guard try await metadata.object(id).map({ $0.state == .cache }) ?? true else { return false }
        defer { noteChanged([id]) }
        try await metadata.removeRecord(id, keepingBytes: true)
        return true
    }

    /// Quarantines every replica (``MetadataStore/markAllReplicasUnchecked()``).
    /// - Returns: how many.
    public func quarantineReplicas() async throws -> Int {
        let marked = try await metadata.markAllReplicasUnchecked()
        return marked
    }

    /// Forgets tombstones expired at `cutoff` (``MetadataStore/removeTombstones(before:)``).
    public func expireTombstones(before cutoff: Timestamp) async throws {
        try await metadata.removeTombstones(before: cutoff)
        chunks.setExternalBytes(await metadata.databaseBytes())
    }

    /// Notes that the records of `ids` changed (for repair's copy of them).
    public func noteChanged(_ ids: some Sequence<ContentID>) {
        changed.withLockedValue { set in for id in ids { set.insert(id) } }
    }

    /// Takes up to `limit` of the objects whose record changed since the last call.
    public func takeChangedRecords(limit: Int) -> [ContentID] {
        changed.withLockedValue { set in
            var out: [ContentID] = []
            out.reserveCapacity(min(limit, set.count))
            while out.count < limit, let id = set.popFirst() { out.append(id) }
            return out
        }
    }
}

/// What ``LocalObjects/storeReplica(_:bytes:kind:claims:fresh:hashVerified:now:)`` did.
public enum StoreResult: Sendable, Hashable {
    /// The bytes were written and synced now.
    case stored
    /// The object was already held as a replica; its claims were recorded.
    case alreadyHeld
}

/// A store the ownership rules refuse.
public enum LocalObjectsError: Error, Sendable, CustomStringConvertible {
    /// Every claim the store carried was deleted by its owner afterwards.
    case gone(ContentID)

    public var description: String {
        switch self {
        case .gone(let id):
            return
                "object \(id.hex) was deleted by every owner whose claim this store carries; it is not stored again (a fresh put by an owner is always accepted)"
        }
    }
}

/// Which object the cache writer is writing, so that a Delete can wait until that write settled
/// (and saw the Delete) before it reports the object gone.
actor CacheWriting {
    private var current: ContentID?
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func begin(_ id: ContentID) { current = id }

    func end() {
        current = nil
        let ready = waiters
        waiters = []
        for waiter in ready { waiter.resume() }
    }

    /// Returns once no object of `ids` is being written.
    func settle(_ ids: Set<ContentID>) async {
        while let current, ids.contains(current) {
            await withCheckedContinuation { waiters.append($0) }
        }
    }
}

/// The most recent IDs inserted, at most `capacity` of them.
struct RecentSet: Sendable {
    let capacity: Int
    private var members: Set<ContentID> = []
    private var order: [ContentID] = []
    private var head = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func contains(_ id: ContentID) -> Bool { members.contains(id) }

    mutating func insert(_ id: ContentID) {
        guard members.insert(id).inserted else { return }
        if order.count < capacity {
            order.append(id)
        } else {
            members.remove(order[head])
            order[head] = id
            head = (head + 1) % capacity
        }
    }
}

extension StoredObject {
    func with(state: ObjectState) -> StoredObject {
        var copy = self
        copy.state = state
        return copy
    }
}
