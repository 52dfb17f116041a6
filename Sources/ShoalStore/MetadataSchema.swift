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
        MetadataMigration(version: 1, statements: [
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
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }
}
