import Foundation
import MetrikaDomain

/// A header value on an outbound AMQP message.
public enum OutboxHeaderValue: Codable, Sendable, Equatable {
    case string(String)
    case integer(Int64)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            self = .integer(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .string(text): try container.encode(text)
        case let .integer(number): try container.encode(number)
        }
    }
}

/// A message owed to the broker, written in the same transaction as the change that caused it and
/// deleted only after the broker confirmed it.
public struct OutboxMessage: Sendable, Equatable {
    /// Position in the outbox (assigned on insert; 0 before).
    public var seq: Int64
    /// AMQP `message_id`, equal to the body's `event_id`; stable across republishing.
    public let messageID: String
    public let exchange: String
    public let routingKey: String
    public let body: Data
    public let headers: [String: OutboxHeaderValue]
    public let correlationID: String?
    public let createdAt: Date

    public init(messageID: String, exchange: String, routingKey: String, body: Data,
                headers: [String: OutboxHeaderValue] = [:], correlationID: String? = nil, createdAt: Date) {
        self.seq = 0
        self.messageID = messageID
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.headers = headers
        self.correlationID = correlationID
        self.createdAt = createdAt
    }
}

/// A dead-lettered input as recorded in the database (the message itself goes through the outbox).
public struct DeadLetterRecord: Sendable, Equatable {
    public let messageID: String?
    public let errorClass: String
    public let error: String
    public let queue: String
    public let exchange: String
    public let routingKey: String
    public let failedAt: Date

    public init(messageID: String?, errorClass: String, error: String, queue: String, exchange: String,
                routingKey: String, failedAt: Date) {
        self.messageID = messageID
        self.errorClass = errorClass
        self.error = error
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.failedAt = failedAt
    }
}

/// The gateway's durable state in one SQLite file: inbox (deduplication), subscriber directory,
/// calls, tickets, callbacks, outbox and dead-letter log.
///
/// Not thread-safe: one instance per thread. Writes happen inside `transaction`.
public final class GatewayStore {
    /// The underlying connection, for queries that are not part of this interface.
    public let connection: SQLiteConnection
    private let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The zone in which timestamps inside stored tickets are written (any zone reads back the same
    /// instants); the gateway uses the company's zone, so the stored JSON is the published JSON.
    public var ticketZone: TimeZone = .gmt
    private let jsonDecoder = JSONDecoder()
    /// True when the current transaction is known to hold no unsettled draft, so that a directory sync does
    /// not look up each phone's drafts. Learnt from one query, forgotten when a transaction starts or ends, a
    /// savepoint rolls back, or an unsettled draft is written.
    private var knownNoUnsettledDrafts = false

    /// Opens the database at `path`, creating it (mode 0600) and applying migrations.
    public init(path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        do {
            try migrate()
        } catch {
            connection.close()
            throw error
        }
    }

    /// Opens the gateway's existing database at `path` read-only, for views and metrics beside the
    /// gateway's writer. Refuses a database whose schema is older than this build's.
    public init(readingPath path: String, busyTimeoutMilliseconds: Int32 = 5_000) throws(StoreError) {
        connection = try SQLiteConnection(readingPath: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        do throws(StoreError) {
            let applied = try connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") { $0.int(0) }.first ?? 0
            guard applied >= Int64(Schema.migrations.count) else {
                throw StoreError(code: 1, message: "the database '\(path)' has schema version \(applied) but this build reads version \(Schema.migrations.count); start the gateway once to migrate it")
            }
        } catch {
            connection.close()
            throw error
        }
    }

    /// Closes the connection; call on the owning thread.
    public func close() { connection.close() }

    private func migrate() throws(StoreError) {
        do {
            try connection.transaction {
                try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
                let applied = try connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") { $0.int(0) }.first ?? 0
                for (index, sql) in Schema.migrations.enumerated() where Int64(index + 1) > applied {
                    try connection.execute(sql)
                    try connection.run("INSERT INTO schema_migrations (version) VALUES (?)", [.integer(Int64(index + 1))])
                }
            }
        } catch let error as StoreError {
            throw StoreError(code: error.code, message: "cannot migrate the database: \(error.message)")
        } catch {
            throw StoreError(code: 1, message: "cannot migrate the database: \(error)")
        }
    }

    /// Runs `body` in one transaction.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        knownNoUnsettledDrafts = false
        defer { knownNoUnsettledDrafts = false }
        return try connection.transaction(body)
    }

    /// Copies the write-ahead log back into the database file (see `SQLiteConnection.checkpoint()`).
    public func checkpoint() throws(StoreError) { try connection.checkpoint() }

    /// Lets the log file keep its size again after a checkpoint (see `SQLiteConnection.keepLogFileSize()`).
    public func keepLogFileSize() throws(StoreError) { try connection.keepLogFileSize() }

    /// Runs `body` in a savepoint inside the current transaction.
    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        do {
            return try connection.savepoint(body)
        } catch {
            knownNoUnsettledDrafts = false
            throw error
        }
    }

