import CSQLite
import Foundation

/// A failure reported by SQLite, with whether retrying later can help.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// SQLite's primary result code (`SQLITE_BUSY` = 5, `SQLITE_FULL` = 13…).
    public let code: Int32
    /// SQLite's message and what the gateway was doing.
    public let message: String

    /// Busy, locked, full disk or I/O errors can clear up by themselves; a constraint or a corrupt
    /// file cannot.
    public var isTransient: Bool {
        [SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PROTOCOL]
            .contains(code & 0xFF)
    }

    public var description: String { "SQLite error \(code): \(message)" }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
}

/// A value bound to a statement parameter.
public enum SQLValue: Sendable {
    case integer(Int64)
    case text(String)
    case blob(Data)
    case null

    /// Text, or NULL when nil.
    public static func text(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    /// Integer, or NULL when nil.
    public static func integer(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
}

/// One open SQLite database handle. Not thread-safe: it belongs to the thread that uses it.
/// Prepared statements are cached per connection; `close()` must be called on the owning thread.
public final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    /// The same statements by the address of their SQL text's bytes. The SQL of the hot paths is string
    /// literals, whose bytes have a fixed address: looking them up by address instead of hashing a few
    /// hundred bytes of text per statement saved 7% of a directory sync's instructions. A hit is checked
    /// against the whole text (a heap string may reuse an address), so a stale entry only costs a miss.
    private var statementsByAddress: [UnsafeRawPointer: SQLiteStatement] = [:]
    private static let addressCacheLimit = 256

    /// Page cache of a read-write connection, KiB (SQLite's default is 2 MiB). The directory's phone
    /// index and the tickets' indexes are read at random; with the default, a large directory is read
    /// back from the page cache of the kernel one `pread` per page.
    static let pageCacheKiB = 32_768

    /// Pages the write-ahead log may hold before a commit copies them back into the database file
    /// (SQLite's default is 1,000). Under load, a page that many batches change (a leaf of the phone index,
    /// of the inbox) is then copied back once instead of once every few batches: a 400,000-subscriber sync
    /// went from 8,555 to 11,116 subscribers/s at 10,000 pages, and 40,000 with large batches carried a
    /// million at 15,200/s. The log grows to about 160 MiB under sustained load only; an idle gateway
    /// checkpoints at once (`checkpoint()`).
    static let checkpointPages = 40_000
    /// The size `checkpoint()` has the log file shrink to (at the next commit, when the log restarts).
    static let idleLogFileBytes = 64 << 20

    /// Opens (creating with mode 0600 when missing) the database at `path`, in WAL mode with
    /// `synchronous=FULL`, a page cache of `pageCacheKiB`, temporary storage in memory and the given
    /// busy timeout.
    ///
    /// `temp_store=MEMORY` keeps the statement journal of each message's savepoint in memory: on a file
    /// (SQLite's default once it passes 64 KiB in a transaction) every page a message touched was
    /// written there first, two `pwrite`s per page, about 17 system calls per message in a call storm.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        handle = try Self.open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, busyTimeoutMilliseconds,
                               purpose: "")
        do {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=FULL")
            try execute("PRAGMA foreign_keys=ON")
            try execute("PRAGMA temp_store=MEMORY")
            try execute("PRAGMA cache_size=-\(Self.pageCacheKiB)")
            try execute("PRAGMA wal_autocheckpoint=\(Self.checkpointPages)")
        } catch {
            close()
            throw error
        }
    }

    /// Opens the existing database at `path` for reading only; never creates it. Writes fail with
    /// `SQLITE_READONLY`; in WAL mode readers neither block the writer nor wait for it.
    public init(readingPath path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        handle = try Self.open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, busyTimeoutMilliseconds, purpose: " for reading")
    }

    /// SQLite's memory statistics, off before the first open in the process (a global mutex per allocation,
    /// 2.5% of a call storm's instructions). A `static let` runs once, thread-safely.
    private static let memoryStatisticsOff: Void = { _ = metrika_sqlite3_disable_memory_statistics() }()

    /// Opens a handle with the busy timeout and extended result codes set.
    private static func open(_ path: String, _ flags: Int32, _ busyTimeoutMilliseconds: Int32,
                             purpose: String) throws(StoreError) -> OpaquePointer {
        _ = memoryStatisticsOff
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw StoreError(code: status, message: "cannot open database '\(path)'\(purpose): \(message)")
        }
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
        return db
    }

    deinit {
        assert(handle == nil, "SQLiteConnection deallocated without close()")
    }

    /// Finalises cached statements and closes the handle.
    public func close() {
        statementsByAddress.removeAll()
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// Runs one or more statements without parameters.
    public func execute(_ sql: String) throws(StoreError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if status != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(errorMessage)
            throw StoreError(code: status, message: "\(message) (in: \(sql.prefix(80)))")
        }
    }

    /// Copies the write-ahead log back into the database file as far as readers allow, without waiting for
    /// them (a passive checkpoint); the next write then starts the log from its beginning and shrinks the
    /// file to `idleLogFileBytes`. For a quiet moment: `keepLogFileSize()` must follow that write, because
    /// shrinking the file at every restart under load made SQLite grow it again each time (a million-
    /// subscriber sync at 13,263 instead of 15,291 subscribers/s, 6 s more of CPU).
    public func checkpoint() throws(StoreError) {
        try execute("PRAGMA wal_checkpoint(PASSIVE)")
        try execute("PRAGMA journal_size_limit=\(Self.idleLogFileBytes)")
    }

    /// Lets the log file keep its size when the log restarts (SQLite's default), for work under load.
    public func keepLogFileSize() throws(StoreError) {
        try execute("PRAGMA journal_size_limit=-1")
    }

    /// The cached prepared statement for `sql`, reset (its next `bind` replaces every parameter).
    public func statement(_ sql: String) throws(StoreError) -> SQLiteStatement {
        let address = sql.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
        if let address, let cached = statementsByAddress[address], cached.sql == sql {
            cached.reset()
            return cached
        }
        if let cached = statements[sql] {
            if let address, statementsByAddress.count < Self.addressCacheLimit { statementsByAddress[address] = cached }
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard status == SQLITE_OK, let raw else { throw lastError(status, "preparing \(sql.prefix(80))") }
        let statement = SQLiteStatement(raw, sql: sql, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLValue] = []) throws(StoreError) -> Int {
        let statement = try statement(sql)
        try statement.bind(values)
        while try statement.step() {}
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps each row.
    public func query<T>(_ sql: String, _ values: [SQLValue] = [], _ row: (SQLiteStatement) throws(StoreError) -> T) throws(StoreError) -> [T] {
        let statement = try statement(sql)
        try statement.bind(values)
        var rows: [T] = []
        while try statement.step() { rows.append(try row(statement)) }
        return rows
    }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE`), committing when it returns and rolling back
    /// when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` inside a savepoint, so that its writes can be undone alone when it throws.
    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        try run("SAVEPOINT metrika_message")
        do {
            let result = try body()
            try run("RELEASE metrika_message")
            return result
        } catch {
            try? execute("ROLLBACK TO metrika_message")
            try? execute("RELEASE metrika_message")
            throw error
        }
    }

    func lastError(_ status: Int32, _ doing: String) -> StoreError {
        StoreError(code: status, message: "\(String(cString: sqlite3_errmsg(handle))) (while \(doing))")
    }
}

