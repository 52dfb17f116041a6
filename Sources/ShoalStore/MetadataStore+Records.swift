import ShoalCore

/// The records anti-entropy compares (``MetadataRecord``): read in key order, merged with what
/// peers know, and the changes repair makes to them.
///
/// Per owner a record keeps one entry, the later of its claim and its tombstone (a tombstone wins
/// a tie), as every holder does, so holders that merge each other's records converge. Merges are
/// done here in one transaction each, with that rule, so a merge never loses a claim or a
/// tombstone written meanwhile by a store or a Delete.
extension MetadataStore {
    // MARK: - Reading

    /// The record of `id`, or `nil` when this node has none.
    public func record(_ id: ContentID) throws -> MetadataRecord? {
        try run { try records(ids: [id])[id] }
    }

    /// The records of `ids` that exist.
    public func records(_ ids: [ContentID]) throws -> [ContentID: MetadataRecord] {
        try run { try records(ids: ids) }
    }

    /// Records in ascending ID order, `limit` at a time after `cursor`.
    public func records(after cursor: ContentID?, limit: Int) throws -> [MetadataRecord] {
        try run {
            let heads = try db.query(
                """
                SELECT r.id, r.kind, o.state FROM records r LEFT JOIN objects o ON o.id = r.id
                WHERE r.id > ? ORDER BY r.id LIMIT ?
                """, [.blob(cursor?.bytes ?? []), .int(max(1, limit))])
            guard let first = heads.first?[0], let last = heads.last?[0] else { return [] }
            var out = try heads.map(Self.recordHead)
            var index: [ContentID: Int] = [:]
            for (i, r) in out.enumerated() { index[r.id] = i }
            try db.forEachRow(
                "SELECT id, owner, claimed_at FROM claims WHERE id >= ? AND id <= ? ORDER BY id, owner", [first, last]
            ) { row in
                let id = try Self.key(row[0], "claim id")
                if let i = index[id] {
                    out[i].claims.append(OwnerClaim(owner: Self.owner(row[1]), claimedAt: Self.timestamp(row[2])))
                }
            }
            try db.forEachRow(
                "SELECT id, owner, deleted_at, delete_id FROM tombstones WHERE id >= ? AND id <= ? ORDER BY id, owner",
                [first, last]
            ) { row in
                let id = try Self.key(row[0], "tombstone id")
                if let i = index[id] { out[i].tombstones.append(Self.tombstone(row[1...])) }
            }
            return out
        }
    }

    /// How many records this node keeps.
    public func recordCount() throws -> Int {
        try run { Int(try db.query("SELECT COUNT(*) FROM records").first?.first?.integer ?? 0) }
    }

    /// The objects of the files put through this node: kept here even where other nodes are now
    /// responsible for them (pins).
    public func pinnedObjects() throws -> Set<ContentID> {
        try run {
            var out: Set<ContentID> = []
            try db.forEachRow("SELECT DISTINCT id FROM file_objects") { out.insert(try Self.key($0[0], "object id")) }
            return out
        }
    }

    func records(ids: [ContentID]) throws -> [ContentID: MetadataRecord] {
        var out: [ContentID: MetadataRecord] = [:]
        for id in Set(ids) {
            guard
                let head = try db.query(
                    "SELECT r.id, r.kind, o.state FROM records r LEFT JOIN objects o ON o.id = r.id WHERE r.id = ?",
                    [.key(id)]
                ).first
            else { continue }
            var record = try Self.recordHead(head)
            record.claims = try db.query("SELECT owner, claimed_at FROM claims WHERE id = ? ORDER BY owner", [.key(id)])
                .map {
                    OwnerClaim(owner: Self.owner($0[0]), claimedAt: Self.timestamp($0[1]))
                }
            record.tombstones = try db.query(
                "SELECT owner, deleted_at, delete_id FROM tombstones WHERE id = ? ORDER BY owner",
                [.key(id)]
            ).map { Self.tombstone($0[...]) }
            out[id] = record
        }
        return out
    }

    private static func recordHead(_ row: [SQLiteValue]) throws -> MetadataRecord {
        let id = try key(row[0], "record id")
        guard let kind = row[1].integer.flatMap(ObjectKind.init(databaseValue:)) else {
            throw MetadataStoreError(.invalidRecord, "the record of object \(id.short) has an unknown kind")
        }
        let state = row[2].integer.flatMap { ObjectState(rawValue: Int($0)) }
        return MetadataRecord(id: id, kind: kind, state: state == .cache ? nil : state)
    }

