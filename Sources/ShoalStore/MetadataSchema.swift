/// One forward step of the metadata database schema.
struct MetadataMigration: Sendable {
    /// The schema version after this step (`PRAGMA user_version`); steps run in increasing order.
    let version: Int
    /// Statements run in one transaction, one at a time.
    let statements: [String]
}

enum MetadataSchema {
    /// Every schema step, oldest first. Append new steps; never edit a released one.
    static let migrations: [MetadataMigration] = [
        MetadataMigration(
            version: 1,
            statements: [
                """
                CREATE TABLE pins (
                    id BLOB NOT NULL,
                    root BLOB NOT NULL,
                    kind INTEGER NOT NULL,
                    PRIMARY KEY (id, root)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX pins_by_root ON pins (root)",
                """
                CREATE TABLE cache (
                    id BLOB NOT NULL PRIMARY KEY,
                    size INTEGER NOT NULL,
                    last_used INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                "CREATE INDEX cache_by_last_used ON cache (last_used)",
                """
                CREATE TABLE owners (
                    id BLOB NOT NULL,
                    owner_key BLOB NOT NULL,
                    PRIMARY KEY (id, owner_key)
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE tombstones (
                    id BLOB NOT NULL PRIMARY KEY,
                    deleted_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE keyring (
                    root BLOB NOT NULL PRIMARY KEY,
                    file_key BLOB,
                    is_public INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
            ]),
        // Version 2: one row per held object (replica, cache or unchecked) with its size on disk;
        // ownership claims and tombstones scoped to an owner, each with its time; the objects of
        // the files put through this node; uploads in progress; node-level state.
        MetadataMigration(
            version: 2,
            statements: [
                """
                CREATE TABLE objects (
                    id BLOB NOT NULL PRIMARY KEY,
                    kind INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    allocated INTEGER NOT NULL,
                    state INTEGER NOT NULL,
                    last_used INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID
                """,
                "CREATE INDEX objects_by_state_and_use ON objects (state, last_used)",
                """
                INSERT OR IGNORE INTO objects (id, kind, size, allocated, state, last_used)
                    SELECT id, MIN(kind), 0, 0, 1, 0 FROM pins GROUP BY id
                """,
                """
                INSERT OR IGNORE INTO objects (id, kind, size, allocated, state, last_used)
                    SELECT id, 0, size, size, 2, last_used FROM cache
                """,
                """
                CREATE TABLE claims (
                    id BLOB NOT NULL,
                    owner BLOB NOT NULL,
                    claimed_at INTEGER NOT NULL,
                    PRIMARY KEY (id, owner)
                ) WITHOUT ROWID
                """,
                "INSERT OR IGNORE INTO claims (id, owner, claimed_at) SELECT id, owner_key, 0 FROM owners",
                """
                INSERT OR IGNORE INTO claims (id, owner, claimed_at)
                    SELECT id, X'', 0 FROM objects WHERE state = 1 AND id NOT IN (SELECT id FROM claims)
                """,
                "ALTER TABLE tombstones RENAME TO tombstones_v1",
                """
                CREATE TABLE tombstones (
                    id BLOB NOT NULL,
                    owner BLOB NOT NULL,
                    deleted_at INTEGER NOT NULL,
                    PRIMARY KEY (id, owner)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX tombstones_by_time ON tombstones (deleted_at)",
                "INSERT INTO tombstones (id, owner, deleted_at) SELECT id, X'', deleted_at FROM tombstones_v1",
                """
                CREATE TABLE file_objects (
                    root BLOB NOT NULL,
                    id BLOB NOT NULL,
                    PRIMARY KEY (root, id)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX file_objects_by_id ON file_objects (id)",
                "INSERT OR IGNORE INTO file_objects (root, id) SELECT p.root, p.id FROM pins p JOIN keyring k ON k.root = p.root",
                """
                CREATE TABLE uploads (
                    upload BLOB NOT NULL PRIMARY KEY,
                    started_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE node_state (
                    key TEXT NOT NULL PRIMARY KEY,
                    value INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                "DROP TABLE pins",
                "DROP TABLE cache",
                "DROP TABLE owners",
                "DROP TABLE tombstones_v1",
            ]),
        // Version 3: a tombstone names the signed Delete that made it (SHA-256 of its bytes), kept
        // in `deletes` while a tombstone names it, so peers can fetch and verify it; tombstones of
        // the first schema, which named no owner, belong to the unattributed owner (one zero byte).
        MetadataMigration(
            version: 3,
            statements: [
                "ALTER TABLE tombstones ADD COLUMN delete_id BLOB NOT NULL DEFAULT X'\(String(repeating: "00", count: 32))'",
                "UPDATE tombstones SET owner = X'00' WHERE owner = X''",
                """
                CREATE TABLE deletes (
                    delete_id BLOB NOT NULL PRIMARY KEY,
                    message BLOB NOT NULL
                ) WITHOUT ROWID
                """,
            ]),
        // Version 4: a record per object this node knows of, held or not (its kind; its claims and
        // tombstones stay in their tables), so that records learned from other holders without
        // the bytes are kept too. Tombstones whose object was gone took no kind: chunk, which
        // the holders' records raise to manifest where they know better.
        MetadataMigration(
            version: 4,
            statements: [
                """
                CREATE TABLE records (
                    id BLOB NOT NULL PRIMARY KEY,
                    kind INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                "INSERT OR IGNORE INTO records (id, kind) SELECT id, kind FROM objects WHERE state != 2",
                "INSERT OR IGNORE INTO records (id, kind) SELECT DISTINCT id, 0 FROM claims",
                "INSERT OR IGNORE INTO records (id, kind) SELECT DISTINCT id, 0 FROM tombstones",
            ]),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }
}