/// A prepared statement owned by its connection's cache; finalised in `deinit`.
public final class SQLiteStatement {
    private let handle: OpaquePointer
    /// The SQL it was prepared from.
    let sql: String
    private unowned let connection: SQLiteConnection

    init(_ handle: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    func reset() {
        sqlite3_reset(handle)
    }

    /// Binds `values` to the parameters in order. Parameters left without a value are bound to NULL, not
    /// to what an earlier use of the cached statement bound.
    func bind(_ values: [SQLValue]) throws(StoreError) {
        if values.count < Int(sqlite3_bind_parameter_count(handle)) { sqlite3_clear_bindings(handle) }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case let .integer(number): status = sqlite3_bind_int64(handle, index, number)
            case .null: status = sqlite3_bind_null(handle, index)
            case let .text(text):
                status = bindText(text, at: index)
            case let .blob(data):
                status = data.withUnsafeBytes { metrika_sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count)) }
            }
            guard status == SQLITE_OK else { throw connection.lastError(status, "binding parameter \(index)") }
        }
    }

    /// Binds text; SQLite copies it. A native string's bytes are bound in place; an empty string (whose
    /// storage may have no address, which SQLite would read as NULL) and others go through a C copy.
    private func bindText(_ text: String, at index: Int32) -> Int32 {
        let inPlace: Int32?? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                metrika_sqlite3_bind_text(handle, index, $0, Int32(bytes.count))
            }
        }
        if let status = inPlace ?? nil { return status }
        return text.utf8CString.withUnsafeBufferPointer {
            metrika_sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count - 1))
        }
    }

    /// Advances; true when a row is available.
    func step() throws(StoreError) -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.lastError(status, "running \(String(cString: sqlite3_sql(handle)).prefix(80))")
        }
    }

    /// Integer column `index` (0-based); 0 when NULL.
    public func int(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }

    /// Integer column, nil when NULL.
    public func optionalInt(_ index: Int32) -> Int64? {
        sqlite3_column_type(handle, index) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, index)
    }

    /// Text column, nil when NULL.
    public func text(_ index: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, index) else { return nil }
        return String(cString: bytes)
    }

    /// Blob column as bytes (empty when NULL).
    public func blob(_ index: Int32) -> Data {
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count > 0, let bytes = sqlite3_column_blob(handle, index) else { return Data() }
        return Data(bytes: bytes, count: count)
    }
}