    static func tombstone(_ row: ArraySlice<SQLiteValue>) -> Tombstone {
        let values = Array(row)
        return Tombstone(
            owner: owner(values[0]), deletedAt: timestamp(values[1]),
            deleteID: Key256(bytes: values[2].blob ?? []) ?? .zero)
    }

    // MARK: - Merging

    /// Merges what peers know into this node's records, in one transaction: each record's kind
    /// (the larger), claims and tombstones (per owner the later, a tombstone on a tie), and keeps
    /// the signed Deletes its tombstones name. Whether the bytes are held is not changed.
    /// - Parameters:
    ///   - records: the records to merge (their `state` is ignored).
    ///   - deletes: verified signed Deletes (canonical bytes) by delete ID.
    public func mergeRecords(_ records: [MetadataRecord], deletes: [Key256: [UInt8]] = [:]) throws {
        guard !records.isEmpty || !deletes.isEmpty else { return }
        try transaction {
            for (id, message) in deletes {
                try db.query(
                    "INSERT OR IGNORE INTO deletes (delete_id, message) VALUES (?, ?)", [.key(id), .blob(message)])
            }
            for record in records {
                try ensureRecord(record.id, kind: record.kind)
                for claim in record.claims { try mergeClaim(claim, into: record.id) }
                for tombstone in record.tombstones { try mergeTombstone(tombstone, into: record.id) }
                try normalize(record.id)
            }
        }
    }

    /// Records the row of `id`, or raises its kind.
    func ensureRecord(_ id: ContentID, kind: ObjectKind) throws {
        try db.query(
            "INSERT INTO records (id, kind) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET kind = MAX(kind, excluded.kind)",
            [.key(id), .int(kind.databaseValue)])
    }

    func mergeClaim(_ claim: OwnerClaim, into id: ContentID) throws {
        try db.query(
            """
            INSERT INTO claims (id, owner, claimed_at) VALUES (?, ?, ?)
            ON CONFLICT (id, owner) DO UPDATE SET claimed_at = MAX(claimed_at, excluded.claimed_at)
            """, [.key(id), .blob(claim.owner.key), .integer(claim.claimedAt.nanoseconds)])
    }

    func mergeTombstone(_ tombstone: Tombstone, into id: ContentID) throws {
        try db.query(
            """
            INSERT INTO tombstones (id, owner, deleted_at, delete_id) VALUES (?, ?, ?, ?)
            ON CONFLICT (id, owner) DO UPDATE SET deleted_at = excluded.deleted_at, delete_id = excluded.delete_id
                WHERE excluded.deleted_at > deleted_at
                   OR (excluded.deleted_at = deleted_at AND excluded.delete_id > delete_id)
            """,
            [.key(id), .blob(tombstone.owner.key), .integer(tombstone.deletedAt.nanoseconds), .key(tombstone.deleteID)])
    }

    /// Keeps per owner only the later of claim and tombstone (a tombstone on a tie).
    func normalize(_ id: ContentID) throws {
        try db.query(
            """
            DELETE FROM claims WHERE id = ? AND EXISTS (
                SELECT 1 FROM tombstones t WHERE t.id = claims.id AND t.owner = claims.owner AND t.deleted_at >= claims.claimed_at)
            """, [.key(id)])
        try db.query(
            """
            DELETE FROM tombstones WHERE id = ? AND EXISTS (
                SELECT 1 FROM claims c WHERE c.id = tombstones.id AND c.owner = tombstones.owner AND c.claimed_at > tombstones.deleted_at)
            """, [.key(id)])
    }

    /// Forgets the record of `id` when nothing is left in it: no claim, no tombstone, no bytes.
    func dropRecordIfEmpty(_ id: ContentID) throws {
        try db.query(
            """
            DELETE FROM records WHERE id = ?
              AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = records.id)
              AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.id = records.id)
              AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.id = records.id AND o.state != ?)
            """, [.key(id), .int(ObjectState.cache.rawValue)])
    }

    // MARK: - Repair's changes

    /// Forgets an object handed off to the nodes now responsible for it: its bytes' row and its
    /// whole record (they keep it).
    /// - Parameter keepingBytes: forget the record only (claims and tombstones), not the row of
    ///   bytes held.
    /// - Returns: the row of the bytes, when they were held and forgotten (the caller deletes the file).
    @discardableResult
    public func removeRecord(_ id: ContentID, keepingBytes: Bool = false) throws -> StoredObject? {
        try transaction {
            let row =
                keepingBytes
                ? nil : try db.query("SELECT kind, size, allocated, state FROM objects WHERE id = ?", [.key(id)]).first
            let held = try row.map { try Self.record(id: id, $0) }
            if let held {
                try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
                adjust(state: held.state, by: -1, bytes: held.allocated)
            }
            for table in ["claims", "tombstones", "records"] {
                try db.query("DELETE FROM \(table) WHERE id = ?", [.key(id)])
            }
            return held
        }
    }

