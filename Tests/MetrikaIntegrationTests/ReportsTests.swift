import Foundation
import MetrikaDomain
import MetrikaGateway
@testable import MetrikaReports
import MetrikaStore
import MetrikaTestSupport
import Testing

/// A fixed data set written by a real gateway from messages on the real broker, in Moscow time.
///
/// Subscribers: 501 Иванова (+79001000001, +73422000001); 502 Петров (+79001000002) and 503 Петрова
/// (+79001000003) who share +73422000002.
///
/// | ticket | kind | author | number | created (+03:00) | state | reasons → resolutions |
/// |---|---|---|---|---|---|---|
/// | `t1` | call | op.petrova | 501 | 2026-10-05 10:00 | saved | Нет интернета → Перезагрузка порта |
/// | `callbackA` | callback | — | 501 | 2026-10-10 09:00 | draft, open callback (2 missed calls) | |
/// | `t4` | call | op.ivanov | 501 | 2026-10-15 12:00 | saved | Нет интернета, Низкая скорость → Перезагрузка порта |
/// | `d5` | call | op.ivanov | 501 | 2026-10-20 12:00 | draft | |
/// | `t2` | call | op.petrova | 502 | 2026-10-31 23:59, October's last minute | saved | Нет интернета → Проконсультировал |
/// | `t3` | call | op.ivanov | 501 | 2026-11-01 00:00, November's first instant | saved | Вопрос по оплате → Проконсультировал |
/// | `callbackB` | callback | — | shared | 2026-11-03 14:00 | draft, open callback (ambiguous) | |
/// | `attempt` | attempt | op.sidorova | shared | 2026-11-03 14:10 | saved | Попросил перезвонить → Позвонил — не дозвонился |
/// | `t5` | call | op.ivanov | unknown | 2026-11-15 12:00 | saved | Уточнение баланса → Проконсультировал |
/// | `handled` | callback | op.sidorova | unknown | 2026-11-20 08:00 | saved, callback done | Попросил перезвонить → Перезвонил — решено |
/// | `manual` | manual | op.petrova | 501 | now | saved, then edited twice | Смена тарифа → Тариф изменён |
/// | `requested` | manual | op.petrova | 502 | now | saved, opens callback D | Попросил перезвонить |
/// | `task` | task | op.ivanov | — | now | saved | Проверка платежей |
///
/// Open callbacks, oldest first: A (+73422000001), B (+73422000002, one failed attempt), D (+79001000002).
struct ReportsDataSet: Sendable {
    /// A copy of the gateway's SQLite file, taken once the gateway had stopped.
    let databasePath: String
    /// Ticket ids by the names in the table above.
    let tickets: [String: String]
    /// The month the `manual`, `requested` and `task` tickets were created in (Moscow).
    let currentMonth: ReportMonth

    static let moscow = TimeZone(identifier: "Europe/Moscow")!

    /// Built once for the whole suite: a gateway run takes seconds.
    static let shared = Result { try ReportsDataSet.build() }

    func ticket(_ name: String) -> String { tickets[name] ?? "missing \(name)" }

