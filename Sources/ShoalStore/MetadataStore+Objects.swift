import ShoalCore

/// One object to record after its bytes are durably on disk (a group commit records many at once).
public struct ObjectCommit: Sendable, Hashable {
    public var record: StoredObject
    public var decision: ClaimDecision
    /// Tombstones the store carried (a push's, already verified), merged into the object's record.
    public var tombstones: [Tombstone]

    public init(record: StoredObject, decision: ClaimDecision, tombstones: [Tombstone] = []) {
        self.record = record
        self.decision = decision
        self.tombstones = tombstones
    }
}

/// What an owner's Delete did to one object here.
public enum DeleteEffect: Sendable, Hashable {
    /// The signer's claim was the last: the object's record is gone; delete its file.
    case removed
    /// The object was only cached here: its record is gone; delete its file.
    case droppedFromCache
    /// The signer's claim was removed; other owners' claims keep the object.
    case retained(otherOwners: Int)
    /// The signer has no claim on this object here (absent, or kept for other owners only).
    case notClaimed
}

extension MetadataStore {
    // MARK: - Objects

    /// The record of `id`, or `nil` when this node does not hold it.
    public func object(_ id: ContentID) throws -> StoredObject? {
        try run {
            try db.query("SELECT kind, size, allocated, state FROM objects WHERE id = ?", [.key(id)]).first.map {
                try Self.record(id: id, $0)
            }
        }
    }

    /// The claims on `id`, oldest first.
    public func claims(of id: ContentID) throws -> [OwnerClaim] {
        try run {
            try db.query("SELECT owner, claimed_at FROM claims WHERE id = ? ORDER BY claimed_at, owner", [.key(id)]).map
            {
                OwnerClaim(owner: Self.owner($0[0]), claimedAt: Self.timestamp($0[1]))
            }
        }
    }

    /// For each of `ids`, the claims on it when it is held as a replica (or unchecked copy), else none.
    public func claims(ofReplicas ids: [ContentID]) throws -> [[OwnerClaim]] {
        try run {
            try ids.map { id in
                guard
                    let state = try db.query("SELECT state FROM objects WHERE id = ?", [.key(id)]).first?.first?
                        .integer,
                    state != Int64(ObjectState.cache.rawValue)
                else { return [] }
                return try db.query("SELECT owner, claimed_at FROM claims WHERE id = ?", [.key(id)]).map {
                    OwnerClaim(owner: Self.owner($0[0]), claimedAt: Self.timestamp($0[1]))
                }
            }
        }
    }

    /// The tombstones of `id`, oldest first.
    public func tombstones(of id: ContentID) throws -> [Tombstone] {
        try run {
            try db.query(
                "SELECT owner, deleted_at, delete_id FROM tombstones WHERE id = ? ORDER BY deleted_at, owner",
                [.key(id)]
            ).map {
                Tombstone(
                    owner: Self.owner($0[0]), deletedAt: Self.timestamp($0[1]),
                    deleteID: Key256(bytes: $0[2].blob ?? []) ?? .zero)
            }
        }
    }

    /// The signed Delete whose SHA-256 is `deleteID`, as received, while a tombstone names it.
    public func signedDelete(_ deleteID: Key256) throws -> [UInt8]? {
        try run { try db.query("SELECT message FROM deletes WHERE delete_id = ?", [.key(deleteID)]).first?.first?.blob }
    }

    /// The owner stored in a claims or tombstones row (the empty key is the anonymous owner).
    static func owner(_ value: SQLiteValue) -> ObjectOwner {
        ObjectOwner(storedKey: value.blob ?? []) ?? .unattributed
    }

