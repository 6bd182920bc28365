import Foundation
import Testing
@testable import MetrikaDomain

@Suite("Saved tickets are edited within the windows of DESIGN.md")
struct EditTests {
    let desk: TicketDesk
    let window = EditWindow(zone: Fixture.moscow)
    /// 2026-12-03T10:10:12+03:00.
    let createdAt = Date(timeIntervalSince1970: 1_796_281_812)

    init() throws {
        desk = TicketDesk(catalog: try Fixture.defaultCatalog(), plan: Fixture.ru, zone: Fixture.moscow)
    }

    static let noInternet = CatalogReference(code: "no_internet", title: "Нет интернета")
    static let slowSpeed = CatalogReference(code: "slow_speed", title: "Низкая скорость")

    func savedTicket(at instant: Date? = nil) throws -> Ticket {
        var ticket = desk.callDraft(id: "t1", callID: "c1", direction: .inbound, operatorLogin: "op.petrova",
                                    phone: try Fixture.phone("+79000001122"), match: .one(try Fixture.ivanova()),
                                    at: instant ?? createdAt)
        try desk.save(&ticket, command: TicketSaveCommand(
            commandID: "s1", ticketID: "t1", operatorLogin: "op.petrova", contactPhones: nil, source: nil,
            reasons: ["нет инета"], resolutions: [], comment: nil, address: nil, callbackDone: false),
                      phones: nil, at: instant ?? createdAt)
        return ticket
    }

    func edit(via: CommandOrigin = .rsCard, by operatorLogin: String = "op.sidorov", reasons: [String]? = nil,
              resolutions: [String]? = nil, comment: String? = nil, source: String? = nil,
              callbackDone: Bool = false) -> TicketEditCommand {
        TicketEditCommand(commandID: "e1", ticketID: "t1", operatorLogin: operatorLogin, via: via, reasons: reasons,
                          resolutions: resolutions, comment: comment, contactPhones: nil, source: source,
                          callbackDone: callbackDone)
    }

    // MARK: - Windows