    // MARK: Inbox

    /// Records that the message with `messageID` is being applied; false when it already was.
    public func claim(messageID: String, type: String, at instant: Date) throws(StoreError) -> Bool {
        try connection.run("INSERT OR IGNORE INTO inbox (message_id, type, processed_at_ms) VALUES (?, ?, ?)",
                           [.text(messageID), .text(type), .integer(instant.milliseconds)]) == 1
    }

    /// Forgets the ids of messages applied before `cutoff`, looking at no more than `limit` inbox rows after
    /// `cursor` in id order (a short range scan, so pruning never holds the database for long); returns
    /// where the next call goes on ("" after the last row: start again) and how many ids it deleted.
    public func pruneInbox(appliedBefore cutoff: Date, after cursor: String, limit: Int) throws(StoreError) -> (next: String, deleted: Int) {
        let last = try connection.query("""
            SELECT max(message_id) FROM (SELECT message_id FROM inbox WHERE message_id > ? ORDER BY message_id LIMIT ?)
            """, [.text(cursor), .integer(Int64(limit))]) { $0.text(0) }.first ?? nil
        guard let last else { return ("", 0) }
        let deleted = try connection.run("DELETE FROM inbox WHERE message_id > ? AND message_id <= ? AND processed_at_ms < ?",
                                         [.text(cursor), .text(last), .integer(cutoff.milliseconds)])
        return (last, deleted)
    }

    /// Keeps how a claimed command was answered (the ticket it accepted, or why it was refused).
    public func recordReply(toCommand messageID: String, ticketID: String?, rejection: CommandRejection?) throws(StoreError) {
        try connection.run("UPDATE inbox SET reply_ticket_id = ?, reply_code = ?, reply_message = ? WHERE message_id = ?",
                           [ticketID.map(SQLValue.text) ?? .null, rejection.map { .text($0.code.rawValue) } ?? .null,
                            rejection.map { .text($0.message) } ?? .null, .text(messageID)])
    }

    /// How an already applied command was answered, or nil when no answer was kept (not a command, or
    /// applied before answers were kept).
    public func reply(toCommand messageID: String) throws(StoreError) -> CommandReply? {
        try connection.query("SELECT reply_ticket_id, reply_code, reply_message FROM inbox WHERE message_id = ?",
                             [.text(messageID)]) { row -> CommandReply? in
            if let code = row.text(1).flatMap(RejectionCode.init(rawValue:)) {
                return CommandReply(commandID: messageID, rejection: CommandRejection(code, row.text(2) ?? ""), ticketID: nil)
            }
            return row.text(0).map { CommandReply(commandID: messageID, rejection: nil, ticketID: $0) }
        }.first ?? nil
    }

    /// Whether the message was already applied.
    public func wasProcessed(messageID: String) throws(StoreError) -> Bool {
        try !connection.query("SELECT 1 FROM inbox WHERE message_id = ?", [.text(messageID)]) { $0.int(0) }.isEmpty
    }

    // MARK: Subscribers

    /// The stored version of a subscriber and the phones stored with it, or nil when unknown.
    public func storedSubscriber(rsID: Int64) throws(StoreError) -> (version: Int64, phones: [PhoneNumber])? {
        try connection.query("SELECT version, phones FROM subscribers WHERE rs_id = ?", [.integer(rsID)]) { row in
            (row.int(0), Self.phones(json: row.text(1)))
        }.first
    }

