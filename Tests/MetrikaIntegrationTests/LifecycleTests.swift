import Foundation
import MetrikaDomain
import MetrikaTestSupport
import Testing

/// Ticket lifecycle on the real broker: edits and their windows, callback attempts, escalation.
@Suite(.serialized)
struct LifecycleTests {
    /// Saves a manual ticket through the broker and returns its id.
    func saveManualTicket(_ gateway: TestGateway, operatorLogin: String = "op.petrova") throws -> String {
        try gateway.publishCommand(Fixtures.create(["operator": operatorLogin, "reasons": ["нет инета"], "resolutions": ["консультация"],
                                                    "save": true]))
        let saved = try gateway.nextEvent(ofType: "ticket.saved")
        return try #require((saved["ticket"] as? [String: Any])?["ticket_id"] as? String)
    }

    @Test func theAuthorEditsFromMyTicketsAndTheEditKeepsARevision() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let ticketID = try saveManualTicket(gateway)
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, via: "my_tickets",
                                                 changes: ["comment": "Уточнил адрес", "resolutions": ["Передано специалисту"]]))
        let edited = try gateway.nextEvent(ofType: "ticket.edited")
        let revision = try #require(edited["revision"] as? [String: Any])
        #expect(revision["operator"] as? String == "op.petrova")
        let changes = try #require(revision["changes"] as? [[String: Any]])
        #expect(changes.map { $0["field"] as? String } == ["resolutions", "comment"])
        #expect(changes.last?["from"] is NSNull)
        #expect(changes.last?["to"] as? String == "Уточнил адрес")
        let ticket = try #require(try gateway.ticket(ticketID))
        #expect(ticket.comment == "Уточнил адрес")
        #expect(ticket.resolutions.map(\.code) == ["passed_to_specialist"])
        #expect(try gateway.count("SELECT COUNT(*) FROM ticket_revisions WHERE ticket_id = ? AND operator = 'op.petrova'", [.text(ticketID)]) == 1)
    }

    @Test func anotherOperatorCannotEditFromMyTicketsAndNothingChanges() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let ticketID = try saveManualTicket(gateway)
        let before = try #require(try gateway.ticket(ticketID))
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, operatorLogin: "op.ivanov", via: "my_tickets", changes: ["comment": "чужое"]))
        let rejected = try gateway.nextEvent(ofType: "command.rejected")
        #expect(rejected["code"] as? String == "not_author")
        #expect(try gateway.ticket(ticketID) == before)
        #expect(try gateway.count("SELECT COUNT(*) FROM ticket_revisions") == 0)
        // Any operator may edit from the callback list within the month.
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, operatorLogin: "op.ivanov", via: "callback_list", changes: ["comment": "дополнил"]))
        _ = try gateway.nextEvent(ofType: "ticket.edited")
    }

    @Test func editsOfAnOldTicketAreRefusedWithTheDeadline() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callAnswered(callID: "old-1", number: "89001000001", operatorLogin: "op.petrova",
                                                      answeredAt: "2026-10-30T21:30:00+00:00"))
        let drafted = try gateway.nextEvent(ofType: "ticket.drafted")
        let ticketID = try #require((drafted["ticket"] as? [String: Any])?["ticket_id"] as? String)
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, via: "rs_card", changes: ["comment": "x"]))
        #expect(try gateway.nextEvent(ofType: "command.rejected")["code"] as? String == "ticket_is_draft")
        try gateway.publishCommand(Fixtures.save(ticketID: ticketID, ["reasons": ["оплата"]]))
        _ = try gateway.nextEvent(ofType: "ticket.saved")

        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, via: "rs_card", changes: ["comment": "x"]))
        let rsCard = try gateway.nextEvent(ofType: "command.rejected")
        #expect(rsCard["code"] as? String == "edit_window_closed")
        #expect((rsCard["message"] as? String)?.contains("2026-11-02T00:30:00.000+03:00") == true)
        // Created 00:30 on 31 October in Moscow: the month ended at 1 November 00:00 Moscow time.
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, via: "callback_list", changes: ["comment": "x"]))
        let list = try gateway.nextEvent(ofType: "command.rejected")
        #expect(list["code"] as? String == "edit_window_closed")
        #expect((list["message"] as? String)?.contains("2026-11-01T00:00:00.000+03:00") == true)
        #expect(try gateway.ticket(ticketID)?.comment == nil)
    }

    @Test func missMissFailedAttemptThenAnsweredAttemptResolvesTheCallback() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 31, version: 1, phones: ["89003330001"]))
        try gateway.publishCall(Fixtures.callEnded(callID: "f1", number: "89003330001", outcome: "missed"))
        try gateway.publishCall(Fixtures.callEnded(callID: "f2", number: "9003330001", outcome: "abandoned"))
        let needed = try (0..<2).map { _ in try gateway.nextEvent(ofType: "callback.needed") }
        #expect(needed.last?["missed_count"] as? Int == 2)
        let callbackID = try #require(needed.first?["callback_id"] as? String)

        try gateway.publishCall(Fixtures.callEnded(callID: "f3", number: "+79003330001", outcome: "missed", direction: "outbound",
                                                   operatorLogin: "op.sidorova"))
        let attempted = try gateway.nextEvent(ofType: "callback.attempted")
        #expect(attempted["callback_id"] as? String == callbackID)
        #expect(attempted["attempts"] as? Int == 1)
        #expect(attempted["operator"] as? String == "op.sidorova")
        let attemptTicketID = try #require(attempted["attempt_ticket_id"] as? String)
        let attemptTicket = try #require(try gateway.ticket(attemptTicketID))
        #expect(attemptTicket.kind == .attempt)
        #expect(attemptTicket.state == .saved)
        #expect(attemptTicket.author == "op.sidorova")
        #expect(attemptTicket.resolutions.map(\.title) == ["Позвонил — не дозвонился"])
        #expect(attemptTicket.subscriber?.rsID == 31)

        try gateway.publishCall(Fixtures.callAnswered(callID: "f4", number: "89003330001", operatorLogin: "op.sidorova", direction: "outbound"))
        let resolved = try gateway.nextEvent(ofType: "callback.resolved")
        #expect(resolved["callback_id"] as? String == callbackID)
        #expect(resolved["resolution"] as? String == "answered_outbound")
        #expect(resolved["resolved_by"] as? String == "op.sidorova")
        #expect(resolved["attempts"] as? Int == 1)
        #expect(resolved["missed_count"] as? Int == 2)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open'") == 0)
        // The conversation takes over the missed calls' draft: one ticket tells the story, and saving it
        // counts as a callback handled by the operator who called back.
        let callbackTicketID = try #require(needed.first?["ticket_id"] as? String)
        #expect(try gateway.count("SELECT COUNT(*) FROM calls WHERE call_id = 'f4' AND ticket_id = ?", [.text(callbackTicketID)]) == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 2)
        let taken = try #require(try gateway.ticket(callbackTicketID))
        #expect(taken.kind == .callback)
        #expect(taken.state == .draft)
        #expect(taken.author == "op.sidorova")
        #expect(taken.direction == .outbound)
        try gateway.publishCommand(Fixtures.save(ticketID: callbackTicketID, ["operator": "op.sidorova", "reasons": ["нет инета"],
                                                                              "resolutions": ["перезагрузил порт"]]))
        let saved = try #require(try gateway.nextEvent(ofType: "ticket.saved")["ticket"] as? [String: Any])
        #expect(saved["kind"] as? String == "callback")
        #expect(saved["author"] as? String == "op.sidorova")
        #expect(try gateway.events(during: 1).filter { $0.type == "callback.needed" || $0.type == "command.rejected" }.isEmpty)
    }

    @Test func anAnsweredOutboundCallToARequestedCallbackIsACallbackTicketOfTheOperator() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCommand(Fixtures.create(["contact_phones": ["89007000009"], "address": "г. Пермь, ул. Мира, 9",
                                                    "reasons": ["Попросил перезвонить"], "comment": "Специалист перезвонит", "save": true]))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        let callbackID = try #require(needed["callback_id"] as? String)
        try gateway.publishCall(Fixtures.callAnswered(callID: "r1", number: "89007000009", operatorLogin: "op.ivanov", direction: "outbound"))
        let drafted = try #require(try gateway.nextEvent(ofType: "ticket.drafted")["ticket"] as? [String: Any])
        #expect(drafted["kind"] as? String == "callback")
        #expect(drafted["author"] as? String == "op.ivanov")
        #expect(drafted["callback_id"] as? String == callbackID)
        #expect(try gateway.nextEvent(ofType: "callback.resolved")["resolution"] as? String == "answered_outbound")
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 2)
    }

    @Test func anAnsweredInboundCallFromTheNumberResolvesItsCallback() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "i1", number: "89004440001", outcome: "busy"))
        _ = try gateway.nextEvent(ofType: "callback.needed")
        try gateway.publishCall(Fixtures.callEnded(callID: "i2", number: "89004440001", outcome: "answered", operatorLogin: "op.ivanov"))
        let resolved = try gateway.nextEvent(ofType: "callback.resolved")
        #expect(resolved["resolution"] as? String == "answered_inbound")
        #expect(resolved["resolved_by"] as? String == "op.ivanov")
        // The subscriber got through: the missed call's draft becomes the operator's answered-call draft.
        let ticketID = try #require(resolved["ticket_id"] as? String)
        let ticket = try #require(try gateway.ticket(ticketID))
        #expect(ticket.kind == .call)
        #expect(ticket.author == "op.ivanov")
        #expect(ticket.source?.title == "Входящий звонок")
        #expect(ticket.reasons.isEmpty)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 1)
    }

    @Test func anUnansweredOutboundCallToANumberWithoutACallbackChangesNothing() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "o1", number: "89005550009", outcome: "busy", direction: "outbound", operatorLogin: "op.a"))
        try gateway.publishCall(Fixtures.callEnded(callID: "o2", number: "89005550010", outcome: "missed"))
        _ = try gateway.nextEvent(ofType: "callback.needed")
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM calls WHERE call_id = 'o1' AND decision = 'unanswered_outbound'") == 1)
    }

    @Test func anOpenCallbackOlderThanTheLimitEmitsCallbackOverdueOnce() throws {
        let gateway = try TestGateway { $0.callbackOverdueSeconds = 60 }
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "late", number: "89006660001", outcome: "missed",
                                                   endedAt: RFC3339.format(Date().addingTimeInterval(-120), in: .gmt)))
        try gateway.publishCall(Fixtures.callEnded(callID: "fresh", number: "89006660002", outcome: "missed",
                                                   endedAt: RFC3339.format(Date(), in: .gmt)))
        let overdue = try gateway.nextEvent(ofType: "callback.overdue")
        #expect(overdue["phone"] as? String == "+79006660001")
        let later = try gateway.events(during: 2.5)
        #expect(later.filter { $0.type == "callback.overdue" }.isEmpty)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE overdue_at_ms IS NOT NULL") == 1)
    }

    @Test func anEditWithCallbackDoneClosesTheTicketsCallback() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCommand(Fixtures.create(["contact_phones": ["89007000001"], "address": "г. Пермь, ул. Мира, 1",
                                                    "reasons": ["Попросил перезвонить"], "comment": "Вопрос по тарифу", "save": true]))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        let ticketID = try #require(needed["ticket_id"] as? String)
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, operatorLogin: "op.ivanov", via: "callback_list",
                                                 changes: ["resolutions": ["перезвонил"]], callbackDone: true))
        _ = try gateway.nextEvent(ofType: "ticket.edited")
        let resolved = try gateway.nextEvent(ofType: "callback.resolved")
        #expect(resolved["resolved_by"] as? String == "op.ivanov")
        #expect(resolved["resolution"] as? String == "operator_done")
    }

    @Test func anEditThatAddsTheCallbackReasonOpensACallbackAndCallbackDoneIsInTheRevision() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCommand(Fixtures.create(["contact_phones": ["89007000011"], "address": "г. Пермь, ул. Мира, 11",
                                                    "reasons": ["нет инета"], "comment": "Нет связи с утра", "save": true]))
        let ticketID = try #require((try gateway.nextEvent(ofType: "ticket.saved")["ticket"] as? [String: Any])?["ticket_id"] as? String)
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, operatorLogin: "op.ivanov", via: "rs_card",
                                                 changes: ["reasons": ["нет инета", "Попросил перезвонить"]]))
        let edited = try gateway.nextEvent(ofType: "ticket.edited")
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        let callbackID = try #require(needed["callback_id"] as? String)
        #expect(needed["ticket_id"] as? String == ticketID)
        let changes = try #require((edited["revision"] as? [String: Any])?["changes"] as? [[String: Any]])
        #expect(changes.map { $0["field"] as? String } == ["reasons", "callback"])
        #expect(changes.last?["to"] as? String == callbackID)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open' AND ticket_id = ?", [.text(ticketID)]) == 1)

        // While the callback is open, an edit may not blank what is needed to call back.
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, operatorLogin: "op.ivanov", via: "callback_list", changes: ["comment": " "]))
        #expect(try gateway.nextEvent(ofType: "command.rejected")["code"] as? String == "callback_incomplete")
        #expect(try gateway.ticket(ticketID)?.comment == "Нет связи с утра")

        // Marking it done with no other change keeps a revision saying so.
        try gateway.publishCommand(Fixtures.edit(ticketID: ticketID, operatorLogin: "op.ivanov", via: "callback_list", changes: [:],
                                                 callbackDone: true))
        let done = try gateway.nextEvent(ofType: "ticket.edited")
        let doneChanges = try #require((done["revision"] as? [String: Any])?["changes"] as? [[String: Any]])
        #expect(doneChanges.count == 1)
        #expect(doneChanges.first?["field"] as? String == "callback")
        #expect(doneChanges.first?["from"] as? String == "open")
        #expect(doneChanges.first?["to"] as? String == "done")
        #expect(try gateway.nextEvent(ofType: "callback.resolved")["resolution"] as? String == "operator_done")
    }
}
