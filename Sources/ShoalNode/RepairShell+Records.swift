import Logging
import ShoalCore
import ShoalRepair
import ShoalStore

/// The tree kept in step with the metadata store: built at start, then every record the store
/// reports changed (``LocalObjects/takeChangedRecords(limit:)``) is read again and applied. The
/// store is the truth; the tree is only ever updated from what it says.
extension RepairShell {
    /// Quarantines old objects after a long absence, then builds the tree from the store.
    func load() async {
        let wall = clock.wallNow
        let metadata = objects.metadata
        do {
            let persisted = try await metadata.value(of: Self.lastSynchronizedKey).map { Timestamp(nanoseconds: $0) }
            if let last = persisted, settings.policy.mustQuarantine(lastSynchronized: last, now: wall) {
                let marked = try await objects.quarantineReplicas()
                if marked > 0 {
                    logger.warning(
                        """
                        this node was out of step with its co-holders for longer than the tombstone grace allows; \
                        its objects are quarantined (neither served nor pushed) until their other holders confirm them
                        """,
                        metadata: [
                            "objects": "\(marked)", "away.seconds": "\((wall - last).components.seconds)",
                            "tombstone.grace.seconds": "\(settings.policy.grace.components.seconds)",
                        ])
                }
            }
            if persisted == nil {
                // The first start that keeps the time: the absence counts from now.
                try await metadata.setValue(wall.nanoseconds, of: Self.lastSynchronizedKey)
            }
            statistics.lastSynchronized = persisted ?? wall
        } catch {
            logger.warning(
                "could not read or quarantine by the last synchronization time", metadata: ["error": "\(error)"])
        }
        tree = RecordTree(horizon: settings.policy.horizon(at: wall))
        var cursor: ContentID?
        // Bounded: each page advances the cursor through finitely many records.
        while true {
            let page: [MetadataRecord]
            do {
                guard !Task.isCancelled else { return }
                page = try await metadata.records(after: cursor, limit: 4096)
            } catch {
                logger.error(
                    "could not read the records to build the anti-entropy tree; repair runs on what was read",
                    metadata: ["error": "\(error)"])
                break
            }
            guard let last = page.last else { break }
            for record in page { apply(record, for: record.id) }
            cursor = last.id
        }
        for id in objects.withheldObjects { pending.insert(id) }
        loadedAt = clock.now
        phase = .running
        await drainChanges()
        logger.info(
            "repair records loaded",
            metadata: [
                "records": "\(tree.count)", "quarantined": "\(quarantined.count)",
                "withheld": "\(pending.count)", "tombstones": "\(tree.tombstoneCount)",
            ])
    }

    /// Reads again every record the store reported changed and applies it to the tree. One drain
    /// runs at a time; a call while one runs returns at once (that one picks up the changes).
    func drainChanges() async {
        guard phase != .loading, !draining else { return }
        draining = true
        defer { draining = false }
        // Bounded: each pass takes what changed so far; a pass with nothing ends it.
        while true {
            let ids = objects.takeChangedRecords(limit: 4096)
            guard !ids.isEmpty else { return }
            do {
                let records = try await objects.metadata.records(ids)
                for id in ids { apply(records[id], for: id) }
            } catch {
                objects.noteChanged(ids)
                logger.warning("could not read changed records; will retry", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    /// Applies the store's record of `id` (`nil`: none) to the tree and the quarantine set.
    func apply(_ stored: MetadataRecord?, for id: ContentID) {
        guard let stored else {
            tree.remove(id)
            quarantined.remove(id)
            pending.remove(id)
            return
        }
        if stored.state != .replica { pending.remove(id) }
        if stored.state == .unchecked {
            tree.remove(id)
            quarantined.insert(id)
            return
        }
        quarantined.remove(id)
        let record = ObjectRecord(
            id: id, kind: stored.kind, isStored: stored.state == .replica,
            claims: stored.claims.map { OwnerClaim(owner: intern($0.owner), claimedAt: $0.claimedAt) },
            tombstones: stored.tombstones.map {
                Tombstone(owner: intern($0.owner), deletedAt: $0.deletedAt, deleteID: $0.deleteID)
            })
        if record.isEmpty { tree.remove(id) } else { tree.upsert(record) }
    }

    /// The one shared value of `owner`.
    func intern(_ owner: ObjectOwner) -> ObjectOwner {
        if let known = owners[owner] { return known }
        if owners.count > 100_000 { owners = [:] }
        owners[owner] = owner
        return owner
    }
}

extension MetadataRecord {
    /// A record to merge into the store: the repair module's record, whatever its bytes.
    init(_ record: ObjectRecord) {
        self.init(id: record.id, kind: record.kind, claims: record.claims, tombstones: record.tombstones)
    }
}

/// A set of IDs whose members in a key range are found with a binary search (a sorted copy,
/// rebuilt after changes when next searched).
struct SortedIDs: Sendable {
    private var members: Set<ContentID> = []
    private var sorted: [ContentID] = []
    private var isSorted = true

    var count: Int { members.count }

    mutating func insert(_ id: ContentID) {
        if members.insert(id).inserted { isSorted = false }
    }

    mutating func remove(_ id: ContentID) {
        if members.remove(id) != nil { isSorted = false }
    }

    func contains(_ id: ContentID) -> Bool { members.contains(id) }

    /// The members, ascending (sorted again only after changes).
    mutating func ascending() -> [ContentID] {
        sortIfNeeded()
        return sorted
    }

    /// The IDs of `ascending` (sorted) in `range`.
    static func ids(in range: KeyRange, of ascending: [ContentID]) -> ArraySlice<ContentID> {
        let start = index(of: range.prefix, in: ascending)
        var end = start
        while end < ascending.count, range.contains(ascending[end]) { end += 1 }
        return ascending[start..<end]
    }

    private mutating func sortIfNeeded() {
        guard !isSorted else { return }
        sorted = members.sorted()
        isSorted = true
    }

    /// The first index of `ascending` whose ID is not below `id`.
    private static func index(of id: ContentID, in ascending: [ContentID]) -> Int {
        var low = 0
        var high = ascending.count
        while low < high {
            let mid = (low + high) / 2
            if ascending[mid] < id { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