    static func build() throws -> ReportsDataSet {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let startMonth = ReportMonth(containing: Date(), in: moscow)
        var tickets: [String: String] = [:]

        try gateway.publishSubscriber(subscriber(501, "Иванова Анна Сергеевна", "Д-2019/4471", ["+7 (900) 100-00-01", "8 342 200-00-01"]))
        try gateway.publishSubscriber(subscriber(502, "Петров Олег Ильич", "Д-2020/0002", ["89001000002", "8 342 200-00-02"]))
        try gateway.publishSubscriber(subscriber(503, "Петрова Ольга Ивановна", "Д-2021/0003", ["89001000003", "+73422000002"]))
        guard try gateway.eventually({ try gateway.count("SELECT COUNT(*) FROM subscribers") == 3 }) else {
            throw HarnessError("the gateway did not store the three subscribers")
        }

        func answer(_ name: String, _ operatorLogin: String, _ number: String, at time: String,
                    save: (reasons: [String], resolutions: [String])?) throws {
            try gateway.publishCall(["event_id": id(), "type": "call.answered", "call_id": "call-\(name)", "direction": "inbound",
                                     "subscriber_number": number, "line": "+73422000000", "operator": operatorLogin, "answered_at": time])
            let drafted = try gateway.nextEvent(ofType: "ticket.drafted")
            tickets[name] = try #require((drafted["ticket"] as? [String: Any])?["ticket_id"] as? String)
            guard let save else { return }
            try command(["type": "ticket.save", "ticket_id": tickets[name]!, "operator": operatorLogin,
                         "reasons": save.reasons, "resolutions": save.resolutions], expecting: "ticket.saved")
        }
        func command(_ fields: [String: Any], expecting type: String) throws {
            try gateway.publishCommand(fields.merging(["command_id": id()]) { current, _ in current })
            while true {
                let event = try gateway.nextEvent()
                if event.type == type { return }
                if event.type == "command.rejected" { throw HarnessError("the data set's \(fields["type"] ?? "") was refused: \(event.json)") }
            }
        }
        func miss(_ callID: String, _ number: String, at time: String, direction: String = "inbound",
                  operatorLogin: String? = nil) throws {
            try gateway.publishCall(["event_id": id(), "type": "call.ended", "call_id": callID, "direction": direction,
                                     "subscriber_number": number, "line": "+73422000000", "operator": operatorLogin.map { $0 as Any } ?? NSNull(),
                                     "started_at": time, "answered_at": NSNull(), "ended_at": time, "outcome": "missed"])
        }

        try answer("t1", "op.petrova", "89001000001", at: "2026-10-05T10:00:00+03:00", save: (["нет инета"], ["перезагрузил порт"]))
        try answer("t4", "op.ivanov", "+7 900 100-00-01", at: "2026-10-15T12:00:00+03:00",
                   save: (["нет инета", "Низкая скорость"], ["перезагрузил порт"]))
        try answer("d5", "op.ivanov", "9001000001", at: "2026-10-20T12:00:00+03:00", save: nil)
        try answer("t2", "op.petrova", "9001000002", at: "2026-10-31T23:59:00+03:00", save: (["нет инета"], ["консультация"]))
        try answer("t3", "op.ivanov", "+79001000001", at: "2026-11-01T00:00:00+03:00", save: (["оплата"], ["консультация"]))
        try answer("t5", "op.ivanov", "89009999999", at: "2026-11-15T12:00:00+03:00", save: (["баланс"], ["консультация"]))

        try miss("miss-a1", "83422000001", at: "2026-10-10T09:00:00+03:00")
        try miss("miss-a2", "+7 342 200-00-01", at: "2026-10-10T09:30:00+03:00")
        tickets["callbackA"] = try #require(try gateway.nextEvent(ofType: "callback.needed")["ticket_id"] as? String)
        #expect(try gateway.nextEvent(ofType: "callback.needed")["missed_count"] as? Int == 2)
        try miss("miss-b", "8 (342) 200-00-02", at: "2026-11-03T14:00:00+03:00")
        tickets["callbackB"] = try #require(try gateway.nextEvent(ofType: "callback.needed")["ticket_id"] as? String)
        try miss("attempt-b", "+73422000002", at: "2026-11-03T14:10:00+03:00", direction: "outbound", operatorLogin: "op.sidorova")
        tickets["attempt"] = try #require(try gateway.nextEvent(ofType: "callback.attempted")["attempt_ticket_id"] as? String)
        try miss("miss-c", "89005550001", at: "2026-11-20T08:00:00+03:00")
        tickets["handled"] = try #require(try gateway.nextEvent(ofType: "callback.needed")["ticket_id"] as? String)
        try command(["type": "ticket.save", "ticket_id": tickets["handled"]!, "operator": "op.sidorova", "resolutions": ["перезвонил"],
                     "callback": "done"], expecting: "callback.resolved")

        try command(["type": "ticket.create", "operator": "op.petrova", "via": "rs_card", "rs_id": 501, "reasons": ["тариф дешевле"],
                     "resolutions": ["сменил тариф"], "save": true], expecting: "ticket.saved")
        tickets["manual"] = try #require(try gateway.query("SELECT ticket_id FROM tickets WHERE kind = 'manual'") { $0.text(0) }.first ?? nil)
        try command(["type": "ticket.edit", "ticket_id": tickets["manual"]!, "operator": "op.petrova", "via": "my_tickets",
                     "changes": ["comment": "Перевели на Домашний 300", "resolutions": ["сменил тариф", "консультация"]]],
                    expecting: "ticket.edited")
        try command(["type": "ticket.edit", "ticket_id": tickets["manual"]!, "operator": "op.ivanov", "via": "rs_card",
                     "changes": ["comment": "Абонент подтвердил смену тарифа"]], expecting: "ticket.edited")
        try command(["type": "ticket.create", "operator": "op.petrova", "via": "callback_list", "contact_phones": ["89001000002"],
                     "address": "г. Пермь, ул. Мира, д. 1, кв. 2", "reasons": ["Попросил перезвонить"],
                     "comment": "Перезвонить после 18:00, вопрос по счёту", "save": true], expecting: "callback.needed")
        tickets["requested"] = try #require(try gateway.query("SELECT ticket_id FROM callbacks WHERE origin = 'requested'") { $0.text(0) }.first ?? nil)
        try command(["type": "ticket.create", "operator": "op.ivanov", "via": "manual", "task": "сверка платежей", "save": true],
                    expecting: "ticket.saved")
        tickets["task"] = try #require(try gateway.query("SELECT ticket_id FROM tickets WHERE kind = 'task'") { $0.text(0) }.first ?? nil)
        guard ReportMonth(containing: Date(), in: moscow) == startMonth else {
            throw HarnessError("the month changed while the data set was built; run the tests again")
        }

        gateway.gateway.stop()
        let connection = try SQLiteConnection(path: gateway.configuration.databasePath)
        defer { connection.close() }
        try connection.run("VACUUM INTO ?", [.text(copyPath())])
        atexit {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ReportsDataSet.copyPath() + suffix) }
        }
        return ReportsDataSet(databasePath: copyPath(), tickets: tickets, currentMonth: startMonth)
    }

    /// Where this test process keeps its copy of the gateway's file (removed when the process exits).
    static func copyPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("metrika-reports-\(getpid()).sqlite").path
    }

    static func subscriber(_ rsID: Int, _ name: String, _ contract: String, _ phones: [String]) -> [String: Any] {
        ["event_id": id(), "type": "subscriber.updated", "occurred_at": "2026-09-01T09:00:00+03:00", "version": 1,
         "subscriber": ["rs_id": rsID, "contract_no": contract, "full_name": name, "address": "г. Пермь, ул. Ленина, д. \(rsID)",
                        "phones": phones, "tariff": ["name": "Домашний 500", "since": "2026-03-01"], "switch": "sw-perm-1",
                        "status": "active"] as [String: Any]]
    }

    static func id() -> String { UUID().uuidString.lowercased() }
}