    /// Decides whether `offered` claims may store `id` here, by the ownership rules
    /// (``ClaimDecision``). Changes nothing.
    /// - Returns: the decision, and the object's current record when it is already held.
    /// - Parameter carried: tombstones the store carries (a push's), judged with those kept here.
    public func decide(
        _ id: ContentID, offered: [OwnerClaim], fresh: Bool, tombstones carried: [Tombstone] = [],
        now: Timestamp
    ) throws -> (decision: ClaimDecision, existing: StoredObject?) {
        let existing = try object(id)
        let decision = ClaimDecision(
            offered: offered, fresh: fresh, now: now, tombstones: try tombstones(of: id) + carried)
        return (decision, existing)
    }

    /// Records objects whose bytes are durably on disk, with their claims, in one transaction; an
    /// object already held keeps its row (a cached copy becomes a replica) and gains the claims.
    public func commit(_ commits: [ObjectCommit]) throws {
        guard !commits.isEmpty else { return }
        try transaction {
            for commit in commits {
                let id = commit.record.id
                let old = try db.query("SELECT allocated, state FROM objects WHERE id = ?", [.key(id)]).first
                if let old, let raw = old[1].integer, let state = ObjectState(rawValue: Int(raw)) {
                    let allocated = UInt64(max(0, old[0].integer ?? 0))
                    if state == .cache, commit.record.state != .cache {
                        try db.query(
                            "UPDATE objects SET state = ?, last_used = 0 WHERE id = ?",
                            [.int(commit.record.state.rawValue), .key(id)])
                        adjust(state: .cache, by: -1, bytes: allocated)
                        adjust(state: commit.record.state, by: 1, bytes: allocated)
                    } else if state == .unchecked, commit.record.state == .replica {
                        try db.query(
                            "UPDATE objects SET state = ? WHERE id = ?", [.int(ObjectState.replica.rawValue), .key(id)])
                        adjust(state: .unchecked, by: -1, bytes: allocated)
                        adjust(state: .replica, by: 1, bytes: allocated)
                    }
                } else {
                    lruClock += 1
                    let r = commit.record
                    try db.query(
                        "INSERT INTO objects (id, kind, size, allocated, state, last_used) VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            .key(id), .int(r.kind.databaseValue), .integer(Int64(r.size)), .integer(Int64(r.allocated)),
                            .int(r.state.rawValue), .integer(r.state == .cache ? lruClock : 0),
                        ])
                    adjust(state: r.state, by: 1, bytes: r.allocated)
                }
                if commit.record.state != .cache { try ensureRecord(id, kind: commit.record.kind) }
                try record(commit.decision, for: id)
                if !commit.tombstones.isEmpty {
                    for tombstone in commit.tombstones { try mergeTombstone(tombstone, into: id) }
                    try normalize(id)
                }
            }
        }
    }

    /// Adds claims (and a push's verified tombstones) to an object already held (no bytes to write).
    public func addClaims(_ decision: ClaimDecision, tombstones: [Tombstone] = [], to id: ContentID) throws {
        try transaction {
            try record(decision, for: id)
            if !tombstones.isEmpty {
                for tombstone in tombstones { try mergeTombstone(tombstone, into: id) }
                try normalize(id)
            }
        }
    }

    private func record(_ decision: ClaimDecision, for id: ContentID) throws {
        for claim in decision.accepted {
            try db.query(
                """
                INSERT INTO claims (id, owner, claimed_at) VALUES (?, ?, ?)
                ON CONFLICT (id, owner) DO UPDATE SET claimed_at = MAX(claimed_at, excluded.claimed_at)
                """, [.key(id), .blob(claim.owner.key), .integer(claim.claimedAt.nanoseconds)])
        }
        for owner in decision.clearedTombstones {
            try db.query("DELETE FROM tombstones WHERE id = ? AND owner = ?", [.key(id), .blob(owner.key)])
        }
    }

    /// Forgets an object whose file is gone (deleted, dropped after hand-off, or quarantined),
    /// with its claims.
    /// - Returns: its record, or `nil` when it was not held.
    @discardableResult
    public func removeObject(_ id: ContentID, keepingClaims: Bool = false) throws -> StoredObject? {
        try transaction {
            guard
                let row = try db.query("SELECT kind, size, allocated, state FROM objects WHERE id = ?", [.key(id)])
                    .first
            else {
                return nil
            }
            let record = try Self.record(id: id, row)
            try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
            if !keepingClaims {
                try db.query("DELETE FROM claims WHERE id = ?", [.key(id)])
                try dropRecordIfEmpty(id)
            }
            adjust(state: record.state, by: -1, bytes: record.allocated)
            return record
        }
    }

    /// Marks every replica as unchecked: after an absence longer than the tombstone grace period,
    /// deletes this node missed may have expired everywhere else.
    /// - Returns: how many objects were marked.
    public func markAllReplicasUnchecked() throws -> Int {
        try transaction {
            try db.query(
                "UPDATE objects SET state = ? WHERE state = ?",
                [.int(ObjectState.unchecked.rawValue), .int(ObjectState.replica.rawValue)])
            let changed = db.changes
            try loadTotalsInTransaction()
            return changed
        }
    }

    private func loadTotalsInTransaction() throws {
        objectCounts = [:]
        cachedBytes = 0
        replicaBytes = 0
        try db.forEachRow("SELECT state, COUNT(*), COALESCE(SUM(allocated), 0) FROM objects GROUP BY state") { row in
            guard let raw = row[0].integer, let state = ObjectState(rawValue: Int(raw)) else { return }
            objectCounts[state] = Int(row[1].integer ?? 0)
            let bytes = UInt64(max(0, row[2].integer ?? 0))
            if state == .cache { cachedBytes += bytes } else { replicaBytes += bytes }
        }
    }

    /// Records objects found on disk that the database does not list (its rows were lost): they
    /// are kept as unchecked copies until their claims are re-learned.
    public func adoptUnlisted(_ records: [StoredObject]) throws {
        guard !records.isEmpty else { return }
        try transaction {
            for r in records {
                try db.query(
                    "INSERT OR IGNORE INTO objects (id, kind, size, allocated, state, last_used) VALUES (?, ?, ?, ?, ?, 0)",
                    [
                        .key(r.id), .int(r.kind.databaseValue), .integer(Int64(r.size)), .integer(Int64(r.allocated)),
                        .int(ObjectState.unchecked.rawValue),
                    ])
                if db.changes > 0 {
                    adjust(state: .unchecked, by: 1, bytes: r.allocated)
                    try ensureRecord(r.id, kind: r.kind)
                }
            }
        }
    }

    /// Sets the size and allocation of listed objects from what the disk says (after a migration
    /// or a crash), and forgets listed objects whose files are gone.
    /// - Parameter onDisk: every object file found, with its size and allocation.
    /// - Returns: the objects on disk that the database does not list.
    public func reconcile(with onDisk: [ContentID: (size: UInt64, allocated: UInt64)]) throws -> [ContentID] {
        try transaction {
            var listed: Set<ContentID> = []
            var missing: [ContentID] = []
            var resized: [(ContentID, UInt64, UInt64)] = []
            try db.forEachRow("SELECT id, size, allocated FROM objects") { row in
                let id = try Self.key(row[0], "object id")
                listed.insert(id)
                guard let disk = onDisk[id] else {
                    missing.append(id)
                    return
                }
                if UInt64(max(0, row[1].integer ?? 0)) != disk.size
                    || UInt64(max(0, row[2].integer ?? 0)) != disk.allocated
                {
                    resized.append((id, disk.size, disk.allocated))
                }
            }
            for id in missing {
                try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
                try db.query("DELETE FROM claims WHERE id = ?", [.key(id)])
                try dropRecordIfEmpty(id)
            }
            for (id, size, allocated) in resized {
                try db.query(
                    "UPDATE objects SET size = ?, allocated = ? WHERE id = ?",
                    [.integer(Int64(size)), .integer(Int64(allocated)), .key(id)])
            }
            try loadTotalsInTransaction()
            return onDisk.keys.filter { !listed.contains($0) }
        }
    }

    func adjust(state: ObjectState, by count: Int, bytes: UInt64) {
        objectCounts[state, default: 0] += count
        if state == .cache {
            cachedBytes = count > 0 ? cachedBytes + bytes : cachedBytes - min(cachedBytes, bytes)
        } else {
            replicaBytes = count > 0 ? replicaBytes + bytes : replicaBytes - min(replicaBytes, bytes)
        }
    }

    static func record(id: ContentID, _ row: [SQLiteValue]) throws -> StoredObject {
        guard let kind = row[0].integer.flatMap(ObjectKind.init(databaseValue:)),
            let state = row[3].integer.flatMap({ ObjectState(rawValue: Int($0)) })
        else {
            throw MetadataStoreError(.invalidRecord, "the record of object \(id.short) has an unknown kind or state")
        }
        return StoredObject(
            id: id, kind: kind, size: UInt64(max(0, row[1].integer ?? 0)),
            allocated: UInt64(max(0, row[2].integer ?? 0)), state: state)
    }

    // MARK: - Deletion

    /// Applies one owner's signed Delete to the listed objects, in one transaction: removes the
    /// signer's claims, records the signer's tombstones (where it had a claim, and where this node
    /// knows nothing of the object but is responsible for it), keeps the signed message while a
    /// tombstone names it, and forgets objects no claim keeps (their records stay, with the
    /// tombstones). The caller deletes the files of objects reported `.removed` or `.droppedFromCache`.
    /// - Parameters:
    ///   - owner: the Delete's signer.
    ///   - deletedAt: the Delete's `issued_at`: the tombstones' time, the same on every holder.
    ///   - deleteID: SHA-256 of `message`.
    ///   - message: the Delete's canonical encoding.
    ///   - recordingAbsent: objects to record the tombstone of even without a claim here, when this
    ///     node has no record of them (it is among their closest nodes and may be pushed them later).
    /// - Returns: the effect on each listed object, in order.
    public func applyDelete(
        owner: ObjectOwner, objects ids: [ContentID], deletedAt: Timestamp, deleteID: Key256,
        message: [UInt8], recordingAbsent: Set<ContentID> = []
    ) throws -> [DeleteEffect] {
        try transaction {
            var effects: [DeleteEffect] = []
            effects.reserveCapacity(ids.count)
            for id in ids {
                let row = try db.query("SELECT kind, size, allocated, state FROM objects WHERE id = ?", [.key(id)])
                    .first
                let record = try row.map { try Self.record(id: id, $0) }
                try db.query(
                    "DELETE FROM claims WHERE id = ? AND owner = ? AND claimed_at <= ?",
                    [.key(id), .blob(owner.key), .integer(deletedAt.nanoseconds)])
                let hadClaim = db.changes > 0
                let unknown =
                    try recordingAbsent.contains(id)
                    && db.query("SELECT 1 FROM records WHERE id = ?", [.key(id)]).isEmpty
                if hadClaim || unknown {
                    try ensureRecord(id, kind: record?.kind ?? .chunk)
                    try mergeTombstone(Tombstone(owner: owner, deletedAt: deletedAt, deleteID: deleteID), into: id)
                    try db.query(
                        "INSERT OR IGNORE INTO deletes (delete_id, message) VALUES (?, ?)",
                        [.key(deleteID), .blob(message)])
                }
                let others = Int(
                    try db.query("SELECT COUNT(*) FROM claims WHERE id = ?", [.key(id)]).first?.first?.integer ?? 0)
                switch (record, hadClaim) {
                case (let record?, _) where record.state == .cache:
                    try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
                    adjust(state: .cache, by: -1, bytes: record.allocated)
                    if !unknown { try dropRecordIfEmpty(id) }
                    effects.append(.droppedFromCache)
                case (let record?, true) where others == 0:
                    try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
                    adjust(state: record.state, by: -1, bytes: record.allocated)
                    effects.append(.removed)
                case (_, true):
                    effects.append(.retained(otherOwners: others))
                case (_, false):
                    effects.append(.notClaimed)
                }
            }
            return effects
        }
    }

    /// Forgets tombstones older than `cutoff` (the grace period has passed), the records left with
    /// nothing in them, and the signed Deletes no tombstone names any more.
    /// - Returns: how many tombstones were removed.
    @discardableResult
    public func removeTombstones(before cutoff: Timestamp) throws -> Int {
        try transaction {
            try db.query(
                """
                DELETE FROM records WHERE id IN (SELECT id FROM tombstones WHERE deleted_at < ?)
                  AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.id = records.id AND t.deleted_at >= ?)
                  AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = records.id)
                  AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = records.id AND o.state != ?)
                """, [.integer(cutoff.nanoseconds), .integer(cutoff.nanoseconds), .int(ObjectState.cache.rawValue)])
            try db.query("DELETE FROM tombstones WHERE deleted_at < ?", [.integer(cutoff.nanoseconds)])
            let removed = db.changes
            try db.query("DELETE FROM deletes WHERE delete_id NOT IN (SELECT delete_id FROM tombstones)")
            return removed
        }
    }

    /// How many tombstones are kept.
    public func tombstoneCount() throws -> Int {
        try run { Int(try db.query("SELECT COUNT(*) FROM tombstones").first?.first?.integer ?? 0) }
    }

    // MARK: - Cache

    /// Records a cached copy (most recently used), then evicts least recently used entries until the
    /// cache is within ``cacheSize``. An object already held (a replica) is left as it is.
    /// - Returns: the evicted records, least recently used first; the caller deletes their files.
    public func cacheInsert(_ record: StoredObject) throws -> [StoredObject] {
        try transaction {
            guard try db.query("SELECT 1 FROM objects WHERE id = ?", [.key(record.id)]).isEmpty else { return [] }
            lruClock += 1
            try db.query(
                "INSERT INTO objects (id, kind, size, allocated, state, last_used) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .key(record.id), .int(record.kind.databaseValue), .integer(Int64(record.size)),
                    .integer(Int64(record.allocated)), .int(ObjectState.cache.rawValue), .integer(lruClock),
                ])
            adjust(state: .cache, by: 1, bytes: record.allocated)
            var evicted: [StoredObject] = []
            while cachedBytes > cacheSize {
                let oldest = try db.query(
                    """
                    SELECT id, kind, size, allocated, state FROM objects WHERE state = ? ORDER BY last_used ASC LIMIT 64
                    """, [.int(ObjectState.cache.rawValue)])
                if oldest.isEmpty { break }
                for row in oldest where cachedBytes > cacheSize {
                    let id = try Self.key(row[0], "object id")
                    let victim = try Self.record(id: id, Array(row[1...]))
                    try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
                    adjust(state: .cache, by: -1, bytes: victim.allocated)
                    evicted.append(victim)
                }
            }
            return evicted
        }
    }

    /// Marks a cache entry as just used (call on every read served from the cache).
    public func touch(_ id: ContentID) throws {
        try run {
            lruClock += 1
            try db.query(
                "UPDATE objects SET last_used = ? WHERE id = ? AND state = ?",
                [.integer(lruClock), .key(id), .int(ObjectState.cache.rawValue)])
        }
    }

    // MARK: - Inventory

    /// The objects held in a given state (for repair and hand-off), in ID order, `limit` at a time
    /// after `cursor`.
    public func objects(in states: Set<ObjectState>, after cursor: ContentID?, limit: Int) throws -> [StoredObject] {
        let list = states.map(\.rawValue).sorted().map(String.init).joined(separator: ", ")
        return try run {
            try db.query(
                "SELECT id, kind, size, allocated, state FROM objects WHERE id > ? AND state IN (\(list)) ORDER BY id LIMIT ?",
                [.blob(cursor?.bytes ?? []), .int(max(1, limit))]
            ).map { row in
                try Self.record(id: try Self.key(row[0], "object id"), Array(row[1...]))
            }
        }
    }
}
