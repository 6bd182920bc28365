import Foundation

/// What the outbox still owes the broker.
public struct OutboxBacklog: Sendable, Equatable {
    /// Events, replies and dead letters written but not yet confirmed by the broker.
    public let messages: Int
    /// When the oldest of them was written; nil when the outbox is empty.
    public let oldestWrittenAt: Date?
}

/// What the database holds right now that operations watch, read in one transaction for metrics.
public struct OperationalState: Sendable, Equatable {
    /// What the outbox still owes.
    public let outbox: OutboxBacklog
    /// Open callbacks (the unprocessed list).
    public let openCallbacks: Int
    /// Open callbacks already reported overdue, or opened at or before the instant asked about.
    public let overdueCallbacks: Int
    /// Tickets by state (`draft`, `saved`), each state present even when zero.
    public let ticketsByState: [String: Int]
    /// The SQLite library's version (`3.40.1`).
    public let sqliteVersion: String
}

extension GatewayStore {
    /// What the outbox owes: a count and the age of the oldest row (cheap: the outbox is kept short).
    public func outboxBacklog() throws(StoreError) -> OutboxBacklog {
        let oldest = try connection.query("SELECT created_at_ms FROM outbox ORDER BY seq LIMIT 1") { $0.int(0) }.first
        let count = try connection.query("SELECT COUNT(*) FROM outbox") { Int($0.int(0)) }.first ?? 0
        return OutboxBacklog(messages: count, oldestWrittenAt: oldest.map(Date.init(milliseconds:)))
    }

    /// Reads the operational state in one read transaction. An open callback counts as overdue when the
    /// gateway reported it or when it was opened at or before `overdueBefore`, as the unprocessed list shows it.
    public func operationalState(overdueBefore: Date) throws(StoreError) -> OperationalState {
        try connection.execute("BEGIN DEFERRED")
        defer { try? connection.execute("COMMIT") }
        let outbox = try outboxBacklog()
        let callbacks = try connection.query("""
            SELECT COUNT(*), COALESCE(SUM(overdue_at_ms IS NOT NULL OR opened_at_ms <= ?), 0)
            FROM callbacks WHERE status = 'open'
            """, [.integer(overdueBefore.milliseconds)]) { (open: Int($0.int(0)), overdue: Int($0.int(1))) }.first
        let all = try connection.query("SELECT COUNT(*) FROM tickets") { Int($0.int(0)) }.first ?? 0
        let drafts = try connection.query("SELECT COUNT(*) FROM tickets WHERE state = 'draft'") { Int($0.int(0)) }.first ?? 0
        let version = try connection.query("SELECT sqlite_version()") { $0.text(0) ?? "" }.first ?? ""
        return OperationalState(outbox: outbox, openCallbacks: callbacks?.open ?? 0, overdueCallbacks: callbacks?.overdue ?? 0,
                                ticketsByState: ["draft": drafts, "saved": all - drafts], sqliteVersion: version)
    }
}

extension SQLiteConnection {
    /// Proves that the database can be written now: takes the write lock (waiting at most the busy
    /// timeout for the gateway's writer) and releases it without writing anything.
    public func checkWritable() throws(StoreError) {
        try execute("BEGIN IMMEDIATE")
        try execute("ROLLBACK")
    }
}
