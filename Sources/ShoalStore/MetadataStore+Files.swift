import ShoalCore

/// The files put through this node: their keys (the keyring), their objects, uploads in progress,
/// and node-level state.
extension MetadataStore {
    // MARK: - Keyring

    /// Saves (or replaces) the keyring entry of a file uploaded through this node.
    public func saveKeyringEntry(_ entry: KeyringEntry) throws {
        try run {
            try db.query(
                """
                INSERT OR REPLACE INTO keyring (root, file_key, is_public, size, name, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    .key(entry.root), entry.address.key.map { .blob($0.bytes) } ?? .null, .bool(entry.isPublic),
                    .integer(Int64(clamping: entry.size)), .text(entry.name), .integer(entry.createdAt.nanoseconds),
                ])
        }
    }

    /// The keyring entry of the file `root`, if it was uploaded through this node.
    public func keyringEntry(root: ContentID) throws -> KeyringEntry? {
        try run {
            try db.query(
                "SELECT root, file_key, is_public, size, name, created_at FROM keyring WHERE root = ?", [.key(root)]
            )
            .first.map(Self.keyringEntry)
        }
    }

    /// Every keyring entry, newest first.
    public func keyringEntries(limit: Int = 10_000) throws -> [KeyringEntry] {
        try run {
            try db.query(
                "SELECT root, file_key, is_public, size, name, created_at FROM keyring ORDER BY created_at DESC, root ASC LIMIT ?",
                [.int(limit)]
            ).map(Self.keyringEntry)
        }
    }

    /// Removes the keyring entry of `root`. - Returns: `false` when there was none.
    @discardableResult
    public func removeKeyringEntry(root: ContentID) throws -> Bool {
        try run {
            try db.query("DELETE FROM keyring WHERE root = ?", [.key(root)])
            return db.changes > 0
        }
    }

    private static func keyringEntry(_ row: [SQLiteValue]) throws -> KeyringEntry {
        let root = try key(row[0], "keyring root")
        var fileKey: FileKey?
        if row[2].integer != 1 {
            guard let bytes = row[1].blob, let key = try? FileKey(bytes: bytes) else {
                throw MetadataStoreError(
                    .invalidRecord, "the keyring entry of \(root.short) is private but has no valid key")
            }
            fileKey = key
        }
        return KeyringEntry(
            address: FileAddress(root: root, key: fileKey), size: UInt64(max(0, row[3].integer ?? 0)),
            name: row[4].text ?? "", createdAt: timestamp(row[5]))
    }

    // MARK: - The objects of the files put through this node

    /// Records that the file (or upload in progress) `root` consists of `ids`.
    public func addFileObjects(root: ContentID, _ ids: [ContentID]) throws {
        guard !ids.isEmpty else { return }
        try transaction {
            for id in ids {
                try db.query("INSERT OR IGNORE INTO file_objects (root, id) VALUES (?, ?)", [.key(root), .key(id)])
            }
        }
    }

    /// Moves the objects of an upload to the file it became, and ends the upload.
    public func finishUpload(_ upload: ContentID, root: ContentID) throws {
        try transaction {
            try db.query(
                "INSERT OR IGNORE INTO file_objects (root, id) SELECT ?, id FROM file_objects WHERE root = ?",
                [.key(root), .key(upload)])
            try db.query("DELETE FROM file_objects WHERE root = ?", [.key(upload)])
            try db.query("DELETE FROM uploads WHERE upload = ?", [.key(upload)])
        }
    }

    /// The objects of `root` that no other file put through this node also consists of: what
    /// deleting `root` (or abandoning the upload `root`) may remove this node's claim from.
    public func objectsOnlyIn(_ root: ContentID) throws -> [ContentID] {
        try run {
            try db.query(
                """
                SELECT f.id FROM file_objects f WHERE f.root = ?
                AND NOT EXISTS (SELECT 1 FROM file_objects g WHERE g.id = f.id AND g.root != f.root)
                ORDER BY f.id
                """, [.key(root)]
            ).map { try Self.key($0[0], "object id") }
        }
    }

    /// The objects of `root` that another file put through this node also consists of.
    public func objectsShared(by root: ContentID) throws -> [ContentID] {
        try run {
            try db.query(
                """
                SELECT f.id FROM file_objects f WHERE f.root = ?
                AND EXISTS (SELECT 1 FROM file_objects g WHERE g.id = f.id AND g.root != f.root)
                ORDER BY f.id
                """, [.key(root)]
            ).map { try Self.key($0[0], "object id") }
        }
    }

    /// Forgets the objects of `root` (after its Delete, or once an abandoned upload was cleaned up),
    /// and the upload, if it was one.
    public func removeFileObjects(root: ContentID) throws {
        try transaction {
            try db.query("DELETE FROM file_objects WHERE root = ?", [.key(root)])
            try db.query("DELETE FROM uploads WHERE upload = ?", [.key(root)])
        }
    }

    // MARK: - Uploads in progress

    /// Records that an upload started (its objects are recorded under `upload` until it finishes).
    public func beginUpload(_ upload: ContentID, at time: Timestamp) throws {
        try run {
            try db.query(
                "INSERT OR REPLACE INTO uploads (upload, started_at) VALUES (?, ?)",
                [.key(upload), .integer(time.nanoseconds)])
        }
    }

    /// Uploads that began and never finished (the node stopped or the put failed), oldest first.
    public func unfinishedUploads() throws -> [ContentID] {
        try run {
            try db.query("SELECT upload FROM uploads ORDER BY started_at").map { try Self.key($0[0], "upload id") }
        }
    }

    // MARK: - Node state

    /// A node-level value (e.g. when the node last ran).
    public func value(of key: String) throws -> Int64? {
        try run { try db.query("SELECT value FROM node_state WHERE key = ?", [.text(key)]).first?.first?.integer }
    }

    public func setValue(_ value: Int64, of key: String) throws {
        try run {
            try db.query("INSERT OR REPLACE INTO node_state (key, value) VALUES (?, ?)", [.text(key), .integer(value)])
        }
    }
}