/// The operators' and supervisors' views over the fixed data set, through the query layer and the CLI.
@Suite(.serialized)
struct ReportsTests {
    let data: ReportsDataSet

    init() throws {
        data = try ReportsDataSet.shared.get()
    }

    /// Runs `body` with a query layer on the data set (Moscow, Russian numbers, 15-minute escalation).
    func withReports<T>(_ body: (Reports) throws -> T) throws -> T {
        let store = try Reports.openStore(path: data.databasePath)
        defer { store.close() }
        return try body(Reports(store: store, zone: ReportsDataSet.moscow, plan: NumberingPlan.forCountry("RU")!, overdueAfter: 900))
    }

    func instant(_ text: String) throws -> Date { try #require(RFC3339.parse(text)) }

    func counts(calls: Int = 0, callbacks: Int = 0, attempts: Int = 0, manual: Int = 0, tasks: Int = 0) -> PayCounts {
        var counts = PayCounts()
        (counts.calls, counts.callbacks, counts.attempts, counts.manual, counts.tasks) = (calls, callbacks, attempts, manual, tasks)
        return counts
    }

    // MARK: Pay

    @Test("The pay report counts each operator's saved tickets of the month by kind; drafts and other months do not count")
    func payForNovember() throws {
        let report = try withReports { try $0.pay(month: ReportMonth(year: 2026, month: 11)!) }
        #expect(report.operators == [PayLine(operatorLogin: "op.ivanov", counts: counts(calls: 2)),
                                     PayLine(operatorLogin: "op.sidorova", counts: counts(callbacks: 1, attempts: 1))])
        #expect(report.operators.map(\.counts.total) == [2, 2])
        #expect(report.totals == counts(calls: 2, callbacks: 1, attempts: 1))
        #expect(report.totals.total == 4)
        #expect(report.from == (try instant("2026-11-01T00:00:00+03:00")))
        #expect(report.to == (try instant("2026-12-01T00:00:00+03:00")))
        #expect(report.timeZone == "Europe/Moscow")
    }

    @Test("A call answered at 23:59 on 31 October in Moscow is paid in October, one at 00:00 on 1 November in November")
    func payForOctober() throws {
        let report = try withReports { try $0.pay(month: ReportMonth(year: 2026, month: 10)!) }
        #expect(report.operators == [PayLine(operatorLogin: "op.ivanov", counts: counts(calls: 1)),
                                     PayLine(operatorLogin: "op.petrova", counts: counts(calls: 2))])
        #expect(report.totals.total == 3)
    }

    @Test("Manual tickets, requested callbacks and periodic tasks count for pay in the month they were created")
    func payForTheCurrentMonth() throws {
        let report = try withReports { try $0.pay(month: data.currentMonth) }
        #expect(report.operators == [PayLine(operatorLogin: "op.ivanov", counts: counts(tasks: 1)),
                                     PayLine(operatorLogin: "op.petrova", counts: counts(manual: 2))])
    }

    @Test("The pay report's JSON has stable snake_case keys and reads back into the same report")
    func payJSON() throws {
        let report = try withReports { try $0.pay(month: ReportMonth(year: 2026, month: 11)!) }
        let data = try ReportJSON.encoder(zone: ReportsDataSet.moscow).encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object.keys.sorted() == ["from", "month", "operators", "time_zone", "to", "totals"])
        #expect(object["month"] as? String == "2026-11")
        #expect(object["from"] as? String == "2026-11-01T00:00:00.000+03:00")
        let line = try #require((object["operators"] as? [[String: Any]])?.last)
        #expect(line.keys.sorted() == ["attempts", "callbacks", "calls", "manual", "operator", "tasks", "total"])
        #expect(try ReportJSON.decoder().decode(PayReport.self, from: data) == report)
    }

    // MARK: Reasons

    @Test("The reasons report counts saved tickets per reason and resolution with shares, and ranks the pairs")
    func reasonsOverTwoMonths() throws {
        let days = try ReportDays(from: #require(LocalDate(iso: "2026-10-01")), to: #require(LocalDate(iso: "2026-11-30")))
        let report = try withReports { try $0.reasons(on: days) }
        #expect(report.tickets == 7)
        #expect(report.reasons.map { "\($0.code) \($0.tickets) \($0.share)" } == [
            "no_internet 3 0.4286", "callback_requested 2 0.2857", "payment_question 1 0.1429", "slow_speed 1 0.1429",
            "balance 1 0.1429",
        ])
        #expect(report.resolutions.map { "\($0.code) \($0.tickets) \($0.share)" } == [
            "consulted 3 0.4286", "port_reset 2 0.2857", "called_back_resolved 1 0.1429", "no_answer 1 0.1429",
        ])
        #expect(report.pairs.map { "\($0.reason.code)→\($0.resolution.code) \($0.tickets)" } == [
            "no_internet→port_reset 2", "payment_question→consulted 1", "no_internet→consulted 1", "slow_speed→port_reset 1",
            "callback_requested→called_back_resolved 1", "callback_requested→no_answer 1", "balance→consulted 1",
        ])
        #expect(report.reasons.first?.title == "Нет интернета")
        #expect(report.pairs.first?.share == 0.2857)
    }

    @Test("A period's last day ends at local midnight: 23:59 on 31 October is in, 00:00 on 1 November is out")
    func reasonsOfOctober() throws {
        let days = try ReportDays(from: #require(LocalDate(iso: "2026-10-01")), to: #require(LocalDate(iso: "2026-10-31")))
        let report = try withReports { try $0.reasons(on: days, topPairs: 2) }
        #expect(report.tickets == 3)
        #expect(report.reasons.map { "\($0.code) \($0.tickets) \($0.share)" } == ["no_internet 3 1.0", "slow_speed 1 0.3333"])
        #expect(report.resolutions.map { "\($0.code) \($0.tickets) \($0.share)" } == ["port_reset 2 0.6667", "consulted 1 0.3333"])
        #expect(report.pairs.map { "\($0.reason.code)→\($0.resolution.code) \($0.tickets)" } == ["no_internet→port_reset 2", "no_internet→consulted 1"])
        #expect((report.fromDate, report.toDate) == ("2026-10-01", "2026-10-31"))
    }

    @Test("A period without saved tickets gives zero tickets and empty lists")
    func reasonsOfAnEmptyPeriod() throws {
        let days = try ReportDays(from: #require(LocalDate(iso: "2025-01-01")), to: #require(LocalDate(iso: "2025-01-31")))
        let report = try withReports { try $0.reasons(on: days) }
        #expect(report.tickets == 0)
        #expect(report.reasons.isEmpty && report.resolutions.isEmpty && report.pairs.isEmpty)
    }

    // MARK: Operators' views

    @Test("My tickets lists the operator's drafts and saved tickets of the month, newest first")
    func myTickets() throws {
        try withReports { reports in
            let october = ReportMonth(year: 2026, month: 10)!
            let ivanov = try reports.tickets(of: "op.ivanov", in: october)
            #expect(ivanov.tickets.map(\.ticketID) == ["d5", "t4"].map(data.ticket))
            #expect(ivanov.tickets.map(\.state) == [.draft, .saved])
            #expect(try reports.tickets(of: "op.petrova", in: october).tickets.map(\.ticketID) == ["t2", "t1"].map(data.ticket))
            let november = ReportMonth(year: 2026, month: 11)!
            #expect(try reports.tickets(of: "op.sidorova", in: november).tickets.map(\.ticketID) == ["handled", "attempt"].map(data.ticket))
            #expect(try reports.tickets(of: "op.petrova", in: data.currentMonth).tickets.map(\.ticketID) == ["requested", "manual"].map(data.ticket))
            #expect(try reports.tickets(of: "op.nobody", in: november).tickets.isEmpty)
        }
    }

    @Test("A subscriber's history by RS ID lists the tickets that name them, newest first")
    func historyByRSID() throws {
        let history = try withReports { try $0.history(rsID: 501) }
        #expect(history.subscribers.map(\.fullName) == ["Иванова Анна Сергеевна"])
        #expect(history.subscribers.first?.phones == ["+79001000001", "+73422000001"])
        #expect(history.tickets.map(\.ticketID) == ["manual", "t3", "d5", "t4", "callbackA", "t1"].map(data.ticket))
        #expect(history.tickets.map(\.kind) == [.manual, .call, .call, .call, .callback, .call])
        #expect(history.tickets.map(\.state) == [.saved, .saved, .draft, .saved, .draft, .saved])
    }

    @Test("A number typed in another format finds the same history")
    func historyByPhone() throws {
        try withReports { reports in
            let byPhone = try reports.history(phone: "8 (900) 100-00-01")
            #expect(byPhone.phone == "+79001000001")
            #expect(byPhone.tickets == (try reports.history(rsID: 501)).tickets)
            #expect(byPhone.subscribers.map(\.rsID) == [501])
        }
    }

    @Test("A shared number finds both subscribers and the tickets with that contact phone")
    func historyOfASharedNumber() throws {
        let history = try withReports { try $0.history(phone: "+7 342 200 00 02") }
        #expect(history.subscribers.map(\.rsID) == [502, 503])
        #expect(history.tickets.map(\.ticketID) == ["requested", "attempt", "callbackB", "t2"].map(data.ticket))
        #expect(history.tickets.map(\.subscriber.match) == [.matched, .ambiguous, .ambiguous, .matched])
    }

    @Test("A history asked by something that is not a number is refused with what to type")
    func historyOfANonNumber() throws {
        let error = try #require(throws: ReportError.self) { try withReports { try $0.history(phone: "anonymous") } }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("'anonymous' is not a phone number"))
    }

    @Test("Ticket show gives the ticket with its edits, oldest first, with who changed what from where")
    func ticketShow() throws {
        let detail = try withReports { try $0.ticket(id: data.ticket("manual")) }
        #expect(detail.ticket.comment == "Абонент подтвердил смену тарифа")
        #expect(detail.ticket.author == "op.petrova")
        #expect(detail.revisions.map(\.operatorLogin) == ["op.petrova", "op.ivanov"])
        #expect(detail.revisions.map(\.via) == [.myTickets, .rsCard])
        #expect(detail.revisions.map { $0.changes.map(\.field) } == [["resolutions", "comment"], ["comment"]])
        #expect(detail.revisions[1].changes[0] == FieldChange(field: "comment", from: .text("Перевели на Домашний 300"),
                                                             to: .text("Абонент подтвердил смену тарифа")))
        #expect(detail.callback == nil)
        let text = ReportText(zone: ReportsDataSet.moscow, colours: false).ticket(detail)
        #expect(text.contains("комментарий: «Перевели на Домашний 300» → «Абонент подтвердил смену тарифа»"))
    }

    @Test("Ticket show of a handled callback tells who closed it and how")
    func ticketShowOfAHandledCallback() throws {
        let detail = try withReports { try $0.ticket(id: data.ticket("handled")) }
        let callback = try #require(detail.callback)
        #expect(callback.status == .resolved)
        #expect(callback.resolution == .operatorDone)
        #expect(callback.resolvedBy == "op.sidorova")
        #expect(detail.revisions.isEmpty)
    }

    @Test("Ticket show of an unknown id says how to find one")
    func ticketShowOfAnUnknownID() throws {
        let error = try #require(throws: ReportError.self) { try withReports { try $0.ticket(id: "no-such-ticket") } }
        #expect(error.code == .notFound)
    }

    @Test("The unprocessed list shows open callbacks oldest first, with subscriber, counts and whether they are overdue")
    func callbacksList() throws {
        let now = Date()
        let list = try withReports { try $0.openCallbacks(at: now) }
        #expect(list.callbacks.map(\.phone) == ["+73422000001", "+73422000002", "+79001000002"])
        #expect(list.callbacks.map(\.ticketID) == ["callbackA", "callbackB", "requested"].map(data.ticket))
        #expect(list.callbacks.map(\.missedCount) == [2, 1, 0])
        #expect(list.callbacks.map(\.attempts) == [0, 1, 0])
        #expect(list.callbacks.map(\.overdue) == [true, true, false])
        #expect(list.callbacks.map(\.origin) == [.missedCall, .missedCall, .requested])
        #expect(list.callbacks[0].openedAt == (try instant("2026-10-10T09:00:00+03:00")))
        #expect(list.callbacks[0].ageSeconds == Int(now.timeIntervalSince(try instant("2026-10-10T09:00:00+03:00"))))
        #expect(list.callbacks[0].subscriber.fullName == "Иванова Анна Сергеевна")
        #expect(list.callbacks[1].subscriber.candidates == [502, 503])
        #expect(list.callbacks[2].comment == "Перезвонить после 18:00, вопрос по счёту")
        #expect(list.callbacks[2].address == "г. Пермь, ул. Мира, д. 1, кв. 2")
    }

    @Test("A callback becomes overdue when it has waited exactly the escalation limit")
    func overdueBoundary() throws {
        try withReports { reports in
            let openedAt = try #require(try reports.openCallbacks(at: Date()).callbacks.last?.openedAt)
            #expect(try reports.openCallbacks(at: openedAt.addingTimeInterval(899)).callbacks.last?.overdue == false)
            #expect(try reports.openCallbacks(at: openedAt.addingTimeInterval(900)).callbacks.last?.overdue == true)
        }
    }

    @Test("On a terminal callbacks are blue and overdue ones red; without colours there are no escape codes")
    func callbackColours() throws {
        let list = try withReports { try $0.openCallbacks(at: Date()) }
        let coloured = ReportText(zone: ReportsDataSet.moscow, colours: true).callbacks(list).split(separator: "\n")
        #expect(coloured[1].hasPrefix("\u{1B}[31m+73422000001"))
        #expect(coloured[2].hasPrefix("\u{1B}[31m+73422000002"))
        #expect(coloured[3].hasPrefix("\u{1B}[34m+79001000002"))
        #expect(coloured[1].hasSuffix("\u{1B}[0m"))
        let plain = ReportText(zone: ReportsDataSet.moscow, colours: false).callbacks(list)
        #expect(!plain.contains("\u{1B}"))
        #expect(plain.contains("кандидатов: 2 (RS 502, 503)"))
    }

    // MARK: The CLI

    /// Runs the built `metrika` executable on the data set's file; returns its exit status and output.
    func metrika(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let candidates = [Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("metrika"),
                          repositoryRoot.appendingPathComponent(".build/debug/metrika")].compactMap { $0 }
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw HarnessError("the metrika executable is not built; run 'swift build' first (looked at \(candidates.map(\.path)))")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("METRIKA_") }
        environment["METRIKA_DB"] = data.databasePath
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr)
    }

    @Test("metrika callbacks --json prints the unprocessed list oldest first with snake_case keys")
    func cliCallbacksJSON() throws {
        let run = try metrika(["callbacks", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["overdue_after_seconds"] as? Int == 900)
        let callbacks = try #require(object["callbacks"] as? [[String: Any]])
        #expect(callbacks.map { $0["phone"] as? String } == ["+73422000001", "+73422000002", "+79001000002"])
        #expect(callbacks.map { $0["overdue"] as? Bool } == [true, true, false])
        #expect(callbacks.map { ($0["subscriber"] as? [String: Any])?["match"] as? String } == ["matched", "ambiguous", "matched"])
        #expect(callbacks.first?["opened_at"] as? String == "2026-10-10T09:00:00.000+03:00")
        #expect(callbacks.first.map { $0.keys.sorted() } == [
            "address", "age_seconds", "attempts", "callback_id", "comment", "last_missed_at", "missed_count", "opened_at", "origin",
            "overdue", "overdue_at", "phone", "reasons", "subscriber", "ticket_id",
        ])
    }

    @Test("metrika callbacks piped into a file prints a plain table")
    func cliCallbacksTable() throws {
        let run = try metrika(["callbacks"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("\u{1B}"))
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("Номер") == true)
        #expect(lines.dropFirst().prefix(3).map { String($0.prefix(12)) } == ["+73422000001", "+73422000002", "+79001000002"])
    }

    @Test("metrika report pay --csv prints RFC 4180 lines for a spreadsheet")
    func cliPayCSV() throws {
        let run = try metrika(["report", "pay", "--month", "2026-11", "--csv"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "operator,calls,callbacks,attempts,manual,tasks,total\r\nop.ivanov,2,0,0,0,0,2\r\nop.sidorova,0,1,1,0,0,2\r\n")
    }

    @Test("metrika tickets history finds a subscriber by a number in any format")
    func cliHistoryByPhone() throws {
        let run = try metrika(["tickets", "history", "--phone=+7 (342) 200-00-02", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["phone"] as? String == "+73422000002")
        #expect((object["tickets"] as? [Any])?.count == 4)
    }

    @Test("An unknown option or a malformed month is refused with exit status 2 and a message saying what to do",
          arguments: [
              (["report", "pay", "--month", "2026-11", "--bogus"], "unknown option '--bogus' for 'metrika report pay'"),
              (["tickets", "mine", "--operator", "op.ivanov", "--month", "2026-13"], "--month '2026-13' is not a month; use YYYY-MM"),
              (["report", "pay", "--month", "2026-11", "--json", "--csv"], "--json and --csv exclude each other"),
              (["report", "reasons", "--from", "2026-11-31", "--to", "2026-12-01"], "--from '2026-11-31' is not a date"),
              (["tickets", "history", "--rs-id", "501", "--phone", "89001000001"], "give exactly one of --rs-id N or --phone NUMBER"),
          ])
    func cliRefusesBadArguments(arguments: [String], message: String) throws {
        let run = try metrika(arguments)
        #expect(run.status == 2)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test("An unknown ticket exits with status 1")
    func cliUnknownTicket() throws {
        let run = try metrika(["ticket", "show", "no-such-ticket"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("there is no ticket 'no-such-ticket'"))
    }

    // MARK: Periods, without I/O

    @Suite("Report periods are counted in the company's zone")
    struct Periods {
        static let moscow = TimeZone(identifier: "Europe/Moscow")!
        static let berlin = TimeZone(identifier: "Europe/Berlin")!

        func instant(_ text: String) throws -> Date { try #require(RFC3339.parse(text)) }

        @Test("23:59 on the last day of October in Moscow belongs to October, midnight after it to November")
        func lastMinuteOfTheMonth() throws {
            let lastMinute = try instant("2026-10-31T23:59:00+03:00")
            #expect(ReportMonth(containing: lastMinute, in: Self.moscow) == ReportMonth(year: 2026, month: 10))
            #expect(ReportMonth(containing: lastMinute, in: .gmt) == ReportMonth(year: 2026, month: 10))
            #expect(ReportMonth(containing: try instant("2026-11-01T00:00:00+03:00"), in: Self.moscow) == ReportMonth(year: 2026, month: 11))
            let october = ReportMonth(year: 2026, month: 10)!.interval(in: Self.moscow)
            #expect(october.start == (try instant("2026-09-30T21:00:00Z")))
            #expect(october.end == (try instant("2026-10-31T21:00:00Z")))
            #expect(lastMinute < october.end)
            // 21:30 UTC on 31 October is already November in Moscow.
            #expect(ReportMonth(containing: try instant("2026-10-31T21:30:00Z"), in: Self.moscow) == ReportMonth(year: 2026, month: 11))
        }

        @Test("In Berlin, March (clocks forward) lasts 743 hours and October (clocks back) 745")
        func berlinDaylightSavingMonths() throws {
            let march = ReportMonth(year: 2026, month: 3)!.interval(in: Self.berlin)
            #expect(march.start == (try instant("2026-02-28T23:00:00Z")))
            #expect(march.end == (try instant("2026-03-31T22:00:00Z")))
            #expect(march.duration == 743 * 3600)
            let october = ReportMonth(year: 2026, month: 10)!.interval(in: Self.berlin)
            #expect(october.start == (try instant("2026-09-30T22:00:00Z")))
            #expect(october.end == (try instant("2026-10-31T23:00:00Z")))
            #expect(october.duration == 745 * 3600)
        }

        @Test("A period of the switch-over day in Berlin lasts 23 hours in spring and 25 in autumn")
        func berlinSwitchOverDays() throws {
            let spring = try #require(LocalDate(iso: "2026-03-29"))
            let springDay = try ReportDays(from: spring, to: spring).interval(in: Self.berlin)
            #expect(springDay.start == (try instant("2026-03-28T23:00:00Z")))
            #expect(springDay.duration == 23 * 3600)
            let autumn = try #require(LocalDate(iso: "2026-10-25"))
            #expect(try ReportDays(from: autumn, to: autumn).interval(in: Self.berlin).duration == 25 * 3600)
        }

        @Test("A period's last day includes New Year's Eve up to local midnight")
        func periodOverTheYearEnd() throws {
            let days = try ReportDays(from: #require(LocalDate(iso: "2026-12-31")), to: #require(LocalDate(iso: "2026-12-31")))
            let interval = days.interval(in: Self.moscow)
            #expect(interval.start == (try instant("2026-12-30T21:00:00Z")))
            #expect(interval.end == (try instant("2026-12-31T21:00:00Z")))
        }

        @Test("A period that ends before it starts is refused")
        func backwardsPeriod() throws {
            let error = try #require(throws: ReportError.self) {
                try ReportDays(from: #require(LocalDate(iso: "2026-12-01")), to: #require(LocalDate(iso: "2026-11-30")))
            }
            #expect(error.code == .invalidArgument)
        }

        @Test("A month is written YYYY-MM", arguments: [
            ("2026-11", "2026-11"), ("2026-01", "2026-01"), ("2026-13", nil), ("2026-00", nil), ("2026-1", nil), ("26-11", nil),
            ("2026/11", nil), ("2026-11-01", nil), ("", nil), ("abcd-ef", nil), ("0000-01", nil),
        ] as [(String, String?)])
        func monthParsing(text: String, parsed: String?) {
            #expect(ReportMonth(parsing: text)?.description == parsed)
        }

        @Test("CSV fields with a comma, quote or line break are quoted, quotes doubled", arguments: [
            ("op.ivanov", "op.ivanov"), ("Иванова, Анна", "\"Иванова, Анна\""), ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""), ("crlf\r\n", "\"crlf\r\n\""), ("", ""),
        ])
        func csvQuoting(text: String, field: String) {
            #expect(ReportCSV.field(text) == field)
        }
    }
}