    /// Stores the snapshot and replaces the subscriber's phones: `previousPhones` (what `storedSubscriber`
    /// returned) stop matching, the snapshot's phones match.
    public func saveSubscriber(_ subscriber: Subscriber, version: Int64, replacing previousPhones: [PhoneNumber],
                               at instant: Date) throws(StoreError) {
        let phones = "[" + subscriber.phones.map { "\"\($0.e164)\"" }.joined(separator: ",") + "]"
        try connection.run("""
            INSERT INTO subscribers (rs_id, version, contract_no, full_name, address, tariff_name, tariff_since,
                                     switch, status, phones, updated_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (rs_id) DO UPDATE SET version = excluded.version, contract_no = excluded.contract_no,
                full_name = excluded.full_name, address = excluded.address, tariff_name = excluded.tariff_name,
                tariff_since = excluded.tariff_since, switch = excluded.switch, status = excluded.status,
                phones = excluded.phones, updated_at_ms = excluded.updated_at_ms
            """, [.integer(subscriber.rsID), .integer(version), .text(subscriber.contractNo), .text(subscriber.fullName),
                  .text(subscriber.address), .text(subscriber.tariffName), .text(subscriber.tariffSince.description),
                  .text(subscriber.switchName), .text(subscriber.status.rawValue), .text(phones),
                  .integer(instant.milliseconds)])
        for phone in previousPhones where !subscriber.phones.contains(phone) {
            try connection.run("DELETE FROM subscriber_phones WHERE phone = ? AND rs_id = ?", [.text(phone.e164), .integer(subscriber.rsID)])
        }
        for phone in subscriber.phones where !previousPhones.contains(phone) {
            try connection.run("INSERT OR IGNORE INTO subscriber_phones (phone, rs_id) VALUES (?, ?)", [.text(phone.e164), .integer(subscriber.rsID)])
        }
    }

    /// The phones of the `phones` column: a JSON array of E.164 strings, as `saveSubscriber` writes it.
    private static func phones(json: String?) -> [PhoneNumber] {
        (json ?? "[]").dropFirst().dropLast().split(separator: ",").compactMap { PhoneNumber(e164: String($0.dropFirst().dropLast())) }
    }

