import Foundation
import MetrikaDomain
import MetrikaStore

/// The operators' and supervisors' views over the gateway's store: the unprocessed list, my tickets, a
/// subscriber's history, one ticket, the pay report and reason analytics. The CLI and the HTTP API share it.
///
/// Read-only: every method only runs `SELECT`s, each view inside one read transaction so that its parts
/// agree. Months and days are counted in the company's zone, never the server's. Not thread-safe, like
/// the store it reads: one instance per thread, and the store must not be in a transaction of its own.
public final class Reports {
    private let store: GatewayStore
    /// The company's zone (`METRIKA_TZ`).
    public let zone: TimeZone
    /// How typed numbers are read (`METRIKA_COUNTRY`).
    public let plan: NumberingPlan
    /// An open callback older than this is overdue (`METRIKA_CALLBACK_OVERDUE_SECONDS`).
    public let overdueAfter: TimeInterval
    private let decoder = JSONDecoder()

    /// Reads `store` (owned by the caller, who closes it).
    public init(store: GatewayStore, zone: TimeZone, plan: NumberingPlan, overdueAfter: TimeInterval) {
        self.store = store
        self.zone = zone
        self.plan = plan
        self.overdueAfter = overdueAfter
    }

    /// Opens the gateway's existing database at `path` for reading views; refuses to create a new, empty one.
    public static func openStore(path: String) throws(ReportError) -> GatewayStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ReportError(.databaseMissing, "there is no database at '\(path)'; point METRIKA_DB at the gateway's SQLite file")
        }
        do {
            return try GatewayStore(path: path)
        } catch {
            throw ReportError(error, reading: "the database '\(path)'")
        }
    }

    // MARK: Operators' views

    /// The unprocessed list: every open callback, oldest first, with its age and overdue flag at `instant`.
    public func openCallbacks(at instant: Date) throws(ReportError) -> CallbackList {
        let what = "the open callbacks"
        let callbacks = try read(what) { () throws(ReportError) in
            try storeCall(what) { () throws(StoreError) in
                try store.openCallbacks().map { callback throws(StoreError) in (callback, try store.ticket(id: callback.ticketID)) }
            }
        }
        var entries: [OpenCallback] = []
        for (callback, ticket) in callbacks {
            guard let ticket else {
                throw ReportError(.unreadableData, "cannot read \(what): callback \(callback.callbackID) refers to ticket \(callback.ticketID), which does not exist")
            }
            let age = instant.timeIntervalSince(callback.openedAt)
            entries.append(OpenCallback(
                callbackID: callback.callbackID, ticketID: callback.ticketID, phone: callback.phone, origin: callback.origin,
                subscriber: SubscriberLabel(ticket), address: ticket.address, missedCount: callback.missedCount,
                attempts: callback.attempts, openedAt: callback.openedAt, lastMissedAt: callback.lastMissedAt,
                ageSeconds: max(0, Int(age.rounded(.down))), overdue: callback.overdueAt != nil || age >= overdueAfter,
                overdueAt: callback.overdueAt, reasons: ticket.reasons, comment: ticket.comment))
        }
        return CallbackList(asOf: instant, overdueAfterSeconds: Int(overdueAfter), callbacks: entries)
    }

    /// "My tickets": the tickets credited to `operatorLogin` (its author) created in `month`, newest first.
    public func tickets(of operatorLogin: String, in month: ReportMonth) throws(ReportError) -> OperatorTickets {
        let interval = month.interval(in: zone)
        let what = "the tickets of \(operatorLogin) in \(month)"
        let tickets = try read(what) { () throws(ReportError) in
            try summaries(what, """
                SELECT body FROM tickets WHERE author = ? AND created_at_ms >= ? AND created_at_ms < ?
                ORDER BY created_at_ms DESC, ticket_id DESC
                """, [.text(operatorLogin), .integer(interval.start.milliseconds), .integer(interval.end.milliseconds)])
        }
        return OperatorTickets(operatorLogin: operatorLogin, month: month, from: interval.start, to: interval.end, tickets: tickets)
    }

    /// A subscriber's history by RS ID: the tickets that name them, newest first.
    public func history(rsID: Int64) throws(ReportError) -> SubscriberHistory {
        let what = "the history of RS ID \(rsID)"
        return try read(what) { () throws(ReportError) in
            let subscriber = try storeCall(what) { () throws(StoreError) in try store.subscriber(rsID: rsID) }
            let tickets = try summaries(what, "SELECT body FROM tickets WHERE rs_id = ? ORDER BY created_at_ms DESC, ticket_id DESC",
                                        [.integer(rsID)])
            return SubscriberHistory(rsID: rsID, phone: nil, subscribers: subscriber.map { [SubscriberCard($0)] } ?? [],
                                     tickets: tickets)
        }
    }

    /// A subscriber's history by a number typed in any format: the tickets of every subscriber with that
    /// number (several when it is shared) and the tickets whose first contact phone is that number, newest first.
    public func history(phone typed: String) throws(ReportError) -> SubscriberHistory {
        guard let phone = plan.normalise(typed) else {
            throw ReportError(.invalidArgument, "'\(typed)' is not a phone number in the \(plan.country) numbering plan (METRIKA_COUNTRY); type it with the country code (+…) or as dialled nationally")
        }
        let what = "the history of \(phone.e164)"
        return try read(what) { () throws(ReportError) in
            let subscribers = try storeCall(what) { () throws(StoreError) in try store.subscribers(phone: phone) }
            let tickets = try summaries(what, """
                SELECT body FROM tickets
                WHERE contact_phone = ? OR rs_id IN (SELECT rs_id FROM subscriber_phones WHERE phone = ?)
                ORDER BY created_at_ms DESC, ticket_id DESC
                """, [.text(phone.e164), .text(phone.e164)])
            return SubscriberHistory(rsID: nil, phone: phone.e164, subscribers: subscribers.map(SubscriberCard.init), tickets: tickets)
        }
    }

    /// One ticket with its accepted edits (oldest first) and its callback.
    public func ticket(id: String) throws(ReportError) -> TicketDetail {
        let what = "ticket \(id)"
        let detail = try read(what) { () throws(ReportError) -> TicketDetail? in
            try storeCall(what) { () throws(StoreError) -> TicketDetail? in
                guard let ticket = try store.ticket(id: id) else { return nil }
                let callback = try ticket.callbackID.flatMap { callbackID throws(StoreError) in try store.callback(id: callbackID) }
                return TicketDetail(ticket: ticket, revisions: try store.revisions(ticketID: id), callback: callback.map(CallbackState.init))
            }
        }
        guard let detail else {
            throw ReportError(.notFound, "there is no ticket '\(id)'; find its id with 'metrika tickets mine' or 'metrika tickets history'")
        }
        return detail
    }

    // MARK: Supervisors' reports

    /// Per operator: the saved tickets credited to them (author) created in `month`, by kind, with totals.
    public func pay(month: ReportMonth) throws(ReportError) -> PayReport {
        let interval = month.interval(in: zone)
        let what = "the pay report for \(month)"
        let rows = try read(what) { () throws(ReportError) in
            try query(what, """
                SELECT author, kind, COUNT(*) FROM tickets
                WHERE state = ? AND author IS NOT NULL AND created_at_ms >= ? AND created_at_ms < ?
                GROUP BY author, kind ORDER BY author, kind
                """, [.text(TicketState.saved.rawValue), .integer(interval.start.milliseconds), .integer(interval.end.milliseconds)]) { row in
                (operatorLogin: row.text(0) ?? "", kind: row.text(1) ?? "", count: Int(row.int(2)))
            }
        }
        var lines: [PayLine] = []
        var totals = PayCounts()
        for row in rows {
            guard let kind = TicketKind(rawValue: row.kind) else {
                throw ReportError(.unreadableData, "cannot read \(what): tickets of \(row.operatorLogin) have an unknown kind '\(row.kind)'")
            }
            var counts = lines.last?.operatorLogin == row.operatorLogin ? lines.removeLast().counts : PayCounts()
            counts.add(row.count, of: kind)
            totals.add(row.count, of: kind)
            lines.append(PayLine(operatorLogin: row.operatorLogin, counts: counts))
        }
        return PayReport(month: month, timeZone: zone.identifier, from: interval.start, to: interval.end, operators: lines, totals: totals)
    }

    /// Reasons and resolutions of the saved tickets created on `days`: how many tickets have each, their
    /// share of all those tickets, and the `topPairs` most frequent reason → resolution pairs.
    public func reasons(on days: ReportDays, topPairs: Int = 20) throws(ReportError) -> ReasonsReport {
        let interval = days.interval(in: zone)
        let what = "the reasons report for \(days)"
        let period: [SQLValue] = [.text(TicketState.saved.rawValue), .integer(interval.start.milliseconds), .integer(interval.end.milliseconds)]
        let inPeriod = "t.state = ? AND t.created_at_ms >= ? AND t.created_at_ms < ?"
        return try read(what) { () throws(ReportError) in
            let total = try query(what, "SELECT COUNT(*) FROM tickets t WHERE \(inPeriod)", period) { Int($0.int(0)) }.first ?? 0
            func share(_ count: Int) -> Double { total == 0 ? 0 : (Double(count) / Double(total) * 10_000).rounded() / 10_000 }
            // With exactly one max() aggregate, SQLite takes the bare titles from the newest ticket of each group.
            func shares(_ path: String) throws(ReportError) -> [CatalogShare] {
                try query(what, """
                    SELECT json_extract(e.value, '$.code') AS code, json_extract(e.value, '$.title') AS title,
                           COUNT(DISTINCT t.ticket_id) AS n, max(t.created_at_ms)
                    FROM tickets t, json_each(t.body, ?) e WHERE \(inPeriod)
                    GROUP BY code ORDER BY n DESC, title, code
                    """, [.text(path)] + period) { row in
                    CatalogShare(code: row.text(0) ?? "", title: row.text(1) ?? "", tickets: Int(row.int(2)), share: share(Int(row.int(2))))
                }
            }
            let pairs = try query(what, """
                SELECT json_extract(r.value, '$.code') AS reason, json_extract(r.value, '$.title') AS reason_title,
                       json_extract(s.value, '$.code') AS resolution, json_extract(s.value, '$.title') AS resolution_title,
                       COUNT(DISTINCT t.ticket_id) AS n, max(t.created_at_ms)
                FROM tickets t, json_each(t.body, '$.reasons') r, json_each(t.body, '$.resolutions') s WHERE \(inPeriod)
                GROUP BY reason, resolution ORDER BY n DESC, reason_title, resolution_title, reason, resolution LIMIT ?
                """, period + [.integer(Int64(max(0, topPairs)))]) { row in
                ReasonResolutionPair(reason: CatalogReference(code: row.text(0) ?? "", title: row.text(1) ?? ""),
                                     resolution: CatalogReference(code: row.text(2) ?? "", title: row.text(3) ?? ""),
                                     tickets: Int(row.int(4)), share: share(Int(row.int(4))))
            }
            return ReasonsReport(fromDate: days.first.description, toDate: days.last.description, timeZone: zone.identifier,
                                 tickets: total, reasons: try shares("$.reasons"), resolutions: try shares("$.resolutions"),
                                 pairs: pairs)
        }
    }

    // MARK: Reading

    /// Runs `body` in one read transaction, so that the parts of a view agree with each other.
    private func read<T>(_ what: String, _ body: () throws(ReportError) -> T) throws(ReportError) -> T {
        try storeCall(what) { () throws(StoreError) in try store.connection.execute("BEGIN DEFERRED") }
        defer { try? store.connection.execute("COMMIT") }
        return try body()
    }

    /// Runs a store call, turning its failure into a report error naming `what` was being read.
    private func storeCall<T>(_ what: String, _ body: () throws(StoreError) -> T) throws(ReportError) -> T {
        do {
            return try body()
        } catch {
            throw ReportError(error, reading: what)
        }
    }

    private func query<T>(_ what: String, _ sql: String, _ values: [SQLValue], _ row: (SQLiteStatement) -> T) throws(ReportError) -> [T] {
        try storeCall(what) { () throws(StoreError) in try store.connection.query(sql, values) { statement in row(statement) } }
    }

    /// Tickets selected by `sql` (whose only column is `body`), as list entries.
    private func summaries(_ what: String, _ sql: String, _ values: [SQLValue]) throws(ReportError) -> [TicketSummary] {
        var summaries: [TicketSummary] = []
        for body in try query(what, sql, values, { $0.text(0) }) {
            summaries.append(TicketSummary(try decodeTicket(body, reading: what)))
        }
        return summaries
    }

    private func decodeTicket(_ body: String?, reading what: String) throws(ReportError) -> Ticket {
        do {
            return try decoder.decode(Ticket.self, from: Data((body ?? "").utf8))
        } catch {
            throw ReportError(.unreadableData, "cannot read \(what): a stored ticket is not readable (\(error))")
        }
    }
}
