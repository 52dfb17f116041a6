import Logging
import NIOCore
import ShoalCore
import ShoalWire
import SQLiteNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's durable bookkeeping, in SQLite (WAL mode): which objects it must keep (pins), which
/// it keeps only as a read cache (LRU, bounded by ``cacheSize`` bytes), who owns what, what was
/// deleted (tombstones), and the keys of files uploaded through this node (the keyring).
///
/// The schema is versioned with `PRAGMA user_version` and migrated forward on open. Every operation
/// runs alone (operations queue in call order), so multi-statement updates are atomic transactions.
/// Timestamps stored here are wall-clock times: nanoseconds since the Unix epoch.
public actor MetadataStore {
    /// The most bytes of cache entries kept; inserting beyond it evicts least recently used entries.
    public let cacheSize: UInt64

    private let connection: SQLiteConnection
    private let logger: Logger
    private var lruClock: Int64
    /// Total size of all cache entries.
    public private(set) var cachedBytes: UInt64

    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    // MARK: - Opening

    /// Opens (creating and migrating if needed) the metadata database at `path`.
    /// - Parameters:
    ///   - path: the database file, e.g. `<data>/metadata.sqlite`; created with mode 0600 because
    ///     the keyring holds file keys.
    ///   - cacheSize: the byte bound of the read cache (`--cache-size`).
    ///   - logger: where migrations are reported.
    /// - Returns: the open store; call ``close()`` when done.
    /// - Throws: ``MetadataStoreError`` with code `schemaTooNew` when a newer Shoal wrote the
    ///   database, or `database` when SQLite fails.
    public static func open(path: String, cacheSize: UInt64,
                            logger: Logger = Logger(label: "shoal.metadata")) async throws -> MetadataStore {
        try await open(path: path, cacheSize: cacheSize, logger: logger, migrations: MetadataSchema.migrations)
    }

    /// Opens a database that lives only in memory (for tests and throwaway nodes).
    public static func openInMemory(cacheSize: UInt64,
                                    logger: Logger = Logger(label: "shoal.metadata")) async throws -> MetadataStore {
        try await open(storage: .memory, cacheSize: cacheSize, logger: logger, migrations: MetadataSchema.migrations)
    }

    static func open(path: String, cacheSize: UInt64, logger: Logger = Logger(label: "shoal.metadata"),
                     migrations: [MetadataMigration]) async throws -> MetadataStore {
        if let fd = try? Posix.open(path, O_RDWR | O_CREAT, mode: 0o600) { Posix.close(fd) }
        return try await open(storage: .file(path: path), cacheSize: cacheSize, logger: logger, migrations: migrations)
    }

    private static func open(storage: SQLiteConnection.Storage, cacheSize: UInt64, logger: Logger,
                             migrations: [MetadataMigration]) async throws -> MetadataStore {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        } catch {
            throw MetadataStoreError(.database, "could not open the metadata database (\(storage)): \(error). Check the data directory's permissions and free space")
        }
        do {
            _ = try await connection.query("PRAGMA journal_mode = WAL")
            _ = try await connection.query("PRAGMA synchronous = NORMAL")
            _ = try await connection.query("PRAGMA busy_timeout = 5000")
            try await migrate(connection, migrations: migrations, logger: logger)
            let clock = try await connection.query("SELECT COALESCE(MAX(last_used), 0) AS c, COALESCE(SUM(size), 0) AS s FROM cache")
            let lru = clock.first?.column("c")?.integer ?? 0
            let bytes = clock.first?.column("s")?.integer ?? 0
            return MetadataStore(connection: connection, cacheSize: cacheSize, logger: logger,
                                 lruClock: Int64(lru), cachedBytes: UInt64(max(0, bytes)))
        } catch {
            try? await connection.close()
            if error is MetadataStoreError { throw error }
            throw MetadataStoreError(.database, "could not prepare the metadata database (\(storage)): \(error)")
        }
    }

    private init(connection: SQLiteConnection, cacheSize: UInt64, logger: Logger, lruClock: Int64, cachedBytes: UInt64) {
        self.connection = connection
        self.cacheSize = cacheSize
        self.logger = logger
        self.lruClock = lruClock
        self.cachedBytes = cachedBytes
    }

    /// Applies, in order, every migration newer than the database's `user_version`, each in its
    /// own transaction together with the version bump.
    static func migrate(_ connection: SQLiteConnection, migrations: [MetadataMigration], logger: Logger) async throws {
        let current = Int(try await connection.query("PRAGMA user_version").first?.column("user_version")?.integer ?? 0)
        let latest = migrations.last?.version ?? 0
        guard current <= latest else {
            throw MetadataStoreError(.schemaTooNew, "the metadata database has schema version \(current), newer than this build knows (\(latest)); run a newer Shoal, or use another --data directory")
        }
        for migration in migrations where migration.version > current {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in migration.statements { _ = try await connection.query(statement) }
                _ = try await connection.query("PRAGMA user_version = \(migration.version)")
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw MetadataStoreError(.database, "metadata schema migration to version \(migration.version) failed and was rolled back: \(error)")
            }
            logger.info("metadata schema migrated", metadata: ["metadata.schema_version": "\(migration.version)"])
        }
    }

    /// The schema version of the open database.
    public func schemaVersion() async throws -> Int {
        try await exclusive {
            Int(try await self.query("PRAGMA user_version").first?.column("user_version")?.integer ?? 0)
        }
    }

    /// Closes the database. The store must not be used afterwards.
    public func close() async throws {
        try await exclusive { try await self.connection.close() }
    }

    // MARK: - Pins

    /// Records that this node must keep `id` as part of the file `root`. Pinning removes the object
    /// from the cache, so it is never evicted.
    public func pin(_ id: ContentID, root: ContentID, kind: ObjectKind) async throws {
        try await pin([PinnedObject(id: id, root: root, kind: kind)])
    }

    /// Pins several objects in one transaction.
    public func pin(_ objects: [PinnedObject]) async throws {
        guard !objects.isEmpty else { return }
        try await transaction {
            for object in objects {
                _ = try await self.query("INSERT OR IGNORE INTO pins (id, root, kind) VALUES (?, ?, ?)",
                                         [.blob(object.id), .blob(object.root), .integer(object.kind.databaseValue)])
                let rows = try await self.query("DELETE FROM cache WHERE id = ? RETURNING size", [.blob(object.id)])
                self.cachedBytes -= min(self.cachedBytes, UInt64(rows.first?.column("size")?.integer ?? 0))
            }
        }
    }

    /// Whether any file pins `id`.
    public func isPinned(_ id: ContentID) async throws -> Bool {
        try await exclusive {
            try await !self.query("SELECT 1 FROM pins WHERE id = ? LIMIT 1", [.blob(id)]).isEmpty
        }
    }

    /// The objects pinned as part of `root`.
    public func pins(of root: ContentID) async throws -> [PinnedObject] {
        try await exclusive {
            try await self.query("SELECT id, kind FROM pins WHERE root = ?", [.blob(root)]).map { row in
                PinnedObject(id: try Self.key(row, "id"), root: root, kind: try Self.kind(row))
            }
        }
    }

    /// The files that pin `id`.
    public func roots(pinning id: ContentID) async throws -> [ContentID] {
        try await exclusive {
            try await self.query("SELECT root FROM pins WHERE id = ?", [.blob(id)]).map { try Self.key($0, "root") }
        }
    }

    /// Number of (object, file) pins.
    public func pinCount() async throws -> Int {
        try await exclusive {
            Int(try await self.query("SELECT COUNT(*) AS n FROM pins").first?.column("n")?.integer ?? 0)
        }
    }

    /// Removes one pin.
    /// - Returns: `true` when `id` is no longer pinned by any file (the caller may delete it).
    @discardableResult
    public func unpin(_ id: ContentID, root: ContentID) async throws -> Bool {
        try await transaction {
            _ = try await self.query("DELETE FROM pins WHERE id = ? AND root = ?", [.blob(id), .blob(root)])
            return try await self.query("SELECT 1 FROM pins WHERE id = ? LIMIT 1", [.blob(id)]).isEmpty
        }
    }

    /// Removes every pin of the file `root`.
    /// - Returns: the objects no longer pinned by any file (the caller may delete them).
    public func unpinAll(root: ContentID) async throws -> [ContentID] {
        try await transaction {
            let removed = try await self.query("DELETE FROM pins WHERE root = ? RETURNING id", [.blob(root)])
            var free: [ContentID] = []
            for row in removed {
                let id = try Self.key(row, "id")
                if try await self.query("SELECT 1 FROM pins WHERE id = ? LIMIT 1", [.blob(id)]).isEmpty { free.append(id) }
            }
            return free
        }
    }

    /// Moves every pin from `provisional` to `root`: an upload pins its objects under a provisional
    /// ID while the root is not yet known, then hands them to the file once its root is stored.
    public func reassignPins(from provisional: ContentID, to root: ContentID) async throws {
        try await transaction {
            _ = try await self.query("INSERT OR IGNORE INTO pins (id, root, kind) SELECT id, ?, kind FROM pins WHERE root = ?",
                                     [.blob(root), .blob(provisional)])
            _ = try await self.query("DELETE FROM pins WHERE root = ?", [.blob(provisional)])
        }
    }

    // MARK: - Cache

    /// Records `id` (`size` stored bytes) as a cache entry, most recently used, then evicts least
    /// recently used entries until the cache is within ``cacheSize`` (an entry larger than the whole
    /// cache is evicted at once). Pinned objects are not cache entries: for them this does nothing.
    /// - Returns: the evicted IDs, least recently used first; the caller deletes them from the
    ///   chunk store.
    public func cacheInsert(_ id: ContentID, size: UInt64) async throws -> [ContentID] {
        try await transaction {
            guard try await self.query("SELECT 1 FROM pins WHERE id = ? LIMIT 1", [.blob(id)]).isEmpty else { return [] }
            var total = self.cachedBytes
            let old = try await self.query("SELECT size FROM cache WHERE id = ?", [.blob(id)])
            total -= min(total, UInt64(old.first?.column("size")?.integer ?? 0))
            self.lruClock += 1
            _ = try await self.query("""
                INSERT INTO cache (id, size, last_used) VALUES (?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET size = excluded.size, last_used = excluded.last_used
                """, [.blob(id), .integer(Int(size)), .integer(Int(self.lruClock))])
            total += size
            var evicted: [ContentID] = []
            while total > self.cacheSize {
                let oldest = try await self.query("SELECT id, size FROM cache ORDER BY last_used ASC LIMIT 64")
                if oldest.isEmpty { break }
                for row in oldest where total > self.cacheSize {
                    let victim = try Self.key(row, "id")
                    _ = try await self.query("DELETE FROM cache WHERE id = ?", [.blob(victim)])
                    total -= min(total, UInt64(row.column("size")?.integer ?? 0))
                    evicted.append(victim)
                }
            }
            self.cachedBytes = total
            return evicted
        }
    }

    /// Marks a cache entry as just used (call on every read served from the cache).
    /// - Returns: `false` when `id` is not a cache entry.
    @discardableResult
    public func cacheTouch(_ id: ContentID) async throws -> Bool {
        try await exclusive {
            self.lruClock += 1
            return try await !self.query("UPDATE cache SET last_used = ? WHERE id = ? RETURNING id",
                                         [.integer(Int(self.lruClock)), .blob(id)]).isEmpty
        }
    }

    /// Forgets a cache entry (e.g. after the object was deleted).
    public func cacheRemove(_ id: ContentID) async throws {
        try await exclusive {
            let rows = try await self.query("DELETE FROM cache WHERE id = ? RETURNING size", [.blob(id)])
            self.cachedBytes -= min(self.cachedBytes, UInt64(rows.first?.column("size")?.integer ?? 0))
        }
    }

    /// Whether `id` is a cache entry.
    public func isCached(_ id: ContentID) async throws -> Bool {
        try await exclusive {
            try await !self.query("SELECT 1 FROM cache WHERE id = ?", [.blob(id)]).isEmpty
        }
    }

    /// Cache entries, least recently used first.
    public func cacheEntries(limit: Int = 1_000) async throws -> [ContentID] {
        try await exclusive {
            try await self.query("SELECT id FROM cache ORDER BY last_used ASC LIMIT ?", [.integer(limit)])
                .map { try Self.key($0, "id") }
        }
    }

    // MARK: - Owners

    /// Records `ownerKey` (a P-256 public key, X9.63) as an owner of `id` (an object or a file
    /// root). An object may have several owners; adding one twice does nothing.
    public func addOwner(_ ownerKey: [UInt8], of id: ContentID) async throws {
        try await exclusive {
            _ = try await self.query("INSERT OR IGNORE INTO owners (id, owner_key) VALUES (?, ?)", [.blob(id), .blob(ownerKey)])
        }
    }

    /// The owners of `id`, in no particular order.
    public func owners(of id: ContentID) async throws -> [[UInt8]] {
        try await exclusive {
            try await self.query("SELECT owner_key FROM owners WHERE id = ?", [.blob(id)]).map { row in
                guard let buffer = row.column("owner_key")?.blob else {
                    throw MetadataStoreError(.invalidRecord, "an owner record of \(id.short) has no key")
                }
                return Array(buffer.readableBytesView)
            }
        }
    }

    /// Removes one owner of `id`. - Returns: `false` when it was not an owner.
    @discardableResult
    public func removeOwner(_ ownerKey: [UInt8], of id: ContentID) async throws -> Bool {
        try await exclusive {
            try await !self.query("DELETE FROM owners WHERE id = ? AND owner_key = ? RETURNING id",
                                  [.blob(id), .blob(ownerKey)]).isEmpty
        }
    }

    /// Removes every owner record of `id`.
    public func removeAllOwners(of id: ContentID) async throws {
        try await exclusive {
            _ = try await self.query("DELETE FROM owners WHERE id = ?", [.blob(id)])
        }
    }

    // MARK: - Tombstones

    /// Records that `id` was deleted, so repair never brings it back. A later call keeps the later time.
    public func addTombstone(_ id: ContentID, deletedAt: Timestamp) async throws {
        try await exclusive {
            _ = try await self.query("""
                INSERT INTO tombstones (id, deleted_at) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET deleted_at = MAX(deleted_at, excluded.deleted_at)
                """, [.blob(id), .integer(Int(deletedAt.nanoseconds))])
        }
    }

    /// Whether `id` was deleted.
    public func isTombstoned(_ id: ContentID) async throws -> Bool {
        try await tombstone(of: id) != nil
    }

    /// When `id` was deleted, or `nil` when it was not.
    public func tombstone(of id: ContentID) async throws -> Timestamp? {
        try await exclusive {
            try await self.query("SELECT deleted_at FROM tombstones WHERE id = ?", [.blob(id)]).first?
                .column("deleted_at")?.integer.map { Timestamp(nanoseconds: Int64($0)) }
        }
    }

    /// Forgets tombstones older than `cutoff` (once they can no longer be revived).
    /// - Returns: how many were removed.
    @discardableResult
    public func removeTombstones(before cutoff: Timestamp) async throws -> Int {
        try await exclusive {
            try await self.query("DELETE FROM tombstones WHERE deleted_at < ? RETURNING id",
                                 [.integer(Int(cutoff.nanoseconds))]).count
        }
    }

    // MARK: - Keyring

    /// Saves (or replaces) the keyring entry of a file uploaded through this node.
    public func saveKeyringEntry(_ entry: KeyringEntry) async throws {
        try await exclusive {
            _ = try await self.query("""
                INSERT OR REPLACE INTO keyring (root, file_key, is_public, size, name, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, [.blob(entry.root), entry.address.key.map { .blob($0.bytes) } ?? .null,
                      .integer(entry.isPublic ? 1 : 0), .integer(Int(entry.size)), .text(entry.name),
                      .integer(Int(entry.createdAt.nanoseconds))])
        }
    }

    /// The keyring entry of the file `root`, if it was uploaded through this node.
    public func keyringEntry(root: ContentID) async throws -> KeyringEntry? {
        try await exclusive {
            try await self.query("SELECT * FROM keyring WHERE root = ?", [.blob(root)]).first.map(Self.keyringEntry)
        }
    }

    /// Every keyring entry, oldest first.
    public func keyringEntries() async throws -> [KeyringEntry] {
        try await exclusive {
            try await self.query("SELECT * FROM keyring ORDER BY created_at ASC, root ASC").map(Self.keyringEntry)
        }
    }

    /// Removes the keyring entry of `root`. - Returns: `false` when there was none.
    @discardableResult
    public func removeKeyringEntry(root: ContentID) async throws -> Bool {
        try await exclusive {
            try await !self.query("DELETE FROM keyring WHERE root = ? RETURNING root", [.blob(root)]).isEmpty
        }
    }

    private static func keyringEntry(_ row: SQLiteRow) throws -> KeyringEntry {
        let root = try key(row, "root")
        var fileKey: FileKey?
        if row.column("is_public")?.integer != 1 {
            guard let buffer = row.column("file_key")?.blob,
                  let key = try? FileKey(bytes: Array(buffer.readableBytesView)) else {
                throw MetadataStoreError(.invalidRecord, "the keyring entry of \(root.short) is private but has no valid key")
            }
            fileKey = key
        }
        return KeyringEntry(address: FileAddress(root: root, key: fileKey),
                            size: UInt64(max(0, row.column("size")?.integer ?? 0)),
                            name: row.column("name")?.string ?? "",
                            createdAt: Timestamp(nanoseconds: Int64(row.column("created_at")?.integer ?? 0)))
    }

    // MARK: - Plumbing

    private static func key(_ row: SQLiteRow, _ column: String) throws -> ContentID {
        guard let buffer = row.column(column)?.blob, let key = Key256(bytes: buffer.readableBytesView) else {
            throw MetadataStoreError(.invalidRecord, "a metadata record has an invalid \(column) (expected 32 bytes)")
        }
        return key
    }

    private static func kind(_ row: SQLiteRow) throws -> ObjectKind {
        guard let value = row.column("kind")?.integer, let kind = ObjectKind(databaseValue: Int(value)) else {
            throw MetadataStoreError(.invalidRecord, "a pin record has an unknown object kind")
        }
        return kind
    }

    private func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw MetadataStoreError(.database, "metadata database error: \(error). If it persists, check the disk and free space")
        }
    }

    /// Runs `body` with no other operation interleaved (the connection is shared).
    private func exclusive<T>(_ body: () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }

    /// Runs `body` exclusively inside a transaction, rolled back if it (or the commit) throws.
    private func transaction<T>(_ body: () async throws -> T) async throws -> T {
        try await exclusive {
            _ = try await self.query("BEGIN IMMEDIATE")
            do {
                let result = try await body()
                _ = try await self.query("COMMIT")
                return result
            } catch {
                _ = try? await self.query("ROLLBACK")
                // The body may have adjusted the cache total before failing: recount it.
                if let sum = try? await self.query("SELECT COALESCE(SUM(size), 0) AS s FROM cache").first?.column("s")?.integer {
                    self.cachedBytes = UInt64(max(0, sum))
                }
                throw error
            }
        }
    }
}

extension SQLiteData {
    static func blob(_ key: Key256) -> SQLiteData { .blob(ByteBuffer(bytes: key.bytes)) }
    static func blob(_ bytes: [UInt8]) -> SQLiteData { .blob(ByteBuffer(bytes: bytes)) }
}
