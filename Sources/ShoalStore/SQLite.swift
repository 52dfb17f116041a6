import CSQLite
import ShoalCore

/// A synchronous SQLite connection: statements run to completion on the calling thread, so a
/// transaction is a plain closure that nothing (no task cancellation, no other caller) can
/// interrupt between its `BEGIN` and its `COMMIT` or `ROLLBACK`.
///
/// Not thread-safe: ``MetadataStore`` owns one and uses it only from its own serial executor.
/// Prepared statements are cached by SQL text.
final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    let path: String

    /// Opens (creating when `create`) the database at `path`; `":memory:"` for a private in-memory one.
    init(path: String, create: Bool) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: status, message: message, sql: "open \(path)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    func close() {
        for statement in statements.values { statement.finalize() }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &error)
        if status != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw SQLiteError(code: status, message: message, sql: sql)
        }
    }

    /// Runs `sql` with `binds` and returns every row, each as its columns in order.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        let statement = try prepared(sql)
        defer { statement.reset() }
        try statement.bind(binds)
        var rows: [[SQLiteValue]] = []
        while try statement.step() { rows.append(statement.row()) }
        return rows
    }

    /// Runs `sql` with `binds`, handing each row to `body` without collecting them.
    func forEachRow(_ sql: String, _ binds: [SQLiteValue] = [], _ body: ([SQLiteValue]) throws -> Void) throws {
        let statement = try prepared(sql)
        defer { statement.reset() }
        try statement.bind(binds)
        while try statement.step() { try body(statement.row()) }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`; any error rolls everything back and is rethrown.
    /// Never leaves the connection inside a transaction.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            rollback()
            throw error
        }
    }

    /// Rolls back the open transaction, if any. Resets every cached statement first, since a
    /// statement left mid-step would make the rollback fail.
    private func rollback() {
        for statement in statements.values { statement.reset() }
        if sqlite3_get_autocommit(handle) == 0 {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
        }
    }

    /// Whether a transaction is open (for tests that check none is ever left open).
    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    private func prepared(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        var raw: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard status == SQLITE_OK, let raw else {
            throw SQLiteError(code: status, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        let statement = SQLiteStatement(raw, connection: handle, sql: sql)
        statements[sql] = statement
        return statement
    }
}

/// A value bound to or read from a statement.
enum SQLiteValue: Equatable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    static func key(_ key: Key256) -> SQLiteValue { .blob(key.bytes) }
    static func int(_ value: Int) -> SQLiteValue { .integer(Int64(value)) }
    static func bool(_ value: Bool) -> SQLiteValue { .integer(value ? 1 : 0) }

    var integer: Int64? { if case .integer(let v) = self { return v } else { return nil } }
    var blob: [UInt8]? { if case .blob(let v) = self { return v } else { return nil } }
    var text: String? { if case .text(let v) = self { return v } else { return nil } }
}

/// A prepared statement, reused across calls (reset after each).
final class SQLiteStatement {
    private let raw: OpaquePointer
    private let connection: OpaquePointer?
    let sql: String

    init(_ raw: OpaquePointer, connection: OpaquePointer?, sql: String) {
        self.raw = raw
        self.connection = connection
        self.sql = sql
    }

    func finalize() { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    func bind(_ values: [SQLiteValue]) throws {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .integer(let v): status = sqlite3_bind_int64(raw, index, v)
            case .text(let s): status = sqlite3_bind_text(raw, index, s, -1, sqliteTransient)
            case .blob(let bytes) where bytes.isEmpty:
                // A null pointer would bind NULL; an empty blob is a value (the anonymous owner, X'').
                status = sqlite3_bind_zeroblob(raw, index, 0)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(raw, index, $0.baseAddress, Int32($0.count), sqliteTransient)
                }
            case .null: status = sqlite3_bind_null(raw, index)
            }
            guard status == SQLITE_OK else { throw error(status) }
        }
    }

    /// Advances to the next row. - Returns: `false` when done.
    func step() throws -> Bool {
        let status = sqlite3_step(raw)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw error(status)
        }
    }

    func row() -> [SQLiteValue] {
        (0..<sqlite3_column_count(raw)).map { column in
            switch sqlite3_column_type(raw, column) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(raw, column))
            case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(raw, column)))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(raw, column))
                guard count > 0, let base = sqlite3_column_blob(raw, column) else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
            case SQLITE_FLOAT: return .integer(Int64(sqlite3_column_double(raw, column)))
            default: return .null
            }
        }
    }

    private func error(_ status: Int32) -> SQLiteError {
        SQLiteError(code: status, message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}

/// A failed SQLite call: the result code, SQLite's message and the statement.
struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var sql: String

    /// The primary result code (extended codes carry more bits).
    var primary: Int32 { code & 0xff }
    var isFull: Bool { primary == SQLITE_FULL }
    var isCorrupt: Bool { primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB }

    var description: String { "SQLite error \(code) (\(message)) in '\(sql.prefix(80))'" }
}

private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