    @Test("From the RS card a ticket can be edited for 48 hours after its creation")
    func rsCardWindow() throws {
        let ticket = try savedTicket()
        let deadline = window.deadline(for: ticket, via: .rsCard)
        #expect(deadline == createdAt.addingTimeInterval(172_800))
        #expect(throws: Never.self) { try window.check(ticket, via: .rsCard, by: "op.sidorov", at: deadline.addingTimeInterval(-1)) }
        #expect(throws: CommandRejection(.editWindowClosed, "ticket t1 could be edited via rs_card until 2026-12-05T10:10:12.000+03:00")) {
            try window.check(ticket, via: .rsCard, by: "op.sidorov", at: deadline)
        }
    }

    @Test("From the RS card 47:59 after creation is inside the window and 48:01 is outside")
    func rsCardBoundaryMinutes() throws {
        let ticket = try savedTicket()
        #expect(throws: Never.self) { try window.check(ticket, via: .rsCard, by: "op.sidorov", at: createdAt.addingTimeInterval(47 * 3600 + 59 * 60)) }
        #expect(throws: CommandRejection.self) { try window.check(ticket, via: .rsCard, by: "op.sidorov", at: createdAt.addingTimeInterval(48 * 3600 + 60)) }
    }

    @Test("In a zone with daylight saving the month still ends at local midnight")
    func berlinMonthEndAcrossTheOctoberSwitchOver() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let berlinWindow = EditWindow(zone: berlin)
        // 25 October 2026 03:00 CEST becomes 02:00 CET; a ticket created that day belongs to October.
        let created = try Fixture.instant("2026-10-25T02:30:00+01:00")
        let ticket = try savedTicket(at: created)
        let deadline = berlinWindow.deadline(for: ticket, via: .callbackList)
        #expect(RFC3339.format(deadline, in: berlin) == "2026-11-01T00:00:00.000+01:00")
        #expect(RFC3339.format(deadline, in: .gmt) == "2026-10-31T23:00:00.000+00:00")
        // March: the month of the spring switch-over ends at local midnight in summer time.
        let spring = try savedTicket(at: try Fixture.instant("2026-03-29T01:30:00+01:00"))
        #expect(RFC3339.format(berlinWindow.deadline(for: spring, via: .myTickets), in: berlin) == "2026-04-01T00:00:00.000+02:00")
    }

    @Test("A ticket created at 23:59 on the last day of a month may be edited from the list for one minute")
    func createdOneMinuteBeforeMonthEnd() throws {
        let ticket = try savedTicket(at: try Fixture.instant("2026-11-30T23:59:00+03:00"))
        #expect(throws: Never.self) { try window.check(ticket, via: .callbackList, by: "op.sidorov", at: try Fixture.instant("2026-11-30T23:59:59+03:00")) }
        #expect(throws: CommandRejection.self) { try window.check(ticket, via: .callbackList, by: "op.sidorov", at: try Fixture.instant("2026-12-01T00:00:00+03:00")) }
    }

    @Test("From the callback list a ticket can be edited by anyone until the end of its month in Moscow")
    func callbackListWindowEndsAtMoscowMonthEnd() throws {
        let lateOnNewYearsEve = try Fixture.instant("2026-12-31T23:30:00+03:00")
        let ticket = try savedTicket(at: lateOnNewYearsEve)
        let deadline = window.deadline(for: ticket, via: .callbackList)
        #expect(RFC3339.format(deadline, in: Fixture.moscow) == "2027-01-01T00:00:00.000+03:00")
        #expect(throws: Never.self) {
            try window.check(ticket, via: .callbackList, by: "op.sidorov", at: try Fixture.instant("2026-12-31T23:59:59+03:00"))
        }
        #expect(throws: CommandRejection(.editWindowClosed, "ticket t1 could be edited via callback_list until 2027-01-01T00:00:00.000+03:00")) {
            try window.check(ticket, via: .callbackList, by: "op.sidorov", at: try Fixture.instant("2026-12-31T21:00:00Z"))
        }
    }

    @Test("The month a ticket belongs to is the Moscow month, not the UTC one")
    func monthIsCountedInTheCompanyZone() throws {
        // 2026-11-30T22:00:00Z is already 1 December in Moscow: the window runs to the end of December.
        let ticket = try savedTicket(at: try Fixture.instant("2026-11-30T22:00:00Z"))
        #expect(RFC3339.format(window.deadline(for: ticket, via: .callbackList), in: Fixture.moscow)
            == "2027-01-01T00:00:00.000+03:00")
        let inUTC = EditWindow(zone: Fixture.utc)
        #expect(RFC3339.format(inUTC.deadline(for: ticket, via: .callbackList), in: Fixture.utc)
            == "2026-12-01T00:00:00.000+00:00")
    }

    @Test("From My tickets only the author may edit, until the end of the month", arguments: [CommandOrigin.myTickets, .manual])
    func myTicketsIsForTheAuthor(via: CommandOrigin) throws {
        let ticket = try savedTicket()
        #expect(throws: Never.self) { try window.check(ticket, via: via, by: "op.petrova", at: createdAt.addingTimeInterval(86_400 * 20)) }
        let place = via == .myTickets ? "from 'My tickets'" : "by hand (via manual)"
        #expect(throws: CommandRejection(.notAuthor,
                                         "only op.petrova may edit ticket t1 \(place), until 2027-01-01T00:00:00.000+03:00; "
                                            + "anyone may edit it from the callback list until 2027-01-01T00:00:00.000+03:00 "
                                            + "or from the RS card until 2026-12-05T10:10:12.000+03:00")) {
            try window.check(ticket, via: via, by: "op.sidorov", at: createdAt)
        }
        #expect(throws: CommandRejection(.notAuthor,
                                         "only op.petrova may edit ticket t1 \(place), until 2027-01-01T00:00:00.000+03:00; "
                                            + "anyone may edit it from the callback list until 2027-01-01T00:00:00.000+03:00")) {
            try window.check(ticket, via: via, by: "op.sidorov", at: createdAt.addingTimeInterval(EditWindow.rsCardWindow))
        }
        #expect(throws: CommandRejection(.editWindowClosed, "ticket t1 could be edited via \(via.rawValue) until 2027-01-01T00:00:00.000+03:00")) {
            try window.check(ticket, via: via, by: "op.petrova", at: try Fixture.instant("2027-01-01T00:00:00+03:00"))
        }
    }

    @Test("A calendar month's bounds are Moscow midnights", arguments: [
        (2026, 12, "2026-12-01T00:00:00.000+03:00", "2027-01-01T00:00:00.000+03:00"),
        (2028, 2, "2028-02-01T00:00:00.000+03:00", "2028-03-01T00:00:00.000+03:00"),
    ])
    func monthBounds(year: Int, month: Int, start: String, end: String) throws {
        let bounds = try #require(window.bounds(ofMonth: year, month))
        #expect(RFC3339.format(bounds.start, in: Fixture.moscow) == start)
        #expect(RFC3339.format(bounds.end, in: Fixture.moscow) == end)
    }

    @Test("An impossible month has no bounds")
    func impossibleMonth() {
        #expect(window.bounds(ofMonth: 2026, 13) == nil)
        #expect(window.bounds(ofMonth: 2026, 0) == nil)
    }

    // MARK: - Applying edits

    @Test("An edit records each changed field with its old and new value")
    func editRecordsChanges() throws {
        var ticket = try savedTicket()
        let changes = try desk.edit(&ticket, command: edit(reasons: ["Нет интернета", "медленный инет"], comment: "Уточнил адрес",
                                                           source: "Входящий звонок"),
                                    phones: nil, at: createdAt.addingTimeInterval(3600))
        #expect(changes == [
            FieldChange(field: "reasons", from: .references([Self.noInternet]), to: .references([Self.noInternet, Self.slowSpeed])),
            FieldChange(field: "comment", from: .text(nil), to: .text("Уточнил адрес")),
        ])
        #expect(ticket.reasons == [Self.noInternet, Self.slowSpeed])
        #expect(ticket.comment == "Уточнил адрес")
        #expect(ticket.state == .saved)
    }

    @Test("An edit of contact phones stores them in E.164")
    func editPhones() throws {
        var ticket = try savedTicket()
        let phones = try desk.phones(["+79000001122", "83422001122"])
        let changes = try desk.edit(&ticket, command: edit(), phones: phones, at: createdAt)
        #expect(changes == [FieldChange(field: "contact_phones", from: .phones(["+79000001122"]),
                                        to: .phones(["+79000001122", "+73422001122"]))])
        #expect(ticket.contactPhones == ["+79000001122", "+73422001122"])
    }

    @Test("An edit that changes nothing is refused, unless it closes a callback")
    func editChangingNothing() throws {
        var ticket = try savedTicket()
        #expect(throws: CommandRejection(.noChanges, "the edit changes nothing in ticket t1")) {
            try desk.edit(&ticket, command: edit(reasons: ["НЕТ ИНЕТА"]), phones: nil, at: createdAt)
        }
        #expect(try desk.edit(&ticket, command: edit(callbackDone: true), phones: nil, at: createdAt) == [])
    }

    @Test("An edit may not remove every reason")
    func editRemovingAllReasons() throws {
        var ticket = try savedTicket()
        #expect(throws: CommandRejection(.reasonRequired, "a saved ticket keeps at least one reason")) {
            try desk.edit(&ticket, command: edit(reasons: []), phones: nil, at: createdAt)
        }
    }

    @Test("A draft is completed with ticket.save, not edited")
    func draftIsNotEdited() throws {
        var draft = desk.callDraft(id: "t1", callID: "c1", direction: .inbound, operatorLogin: "op.petrova",
                                   phone: nil, match: .none, at: createdAt)
        #expect(throws: CommandRejection(.ticketIsDraft, "ticket t1 is a draft; complete it with ticket.save")) {
            try desk.edit(&draft, command: edit(comment: "x"), phones: nil, at: createdAt)
        }
    }

    @Test("An edit outside its window or naming an unknown reason is refused")
    func editRefusals() throws {
        var ticket = try savedTicket()
        #expect(throws: CommandRejection(.editWindowClosed, "ticket t1 could be edited via rs_card until 2026-12-05T10:10:12.000+03:00")) {
            try desk.edit(&ticket, command: edit(comment: "поздно"), phones: nil, at: createdAt.addingTimeInterval(172_800))
        }
        #expect(throws: CommandRejection(.unknownCatalogEntry, "unknown reason 'нет связи с луной': use a code, title or synonym from the catalog")) {
            try desk.edit(&ticket, command: edit(reasons: ["нет связи с луной"]), phones: nil, at: createdAt)
        }
        #expect(ticket.reasons == [Self.noInternet])
    }

    // MARK: - Failed callback attempts

    @Test("A callback attempt that did not get through is a saved ticket by the operator with Позвонил — не дозвонился")
    func failedAttemptTicket() throws {
        let at = try Fixture.instant("2026-12-03T10:20:00+03:00")
        let ticket = desk.failedAttemptTicket(id: "t9", callID: "c9", operatorLogin: "op.petrova",
                                              phone: try Fixture.phone("+79000001122"), match: .one(try Fixture.ivanova()),
                                              callbackID: "cb1", at: at)
        #expect(ticket.kind == .attempt)
        #expect(ticket.state == .saved)
        #expect(ticket.savedAt == at)
        #expect(ticket.createdAt == at)
        #expect(ticket.author == "op.petrova")
        #expect(ticket.direction == .outbound)
        #expect(ticket.source == CatalogReference(code: "outgoing_call", title: "Исходящий звонок"))
        #expect(ticket.reasons == [CatalogReference(code: "callback_requested", title: "Попросил перезвонить")])
        #expect(ticket.resolutions == [CatalogReference(code: "no_answer", title: "Позвонил — не дозвонился")])
        #expect(ticket.callbackID == "cb1")
        #expect(ticket.contactPhones == ["+79000001122"])
        #expect(ticket.subscriber?.daysOnTariff == 277)
    }
}
