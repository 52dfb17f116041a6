import Logging
import ShoalCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The node's durable bookkeeping, in SQLite (WAL, `synchronous = FULL`): the objects it holds and
/// how (replica, cache, unchecked), who claims each one, the tombstones of deleted claims, the
/// objects of the files put through this node, the keys of those files (the keyring), uploads in
/// progress and node-level state.
///
/// Every method runs alone, start to finish, on the store's own thread (a custom executor), with
/// plain synchronous SQLite calls: a multi-statement change is one transaction that neither task
/// cancellation nor another caller can interrupt, and the connection is never left inside a
/// transaction. Timestamps stored here are wall-clock times: nanoseconds since the Unix epoch.
///
/// The schema is versioned with `PRAGMA user_version` and migrated forward on open. A database
/// that SQLite finds damaged is refused with a message saying what it holds and what to do; it is
/// never silently replaced.
public actor MetadataStore {
    /// The most bytes of cache entries kept; inserting beyond it evicts least recently used entries.
    public let cacheSize: UInt64
    /// The database file (`":memory:"` for an in-memory store).
    public nonisolated let path: String

    private let executor: ThreadExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let logger: Logger
    var db: SQLiteConnection!
    var lruClock: Int64 = 0
    /// Bytes of all cache entries.
    public internal(set) var cachedBytes: UInt64 = 0
    /// What replicas (and unchecked copies) take on disk.
    public internal(set) var replicaBytes: UInt64 = 0
    /// Objects held, by state.
    public internal(set) var objectCounts: [ObjectState: Int] = [:]

    // MARK: - Opening

    /// Opens (creating and migrating if needed) the metadata database at `path`.
    /// - Parameters:
    ///   - path: the database file, e.g. `<data>/metadata.sqlite`; created with mode 0600 because
    ///     the keyring holds file keys.
    ///   - cacheSize: the byte bound of the read cache (`--cache-size`).
    ///   - logger: where migrations are reported.
    /// - Returns: the open store; call ``close()`` when done.
    /// - Throws: ``MetadataStoreError`` with code `schemaTooNew` when a newer Shoal wrote the
    ///   database, `damaged` when SQLite finds it corrupt or truncated, or `database` when SQLite
    ///   fails otherwise.
    public static func open(
        path: String, cacheSize: UInt64,
        logger: Logger = Logger(label: "shoal.metadata")
    ) async throws -> MetadataStore {
        try await open(path: path, cacheSize: cacheSize, logger: logger, migrations: MetadataSchema.migrations)
    }

    /// Opens a database that lives only in memory (for tests and throwaway nodes).
    public static func openInMemory(
        cacheSize: UInt64,
        logger: Logger = Logger(label: "shoal.metadata")
    ) async throws -> MetadataStore {
        try await open(path: ":memory:", cacheSize: cacheSize, logger: logger, migrations: MetadataSchema.migrations)
    }

    static func open(
        path: String, cacheSize: UInt64, logger: Logger,
        migrations: [MetadataMigration]
    ) async throws -> MetadataStore {
        let store = MetadataStore(path: path, cacheSize: cacheSize, logger: logger)
        try await store.prepare(migrations: migrations)
        return store
    }

    private init(path: String, cacheSize: UInt64, logger: Logger) {
        self.path = path
        self.cacheSize = cacheSize
        self.logger = logger
        self.executor = ThreadExecutor(name: "shoal-metadata")
    }

    deinit {
        // The connection closes itself when released.
        executor.stop()
    }

    private func prepare(migrations: [MetadataMigration]) throws {
        let inMemory = path == ":memory:"
        if !inMemory, let size = try? Posix.fileSize(path) {
            // SQLite never commits a database smaller than one page; an existing file that short
            // was truncated (an empty one would otherwise open as a brand-new, empty database).
            if size < 512 {
                throw MetadataStoreError.damaged(path, "the file is \(size) bytes long: it was truncated")
            }
        } else if !inMemory {
            try createFile()
        }
        do {
            db = try SQLiteConnection(path: path, create: inMemory)
            try db.execute("PRAGMA journal_mode = WAL")
            try db.execute("PRAGMA synchronous = FULL")
            // Keep the write-ahead log small: it counts against --max-storage like everything else
            // (always at its largest, see databaseBytes()).
            try db.execute("PRAGMA wal_autocheckpoint = \(Self.walPages)")
            try db.execute("PRAGMA journal_size_limit = \(Self.walPages * 4096)")
            try db.execute("PRAGMA foreign_keys = OFF")
            if !inMemory {
                let check = try db.query("PRAGMA quick_check(1)").first?.first?.text ?? "no answer"
                guard check == "ok" else {
                    throw MetadataStoreError.damaged(path, "SQLite's integrity check says: \(check)")
                }
            }
            try Self.migrate(db, migrations: migrations, logger: logger)
            try loadTotals()
        } catch let error as SQLiteError where error.isCorrupt {
            db?.close()
            throw MetadataStoreError.damaged(path, error.message)
        } catch let error as MetadataStoreError {
            db?.close()
            throw error
        } catch {
            db?.close()
            throw MetadataStoreError(
                .database,
                "could not open the metadata database \(path): \(error). Check the data directory's permissions and free space"
            )
        }
    }

    /// Creates an empty database file with mode 0600 and a valid first page, atomically, so a
    /// crash never leaves a file that could be mistaken for a truncated database.
    private func createFile() throws {
        let temp = path + ".new"
        _ = try? Posix.unlink(temp)
        do {
            let fd = try Posix.open(temp, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
            Posix.close(fd)
            let fresh = try SQLiteConnection(path: temp, create: false)
            try fresh.execute(
                "PRAGMA journal_mode = DELETE; CREATE TABLE shoal_created (at INTEGER); DROP TABLE shoal_created")
            fresh.close()
            try Posix.rename(temp, path)
        } catch {
            _ = try? Posix.unlink(temp)
            throw MetadataStoreError(
                .database,
                "could not create the metadata database \(path): \(error). Check the data directory's permissions and free space"
            )
        }
    }

    /// Applies, in order, every migration newer than the database's `user_version`, each in its
    /// own transaction together with the version bump.
    static func migrate(_ db: SQLiteConnection, migrations: [MetadataMigration], logger: Logger) throws {
        let current = Int(try db.query("PRAGMA user_version").first?.first?.integer ?? 0)
        let latest = migrations.last?.version ?? 0
        guard current <= latest else {
            throw MetadataStoreError(
                .schemaTooNew,
                "the metadata database has schema version \(current), newer than this build knows (\(latest)); run a newer Shoal, or use another --data directory"
            )
        }
        for migration in migrations where migration.version > current {
            do {
                try db.transaction {
                    for statement in migration.statements { try db.execute(statement) }
                    try db.execute("PRAGMA user_version = \(migration.version)")
                }
            } catch {
                throw MetadataStoreError(
                    .database,
                    "metadata schema migration to version \(migration.version) failed and was rolled back: \(error)")
            }
            logger.info("metadata schema migrated", metadata: ["metadata.schema_version": "\(migration.version)"])
        }
    }

    private func loadTotals() throws {
        // A database opened with an older schema (migration tests) has no object table yet.
        guard try db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'objects'").first != nil else {
            return
        }
        lruClock = try db.query("SELECT COALESCE(MAX(last_used), 0) FROM objects").first?.first?.integer ?? 0
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

    /// The schema version of the open database.
    public func schemaVersion() throws -> Int {
        Int(try run { try db.query("PRAGMA user_version").first?.first?.integer ?? 0 })
    }

    /// Pages the write-ahead log may hold before a checkpoint folds it into the database.
    static let walPages = 64

    /// What the database may take on disk: its pages, the shared-memory index, and the write-ahead
    /// log counted at the size a checkpoint lets it reach, so that what it grows between two
    /// checks is already counted.
    public func databaseBytes() -> UInt64 {
        guard path != ":memory:" else { return 0 }
        let files = [path, path + "-shm"].reduce(UInt64(0)) { total, file in
            total + (((try? Posix.fileSpace(file)) ?? nil)?.allocated ?? 0)
        }
        let wal = ((try? Posix.fileSpace(path + "-wal")) ?? nil)?.allocated ?? 0
        return files + max(wal, UInt64(Self.walPages + 2) * 4096)
    }

    /// Whether a transaction is open (never, between calls; for tests).
    public func isInTransaction() -> Bool { db.isInTransaction }

    /// Closes the database. The store must not be used afterwards.
    public func close() {
        db?.close()
    }

    // MARK: - Plumbing

    /// Runs `body`, mapping SQLite's errors to ``MetadataStoreError``.
    func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as MetadataStoreError {
            throw error
        } catch let error as SQLiteError where error.isFull {
            throw MetadataStoreError(
                .diskFull,
                "the disk holding \(path) is full: the metadata change was rolled back and nothing was recorded. Free disk space, or set --max-storage below the free space"
            )
        } catch let error as SQLiteError where error.isCorrupt {
            throw MetadataStoreError.damaged(path, error.message)
        } catch {
            throw MetadataStoreError(
                .database,
                "metadata database error: \(error); the change was rolled back. If it persists, check the disk and free space"
            )
        }
    }

    /// Runs `body` in one transaction, mapping errors as ``run(_:)`` does.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try run { try db.transaction(body) }
    }

    static func key(_ value: SQLiteValue, _ what: String) throws -> ContentID {
        guard let bytes = value.blob, let key = Key256(bytes: bytes) else {
            throw MetadataStoreError(.invalidRecord, "a metadata record has an invalid \(what) (expected 32 bytes)")
        }
        return key
    }

    static func timestamp(_ value: SQLiteValue) -> Timestamp { Timestamp(nanoseconds: value.integer ?? 0) }
}