    private static let subscriberColumns = "rs_id, contract_no, full_name, address, tariff_name, tariff_since, switch, status, phones"
    private static let qualifiedSubscriberColumns = subscriberColumns.split(separator: ",")
        .map { "s." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")

    /// The subscriber with this RS ID.
    public func subscriber(rsID: Int64) throws(StoreError) -> Subscriber? {
        try connection.query("SELECT \(Self.subscriberColumns) FROM subscribers WHERE rs_id = ?", [.integer(rsID)], Self.readSubscriber).first
    }

    /// Every subscriber who has this E.164 number, by RS ID.
    public func subscribers(phone: PhoneNumber) throws(StoreError) -> [Subscriber] {
        try connection.query("""
            SELECT \(Self.qualifiedSubscriberColumns)
            FROM subscriber_phones p JOIN subscribers s ON s.rs_id = p.rs_id WHERE p.phone = ? ORDER BY s.rs_id
            """, [.text(phone.e164)], Self.readSubscriber)
    }

    private static func readSubscriber(_ row: SQLiteStatement) throws(StoreError) -> Subscriber {
        let phones = Self.phones(json: row.text(8))
        guard let since = LocalDate(iso: row.text(5) ?? ""), let status = SubscriberStatus(rawValue: row.text(7) ?? "") else {
            throw StoreError(code: 11, message: "subscriber \(row.int(0)) has an unreadable tariff date or status")
        }
        return Subscriber(rsID: row.int(0), contractNo: row.text(1) ?? "", fullName: row.text(2) ?? "",
                          address: row.text(3) ?? "", phones: phones, tariffName: row.text(4) ?? "",
                          tariffSince: since, switchName: row.text(6) ?? "", status: status)
    }

    // MARK: Calls

    /// The decision already recorded for a call, or nil when the call is new.
    public func callDecision(callID: String) throws(StoreError) -> String? {
        try connection.query("SELECT decision FROM calls WHERE call_id = ?", [.text(callID)]) { $0.text(0) ?? "" }.first
    }

    /// Records the one decision made for a call.
    public func recordCall(callID: String, decision: String, ticketID: String?, at instant: Date) throws(StoreError) {
        try connection.run("INSERT INTO calls (call_id, decision, ticket_id, decided_at_ms) VALUES (?, ?, ?, ?)",
                           [.text(callID), .text(decision), .text(ticketID), .integer(instant.milliseconds)])
    }

    // MARK: Tickets

    /// Inserts a new ticket; returns its stored JSON (for events that carry the whole ticket).
    @discardableResult
    public func insert(_ ticket: Ticket) throws(StoreError) -> String {
        if ticket.isUnsettledDraft { knownNoUnsettledDrafts = false }
        let body = encoded(ticket)
        try connection.run("""
            INSERT INTO tickets (ticket_id, state, kind, author, created_at_ms, saved_at_ms, call_id, contact_phone,
                                 match, rs_id, callback_id, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, ticketValues(ticket, body: body))
        return body
    }

    /// Replaces a stored ticket; returns its stored JSON.
    @discardableResult
    public func update(_ ticket: Ticket) throws(StoreError) -> String {
        if ticket.isUnsettledDraft { knownNoUnsettledDrafts = false }
        let body = encoded(ticket)
        var values = ticketValues(ticket, body: body)
        values.append(values.removeFirst())
        try connection.run("""
            UPDATE tickets SET state = ?, kind = ?, author = ?, created_at_ms = ?, saved_at_ms = ?, call_id = ?,
                contact_phone = ?, match = ?, rs_id = ?, callback_id = ?, body = ? WHERE ticket_id = ?
            """, values)
        return body
    }

    private func ticketValues(_ ticket: Ticket, body: String) -> [SQLValue] {
        [.text(ticket.ticketID), .text(ticket.state.rawValue), .text(ticket.kind.rawValue), .text(ticket.author),
                .integer(ticket.createdAt.milliseconds), .integer(ticket.savedAt?.milliseconds),
                .text(ticket.callID), .text(ticket.contactPhones.first), .text(ticket.match.rawValue),
                .integer(ticket.subscriber?.rsID), .text(ticket.callbackID), .text(body)]
    }

    /// The ticket as stored JSON (timestamps in `ticketZone`).
    private func encoded(_ ticket: Ticket) -> String {
        ticket.json(in: ticketZone)
    }

    /// The ticket with this id.
    public func ticket(id: String) throws(StoreError) -> Ticket? {
        try connection.query("SELECT body FROM tickets WHERE ticket_id = ?", [.text(id)], readTicket).first
    }

    /// The subscriber part of the ticket with this id, read from its stored JSON without decoding the ticket.
    public func subscriberFill(ofTicket id: String) throws(StoreError) -> SubscriberFill? {
        guard let json = try connection.query("SELECT body FROM tickets WHERE ticket_id = ?", [.text(id)], { $0.text(0) ?? "" }).first else {
            return nil
        }
        guard let fill = SubscriberFill(ticketJSON: json) else {
            throw StoreError(code: 11, message: "the stored ticket \(id) cannot be read")
        }
        return fill
    }

    /// Drafts whose contact number is `phone` and whose subscriber is not settled (unmatched or ambiguous).
    public func unsettledDrafts(phone: PhoneNumber) throws(StoreError) -> [Ticket] {
        // The WHERE terms repeat those of the partial index `tickets_unsettled_drafts`, so both queries use it.
        if knownNoUnsettledDrafts { return [] }
        let any = try connection.query("""
            SELECT EXISTS (SELECT 1 FROM tickets WHERE state = 'draft' AND match IN ('unmatched', 'ambiguous'))
            """) { $0.int(0) != 0 }.first ?? true
        guard any else {
            knownNoUnsettledDrafts = true
            return []
        }
        return try connection.query("""
            SELECT body FROM tickets WHERE contact_phone = ? AND state = 'draft' AND match IN ('unmatched', 'ambiguous')
            ORDER BY created_at_ms
            """, [.text(phone.e164)], readTicket)
    }

    private func readTicket(_ row: SQLiteStatement) throws(StoreError) -> Ticket {
        do {
            return try jsonDecoder.decode(Ticket.self, from: Data((row.text(0) ?? "").utf8))
        } catch {
            throw StoreError(code: 11, message: "a stored ticket cannot be read: \(error)")
        }
    }

    // MARK: Callbacks

    private static let callbackColumns = """
        callback_id, ticket_id, phone, origin, status, missed_count, first_missed_at_ms, last_missed_at_ms, attempts,
        opened_at_ms, resolved_at_ms, resolved_by, resolution, overdue_at_ms
        """

    /// The open callback for this E.164 number, if any (there is at most one).
    public func openCallback(phone: String) throws(StoreError) -> Callback? {
        try connection.query("SELECT \(Self.callbackColumns) FROM callbacks WHERE phone = ? AND status = 'open'",
                             [.text(phone)], Self.readCallback).first
    }

    /// The callback with this id.
    public func callback(id: String) throws(StoreError) -> Callback? {
        try connection.query("SELECT \(Self.callbackColumns) FROM callbacks WHERE callback_id = ?", [.text(id)], Self.readCallback).first
    }

    /// Every open callback, oldest first.
    public func openCallbacks() throws(StoreError) -> [Callback] {
        try connection.query("SELECT \(Self.callbackColumns) FROM callbacks WHERE status = 'open' ORDER BY opened_at_ms, callback_id",
                             [], Self.readCallback)
    }

    /// Open callbacks opened before `openedBefore` that were not yet reported overdue, oldest first.
    public func callbacksBecomingOverdue(openedBefore instant: Date, limit: Int) throws(StoreError) -> [Callback] {
        try connection.query("""
            SELECT \(Self.callbackColumns) FROM callbacks
            WHERE status = 'open' AND overdue_at_ms IS NULL AND opened_at_ms <= ? ORDER BY opened_at_ms LIMIT ?
            """, [.integer(instant.milliseconds), .integer(Int64(limit))], Self.readCallback)
    }

    /// Inserts or replaces a callback.
    public func save(_ callback: Callback) throws(StoreError) {
        try connection.run("""
            INSERT INTO callbacks (\(Self.callbackColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (callback_id) DO UPDATE SET status = excluded.status, missed_count = excluded.missed_count,
                first_missed_at_ms = excluded.first_missed_at_ms, last_missed_at_ms = excluded.last_missed_at_ms,
                attempts = excluded.attempts, resolved_at_ms = excluded.resolved_at_ms,
                resolved_by = excluded.resolved_by, resolution = excluded.resolution, overdue_at_ms = excluded.overdue_at_ms
            """, [.text(callback.callbackID), .text(callback.ticketID), .text(callback.phone), .text(callback.origin.rawValue),
                  .text(callback.status.rawValue), .integer(Int64(callback.missedCount)),
                  .integer(callback.firstMissedAt?.milliseconds), .integer(callback.lastMissedAt?.milliseconds),
                  .integer(Int64(callback.attempts)), .integer(callback.openedAt.milliseconds),
                  .integer(callback.resolvedAt?.milliseconds), .text(callback.resolvedBy), .text(callback.resolution?.rawValue),
                  .integer(callback.overdueAt?.milliseconds)])
    }

    private static func readCallback(_ row: SQLiteStatement) throws(StoreError) -> Callback {
        guard let origin = CallbackOrigin(rawValue: row.text(3) ?? ""), let status = CallbackStatus(rawValue: row.text(4) ?? "") else {
            throw StoreError(code: 11, message: "callback \(row.text(0) ?? "?") has an unreadable origin or status")
        }
        var callback = Callback(callbackID: row.text(0) ?? "", ticketID: row.text(1) ?? "", phone: row.text(2) ?? "",
                                origin: origin, openedAt: Date(milliseconds: row.int(9)), missedAt: nil)
        callback.status = status
        callback.missedCount = Int(row.int(5))
        callback.firstMissedAt = row.optionalInt(6).map(Date.init(milliseconds:))
        callback.lastMissedAt = row.optionalInt(7).map(Date.init(milliseconds:))
        callback.attempts = Int(row.int(8))
        callback.resolvedAt = row.optionalInt(10).map(Date.init(milliseconds:))
        callback.resolvedBy = row.text(11)
        callback.resolution = row.text(12).flatMap(CallbackResolution.init(rawValue:))
        callback.overdueAt = row.optionalInt(13).map(Date.init(milliseconds:))
        return callback
    }

    // MARK: PBX calls waiting for a decision

    /// Adds one Asterisk CDR leg to its call, which waits for `LINKEDID_END` or the quiet period.
    public func addPendingLeg(callKey: String, _ leg: AsteriskLeg, at instant: Date) throws(StoreError) {
        var legs = try pendingLegs(callKey: callKey) ?? []
        legs.append(leg)
        try connection.run("""
            INSERT INTO pbx_pending_calls (call_key, legs, first_seen_at_ms, last_leg_at_ms) VALUES (?, ?, ?, ?)
            ON CONFLICT (call_key) DO UPDATE SET legs = excluded.legs, last_leg_at_ms = excluded.last_leg_at_ms
            """, [.text(callKey), .text(try encodeLegs(legs)), .integer(instant.milliseconds), .integer(instant.milliseconds)])
    }

    /// Records that every channel of the call is gone (CEL `LINKEDID_END`).
    public func markPendingCallEnded(callKey: String, at instant: Date) throws(StoreError) {
        try connection.run("""
            INSERT INTO pbx_pending_calls (call_key, legs, first_seen_at_ms, ended_at_ms) VALUES (?, '[]', ?, ?)
            ON CONFLICT (call_key) DO UPDATE SET ended_at_ms = excluded.ended_at_ms
            """, [.text(callKey), .integer(instant.milliseconds), .integer(instant.milliseconds)])
    }

    /// Calls ready for their decision at `instant`: ended (CEL) with legs and quiet for `grace`, or
    /// without a new leg for `quiet`; a nil period decides nothing by that rule. Oldest first, at most `limit`.
    public func pendingCallsReady(at instant: Date, quiet: TimeInterval?, grace: TimeInterval?,
                                  limit: Int) throws(StoreError) -> [(callKey: String, legs: [AsteriskLeg])] {
        let quietCutoff = quiet.map { instant.addingTimeInterval(-$0).milliseconds } ?? Int64.min
        let graceCutoff = grace.map { instant.addingTimeInterval(-$0).milliseconds } ?? Int64.min
        let rows = try connection.query("""
            SELECT call_key, legs FROM pbx_pending_calls
            WHERE (ended_at_ms IS NOT NULL AND legs <> '[]' AND MAX(ended_at_ms, COALESCE(last_leg_at_ms, 0)) <= ?)
               OR COALESCE(last_leg_at_ms, ended_at_ms, first_seen_at_ms) <= ?
            ORDER BY first_seen_at_ms LIMIT ?
            """, [.integer(graceCutoff), .integer(quietCutoff),
                  .integer(Int64(limit))]) { row in (row.text(0) ?? "", row.text(1) ?? "[]") }
        var ready: [(callKey: String, legs: [AsteriskLeg])] = []
        for (key, legs) in rows { ready.append((key, try decodeLegs(legs, key))) }
        return ready
    }

    /// Forgets a decided call's legs.
    public func deletePendingCall(callKey: String) throws(StoreError) {
        try connection.run("DELETE FROM pbx_pending_calls WHERE call_key = ?", [.text(callKey)])
    }

    private func pendingLegs(callKey: String) throws(StoreError) -> [AsteriskLeg]? {
        guard let text = try connection.query("SELECT legs FROM pbx_pending_calls WHERE call_key = ?", [.text(callKey)], { $0.text(0) }).first else {
            return nil
        }
        return try decodeLegs(text ?? "[]", callKey)
    }

    private func encodeLegs(_ legs: [AsteriskLeg]) throws(StoreError) -> String {
        do { return String(decoding: try jsonEncoder.encode(legs), as: UTF8.self) } catch {
            throw StoreError(code: 1, message: "cannot encode the legs of a PBX call: \(error)")
        }
    }

    private func decodeLegs(_ text: String, _ key: String) throws(StoreError) -> [AsteriskLeg] {
        do { return try jsonDecoder.decode([AsteriskLeg].self, from: Data(text.utf8)) } catch {
            throw StoreError(code: 11, message: "the legs of PBX call \(key) cannot be read: \(error)")
        }
    }

    // MARK: Revisions

    /// Records an accepted edit of a ticket.
    public func insertRevision(ticketID: String, _ revision: TicketRevision) throws(StoreError) {
        let changes: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            changes = String(decoding: try encoder.encode(revision.changes), as: UTF8.self)
        } catch {
            throw StoreError(code: 1, message: "cannot encode the changes of ticket \(ticketID): \(error)")
        }
        try connection.run("""
            INSERT INTO ticket_revisions (ticket_id, operator, via, edited_at_ms, command_id, changes) VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(ticketID), .text(revision.operatorLogin), .text(revision.via.rawValue), .integer(revision.editedAt.milliseconds),
                  .text(revision.commandID), .text(changes)])
    }

    /// The accepted edits of a ticket, oldest first.
    public func revisions(ticketID: String) throws(StoreError) -> [TicketRevision] {
        try connection.query("""
            SELECT operator, via, edited_at_ms, command_id, changes FROM ticket_revisions WHERE ticket_id = ? ORDER BY revision_id
            """, [.text(ticketID)]) { row throws(StoreError) in
            guard let via = CommandOrigin(rawValue: row.text(1) ?? ""),
                  let changes = try? JSONDecoder().decode([FieldChange].self, from: Data((row.text(4) ?? "[]").utf8)) else {
                throw StoreError(code: 11, message: "a revision of ticket \(ticketID) cannot be read")
            }
            return TicketRevision(operatorLogin: row.text(0) ?? "", via: via, editedAt: Date(milliseconds: row.int(2)),
                                  commandID: row.text(3) ?? "", changes: changes)
        }
    }

    // MARK: Outbox

    /// Adds a message owed to the broker.
    public func enqueue(_ message: OutboxMessage) throws(StoreError) {
        let headers: SQLValue
        if message.headers.isEmpty {
            headers = .null
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            headers = .text((try? encoder.encode(message.headers)).map { String(decoding: $0, as: UTF8.self) })
        }
        try connection.run("""
            INSERT INTO outbox (message_id, exchange, routing_key, body, headers, correlation_id, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(message.messageID), .text(message.exchange), .text(message.routingKey), .blob(message.body),
                  headers, .text(message.correlationID), .integer(message.createdAt.milliseconds)])
    }

    /// Up to `limit` unconfirmed messages with `seq` greater than `afterSeq`, oldest first.
    public func pendingOutbox(afterSeq: Int64, limit: Int) throws(StoreError) -> [OutboxMessage] {
        try connection.query("""
            SELECT seq, message_id, exchange, routing_key, body, headers, correlation_id, created_at_ms
            FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?
            """, [.integer(afterSeq), .integer(Int64(limit))]) { row in
            let headers = row.text(5).flatMap { try? JSONDecoder().decode([String: OutboxHeaderValue].self, from: Data($0.utf8)) } ?? [:]
            var message = OutboxMessage(messageID: row.text(1) ?? "", exchange: row.text(2) ?? "", routingKey: row.text(3) ?? "",
                                        body: row.blob(4), headers: headers, correlationID: row.text(6),
                                        createdAt: Date(milliseconds: row.int(7)))
            message.seq = row.int(0)
            return message
        }
    }

    /// Deletes messages the broker confirmed.
    public func deleteConfirmed(seqs: [Int64]) throws(StoreError) {
        // Confirms come mostly in order: delete contiguous runs with one statement each.
        var runStart: Int64?
        var runEnd: Int64 = 0
        for seq in seqs.sorted() {
            if runStart != nil, seq <= runEnd + 1 {
                runEnd = seq
                continue
            }
            if let start = runStart { try deleteOutbox(from: start, to: runEnd) }
            runStart = seq
            runEnd = seq
        }
        if let start = runStart { try deleteOutbox(from: start, to: runEnd) }
    }

    private func deleteOutbox(from first: Int64, to last: Int64) throws(StoreError) {
        try connection.run("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", [.integer(first), .integer(last)])
    }

    /// Number of messages still owed to the broker.
    public func outboxDepth() throws(StoreError) -> Int {
        Int(try connection.query("SELECT COUNT(*) FROM outbox") { $0.int(0) }.first ?? 0)
    }

    // MARK: Dead letters

    /// Records a dead-lettered input.
    public func recordDeadLetter(_ record: DeadLetterRecord) throws(StoreError) {
        try connection.run("""
            INSERT INTO dead_letters (message_id, error_class, error, queue, exchange, routing_key, failed_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [.text(record.messageID), .text(record.errorClass), .text(record.error), .text(record.queue),
                  .text(record.exchange), .text(record.routingKey), .integer(record.failedAt.milliseconds)])
    }
}

extension Date {
    /// Milliseconds since 1970 (the database's time unit).
    public var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    /// An instant from milliseconds since 1970.
    public init(milliseconds: Int64) { self.init(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