    /// Frees the bytes of deleted content (no claim left, a tombstone kept), keeping its record.
    /// Does nothing when a claim was made meanwhile.
    /// - Returns: the row of the bytes removed (the caller deletes the file), or `nil`.
    public func discard(_ id: ContentID) throws -> StoredObject? {
        try transaction {
            guard try db.query("SELECT 1 FROM claims WHERE id = ? LIMIT 1", [.key(id)]).isEmpty,
                !(try db.query("SELECT 1 FROM tombstones WHERE id = ? LIMIT 1", [.key(id)]).isEmpty),
                let row = try db.query(
                    "SELECT kind, size, allocated, state FROM objects WHERE id = ? AND state != ?",
                    [.key(id), .int(ObjectState.cache.rawValue)]
                ).first
            else { return nil }
            let held = try Self.record(id: id, row)
            try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
            adjust(state: held.state, by: -1, bytes: held.allocated)
            return held
        }
    }

    /// Settles a quarantined (unchecked) object once its other holders told what they know of it:
    /// its claims older than `cutoff` (which a Delete whose tombstone has expired everywhere may
    /// have removed) give way to `learned`, the holders' record; the claims left decide. With a
    /// claim the copy is a replica again; with tombstones only it is deleted content and its
    /// bytes go.
    /// - Parameters:
    ///   - id: the unchecked object.
    ///   - learned: the holders' record (verified tombstones only).
    ///   - cutoff: the tombstone horizon's cutoff.
    ///   - deletes: verified signed Deletes its tombstones name.
    /// - Returns: the row of the bytes when they were freed (the caller deletes the file), and
    ///   whether the object was settled (`false`: it was not unchecked any more).
    public func settleQuarantined(
        _ id: ContentID, learned: MetadataRecord, cutoff: Timestamp,
        deletes: [Key256: [UInt8]] = [:]
    ) throws -> (freed: StoredObject?, settled: Bool) {
        try transaction {
            guard
                let row = try db.query(
                    "SELECT kind, size, allocated, state FROM objects WHERE id = ? AND state = ?",
                    [.key(id), .int(ObjectState.unchecked.rawValue)]
                ).first
            else { return (nil, false) }
            let held = try Self.record(id: id, row)
            for (deleteID, message) in deletes {
                try db.query(
                    "INSERT OR IGNORE INTO deletes (delete_id, message) VALUES (?, ?)",
                    [.key(deleteID), .blob(message)])
            }
            let vouched = Set(learned.claims.map(\.owner.key))
            for claim in try db.query("SELECT owner, claimed_at FROM claims WHERE id = ?", [.key(id)]) {
                let owner = claim[0].blob ?? []
                if Self.timestamp(claim[1]) < cutoff, !vouched.contains(owner) {
                    try db.query("DELETE FROM claims WHERE id = ? AND owner = ?", [.key(id), .blob(owner)])
                }
            }
            try ensureRecord(id, kind: learned.kind)
            for claim in learned.claims { try mergeClaim(claim, into: id) }
            for tombstone in learned.tombstones { try mergeTombstone(tombstone, into: id) }
            try normalize(id)
            let claimed = !(try db.query("SELECT 1 FROM claims WHERE id = ? LIMIT 1", [.key(id)]).isEmpty)
            if claimed {
                try db.query(
                    "UPDATE objects SET state = ? WHERE id = ?", [.int(ObjectState.replica.rawValue), .key(id)])
                adjust(state: .unchecked, by: -1, bytes: held.allocated)
                adjust(state: .replica, by: 1, bytes: held.allocated)
                return (nil, true)
            }
            guard !(try db.query("SELECT 1 FROM tombstones WHERE id = ? LIMIT 1", [.key(id)]).isEmpty) else {
                // Neither claims nor tombstones: nothing to decide on; it stays quarantined.
                return (nil, false)
            }
            try db.query("DELETE FROM objects WHERE id = ?", [.key(id)])
            adjust(state: .unchecked, by: -1, bytes: held.allocated)
            return (held, true)
        }
    }
}
