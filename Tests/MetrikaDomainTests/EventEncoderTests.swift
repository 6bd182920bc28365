import ContractSupport
import Foundation
import Testing
@testable import MetrikaDomain

@Suite("Outbound events are encoded as the contracts describe them")
struct EventEncoderTests {
    let encoder = EventEncoder(zone: Fixture.moscow)
    let desk: TicketDesk
    let createdAt = Date(timeIntervalSince1970: 1_796_281_812) // 2026-12-03T10:10:12+03:00
    let savedAt = Date(timeIntervalSince1970: 1_796_282_045)   // 2026-12-03T10:14:05+03:00
    let firstMissed = Date(timeIntervalSince1970: 1_796_280_723) // 2026-12-03T09:52:03+03:00
    let lastMissed = Date(timeIntervalSince1970: 1_796_281_241)  // 2026-12-03T10:00:41+03:00

    init() throws {
        desk = TicketDesk(catalog: try Fixture.defaultCatalog(), plan: Fixture.ru, zone: Fixture.moscow)
    }

    func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func savedTicket() throws -> Ticket {
        var ticket = desk.callDraft(id: "5a20e76f-b0d8-436f-b663-5b647edcc43a", callID: "1764749400.1057", direction: .inbound,
                                    operatorLogin: "op.petrova", phone: try Fixture.phone("+79000001122"),
                                    match: .one(try Fixture.ivanova()), at: createdAt)
        try desk.save(&ticket, command: TicketSaveCommand(
            commandID: "65e6ced7-5c55-4e03-b5d2-f737bbe6aecb", ticketID: ticket.ticketID, operatorLogin: "op.petrova",
            contactPhones: nil, source: nil, reasons: ["Нет интернета", "Попросил перезвонить"],
            resolutions: ["Передано специалисту"], comment: "Нужен выезд монтажника, \"срочно\"\n/после 18:00/",
            address: nil, callbackDone: false), phones: nil, at: savedAt)
        ticket.callbackID = "e343a86e-e984-405e-9bd5-f8eca623164f"
        return ticket
    }

    func missedCallback() -> Callback {
        var callback = Callback(callbackID: "d4a987d6-743d-4747-ae56-087b9cba94cd", ticketID: "9c3c8ea8-0658-4890-b20b-a96d72eacfa8",
                                phone: "+79000001122", origin: .missedCall, openedAt: firstMissed, missedAt: firstMissed)
        callback.recordMissedCall(at: lastMissed)
        return callback
    }

    func matchedFill() throws -> SubscriberFill {
        SubscriberFill(.one(try Fixture.ivanova()), at: lastMissed, in: Fixture.moscow)
    }

    @Test("The same event encodes to the same bytes every time")
    func encodingIsDeterministic() throws {
        let events: [GatewayEvent] = [
            .ticketSaved(try savedTicket()),
            .callbackNeeded(missedCallback(), try matchedFill()),
            .commandRejected(commandID: "c1", commandType: "ticket.save", operatorLogin: "op.petrova",
                             CommandRejection(.reasonRequired, "нужна причина")),
        ]
        for event in events {
            let first = encoder.encode(event, eventID: "08177ce1-67db-4cd4-ae85-0a56b34a7cd9", occurredAt: savedAt)
            let second = encoder.encode(event, eventID: "08177ce1-67db-4cd4-ae85-0a56b34a7cd9", occurredAt: savedAt)
            #expect(first == second)
        }
    }

    @Test("Every event carries the envelope with occurred_at in the company's zone", arguments: [
        ("Europe/Moscow", "2026-12-03T10:14:05.000+03:00"),
        ("Asia/Vladivostok", "2026-12-03T17:14:05.000+10:00"),
        ("UTC", "2026-12-03T07:14:05.000+00:00"),
    ])
    func envelope(zone: String, occurredAt: String) throws {
        let encoder = EventEncoder(zone: try #require(TimeZone(identifier: zone)))
        let json = try object(encoder.encode(.ticketSaved(try savedTicket()), eventID: "08177ce1-67db-4cd4-ae85-0a56b34a7cd9",
                                             occurredAt: savedAt))
        #expect(json["event_id"] as? String == "08177ce1-67db-4cd4-ae85-0a56b34a7cd9")
        #expect(json["type"] as? String == "ticket.saved")
        #expect(json["occurred_at"] as? String == occurredAt)
        #expect(json["schema_version"] as? Int == 1)
    }

    @Test("callback.needed carries the number, the missed calls and the subscriber snapshot")
    func callbackNeeded() throws {
        let json = try object(encoder.encode(.callbackNeeded(missedCallback(), try matchedFill()),
                                             eventID: "9f0f967d-36ab-4b7e-bd55-d58192c6d48a", occurredAt: lastMissed))
        #expect(json["type"] as? String == "callback.needed")
        #expect(json["occurred_at"] as? String == "2026-12-03T10:00:41.000+03:00")
        #expect(json["callback_id"] as? String == "d4a987d6-743d-4747-ae56-087b9cba94cd")
        #expect(json["ticket_id"] as? String == "9c3c8ea8-0658-4890-b20b-a96d72eacfa8")
        #expect(json["phone"] as? String == "+79000001122")
        #expect(json["origin"] as? String == "missed_call")
        #expect(json["missed_count"] as? Int == 2)
        #expect(json["first_missed_at"] as? String == "2026-12-03T09:52:03.000+03:00")
        #expect(json["last_missed_at"] as? String == "2026-12-03T10:00:41.000+03:00")
        #expect(json["match"] as? String == "matched")
        #expect((json["candidates"] as? [Any])?.isEmpty == true)
        let subscriber = try #require(json["subscriber"] as? [String: Any])
        #expect(subscriber["rs_id"] as? Int == 100234)
        #expect(subscriber["contract_no"] as? String == "Д-2019/4471")
        #expect(subscriber["full_name"] as? String == "Иванова Анна Сергеевна")
        #expect(subscriber["address"] as? String == "г. Пермь, ул. Ленина, д. 10, кв. 5")
        #expect(subscriber["tariff_name"] as? String == "Домашний 500")
        #expect(subscriber["tariff_since"] as? String == "2026-03-01")
        #expect(subscriber["days_on_tariff"] as? Int == 277)
        #expect(subscriber["switch"] as? String == "sw-perm-len10-2")
        #expect(subscriber["status"] as? String == "active")
        #expect(json["opened_at"] as? String == "2026-12-03T09:52:03.000+03:00")
        #expect(json["attempts"] as? Int == 0)
        #expect(Set(json.keys) == ["event_id", "type", "occurred_at", "schema_version", "callback_id", "ticket_id", "phone",
                                   "origin", "missed_count", "first_missed_at", "last_missed_at", "match", "subscriber",
                                   "candidates", "opened_at", "attempts"])
    }

    @Test("callback.needed for a shared number lists the candidates and no subscriber")
    func callbackNeededAmbiguous() throws {
        let fill = SubscriberFill(.several([try Fixture.ivanova(), try Fixture.ivanov()]), at: lastMissed, in: Fixture.moscow)
        let json = try object(encoder.encode(.callbackNeeded(missedCallback(), fill),
                                             eventID: "9f0f967d-36ab-4b7e-bd55-d58192c6d48a", occurredAt: lastMissed))
        #expect(json["match"] as? String == "ambiguous")
        #expect(json["subscriber"] is NSNull)
        let candidates = try #require(json["candidates"] as? [[String: Any]])
        #expect(candidates.compactMap { $0["rs_id"] as? Int } == [100234, 100871])
        #expect(candidates.compactMap { $0["days_on_tariff"] as? Int } == [277, 1632])
    }

    @Test("A requested callback without missed calls writes nulls for the missed times")
    func requestedCallbackHasNullTimes() throws {
        let callback = Callback(callbackID: "cb", ticketID: "t", phone: "+79000001122", origin: .requested,
                                openedAt: savedAt, missedAt: nil)
        let fill = SubscriberFill(.none, at: savedAt, in: Fixture.moscow)
        let json = try object(encoder.encode(.callbackNeeded(callback, fill), eventID: "9f0f967d-36ab-4b7e-bd55-d58192c6d48a",
                                             occurredAt: savedAt))
        #expect(json["origin"] as? String == "requested")
        #expect(json["missed_count"] as? Int == 0)
        #expect(json["first_missed_at"] is NSNull)
        #expect(json["last_missed_at"] is NSNull)
        #expect(json["match"] as? String == "unmatched")
        #expect(json["subscriber"] is NSNull)
    }

    @Test("ticket.saved carries the whole ticket with times in the company's zone")
    func ticketSaved() throws {
        let json = try object(encoder.encode(.ticketSaved(try savedTicket()), eventID: "08177ce1-67db-4cd4-ae85-0a56b34a7cd9",
                                             occurredAt: savedAt))
        let ticket = try #require(json["ticket"] as? [String: Any])
        #expect(ticket["ticket_id"] as? String == "5a20e76f-b0d8-436f-b663-5b647edcc43a")
        #expect(ticket["state"] as? String == "saved")
        #expect(ticket["kind"] as? String == "call")
        #expect(ticket["author"] as? String == "op.petrova")
        #expect(ticket["created_at"] as? String == "2026-12-03T10:10:12.000+03:00")
        #expect(ticket["saved_at"] as? String == "2026-12-03T10:14:05.000+03:00")
        #expect(ticket["direction"] as? String == "inbound")
        #expect(ticket["contact_phones"] as? [String] == ["+79000001122"])
        #expect((ticket["source"] as? [String: String]) == ["code": "incoming_call", "title": "Входящий звонок"])
        #expect((ticket["reasons"] as? [[String: String]]) == [["code": "no_internet", "title": "Нет интернета"],
                                                               ["code": "callback_requested", "title": "Попросил перезвонить"]])
        #expect(ticket["task"] is NSNull)
        #expect(ticket["comment"] as? String == "Нужен выезд монтажника, \"срочно\"\n/после 18:00/")
        #expect(ticket["callback_id"] as? String == "e343a86e-e984-405e-9bd5-f8eca623164f")
        #expect((ticket["subscriber"] as? [String: Any])?["days_on_tariff"] as? Int == 277)
    }

    @Test("A ticket survives encoding and decoding unchanged")
    func ticketRoundTrips() throws {
        let ticket = try savedTicket()
        let jsonEncoder = JSONEncoder()
        jsonEncoder.userInfo[.timeZone] = Fixture.moscow
        let decoded = try JSONDecoder().decode(Ticket.self, from: jsonEncoder.encode(ticket))
        #expect(decoded == ticket)
    }

    @Test("command.rejected carries the command, the stable code and the message")
    func commandRejected() throws {
        let data = encoder.encode(.commandRejected(commandID: nil, commandType: "ticket.save", operatorLogin: nil,
                                                   CommandRejection(.unknownCatalogEntry, "нет такой причины")),
                                  eventID: "5bee54f5-8da0-45a6-86f1-b9d2e0fe95be", occurredAt: savedAt)
        #expect(String(decoding: data, as: UTF8.self) ==
            #"{"code":"unknown_catalog_entry","command_id":null,"command_type":"ticket.save","event_id":"5bee54f5-8da0-45a6-86f1-b9d2e0fe95be","#
            + #""message":"нет такой причины","occurred_at":"2026-12-03T10:14:05.000+03:00","operator":null,"schema_version":1,"#
            + #""type":"command.rejected"}"#)
    }

    @Test("An accepted command's reply names the ticket and has no code")
    func acceptedReply() throws {
        let data = encoder.encode(CommandReply(commandID: "65e6ced7-5c55-4e03-b5d2-f737bbe6aecb", rejection: nil,
                                               ticketID: "5a20e76f-b0d8-436f-b663-5b647edcc43a"),
                                  eventID: "0f0e38c5-734c-4042-bf1d-1b0cc57af87b", occurredAt: savedAt)
        #expect(String(decoding: data, as: UTF8.self) ==
            #"{"code":null,"command_id":"65e6ced7-5c55-4e03-b5d2-f737bbe6aecb","event_id":"0f0e38c5-734c-4042-bf1d-1b0cc57af87b","#
            + #""message":null,"occurred_at":"2026-12-03T10:14:05.000+03:00","schema_version":1,"status":"accepted","#
            + #""ticket_id":"5a20e76f-b0d8-436f-b663-5b647edcc43a","type":"command.reply"}"#)
    }

    @Test("A rejected command's reply carries the code and message")
    func rejectedReply() throws {
        let json = try object(encoder.encode(CommandReply(commandID: "c1", rejection: CommandRejection(.reasonRequired, "нужна причина"),
                                                          ticketID: nil),
                                             eventID: "0f0e38c5-734c-4042-bf1d-1b0cc57af87b", occurredAt: savedAt))
        #expect(json["type"] as? String == "command.reply")
        #expect(json["status"] as? String == "rejected")
        #expect(json["code"] as? String == "reason_required")
        #expect(json["message"] as? String == "нужна причина")
        #expect(json["ticket_id"] is NSNull)
    }

    @Test("callback.attempted names the callback, the attempt's ticket and the operator")
    func callbackAttempted() throws {
        var callback = missedCallback()
        callback.recordFailedAttempt()
        let attempt = desk.failedAttemptTicket(id: "e2a1f0b3-6c5d-4e7f-8a9b-0c1d2e3f4a05", callID: "c10", operatorLogin: "op.petrova",
                                               phone: try Fixture.phone("+79000001122"), match: .none,
                                               callbackID: callback.callbackID, at: savedAt)
        let data = encoder.encode(.callbackAttempted(callback, attempt), eventID: "7d2c9a10-1b2c-4d3e-8f40-5a6b7c8d9e02",
                                  occurredAt: savedAt)
        #expect(String(decoding: data, as: UTF8.self) ==
            #"{"attempt_ticket_id":"e2a1f0b3-6c5d-4e7f-8a9b-0c1d2e3f4a05","attempts":1,"#
            + #""callback_id":"d4a987d6-743d-4747-ae56-087b9cba94cd","event_id":"7d2c9a10-1b2c-4d3e-8f40-5a6b7c8d9e02","#
            + #""missed_count":2,"occurred_at":"2026-12-03T10:14:05.000+03:00","operator":"op.petrova","phone":"+79000001122","#
            + #""schema_version":1,"ticket_id":"9c3c8ea8-0658-4890-b20b-a96d72eacfa8","type":"callback.attempted"}"#)
    }

    @Test("ticket.edited carries the ticket and the revision with each change's old and new value")
    func ticketEdited() throws {
        let revision = TicketRevision(operatorLogin: "op.petrova", via: .myTickets, editedAt: savedAt.addingTimeInterval(3600),
                                      commandID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c07",
                                      changes: [FieldChange(field: "comment", from: .text(nil), to: .text("Уточнил адрес"))])
        let json = try object(encoder.encode(.ticketEdited(try savedTicket(), revision),
                                             eventID: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c06", occurredAt: savedAt))
        #expect(json["type"] as? String == "ticket.edited")
        #expect((json["ticket"] as? [String: Any])?["ticket_id"] as? String == "5a20e76f-b0d8-436f-b663-5b647edcc43a")
        let encoded = try #require(json["revision"] as? [String: Any])
        #expect(encoded["operator"] as? String == "op.petrova")
        #expect(encoded["via"] as? String == "my_tickets")
        #expect(encoded["edited_at"] as? String == "2026-12-03T11:14:05.000+03:00")
        #expect(encoded["command_id"] as? String == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c07")
        let change = try #require((encoded["changes"] as? [[String: Any]])?.first)
        #expect(change["field"] as? String == "comment")
        #expect(change["from"] is NSNull)
        #expect(change["to"] as? String == "Уточнил адрес")
    }

    @Test("Strings are escaped as JSON: quotes, backslashes and control characters")
    func stringEscaping() {
        var out = ""
        JSONString.append("a\"b\\c\nd\re\tf\u{0001}g/ё", to: &out)
        #expect(out == #""a\"b\\c\nd\re\tf\u0001g/ё""#)
    }

    // MARK: - Contracts

    /// One of every event the gateway emits, in the states that change its shape.
    func everyKindOfEvent() throws -> [Data] {
        let ivanova = try Fixture.ivanova()
        let phone = try Fixture.phone("+79000001122")
        let matched = desk.callDraft(id: "5a20e76f-b0d8-436f-b663-5b647edcc43a", callID: "1764749400.1057", direction: .inbound,
                                     operatorLogin: "op.petrova", phone: phone, match: .one(ivanova), at: createdAt)
        let ambiguous = desk.callDraft(id: "2f1f61cb-0330-4eb2-86ac-29b644aa7cdd", callID: "c2", direction: .outbound,
                                       operatorLogin: "op.sidorov", phone: try Fixture.phone("+73422001122"),
                                       match: DirectoryMatch([try Fixture.ivanov(), ivanova]), at: createdAt)
        let anonymous = desk.callDraft(id: "t-anon", callID: "c3", direction: .inbound, operatorLogin: nil, phone: nil,
                                       match: .none, at: createdAt)
        let missed = desk.missedCallTicket(id: "9c3c8ea8-0658-4890-b20b-a96d72eacfa8", callID: "1764748800.1042", phone: phone,
                                           match: .one(ivanova), at: lastMissed)
        let task = try desk.manualTicket(
            id: "t-task", command: TicketCreateCommand(commandID: "c9", operatorLogin: "op.petrova", via: .manual, rsID: nil,
                                                       source: nil, contactPhones: [], reasons: [], resolutions: [], comment: nil,
                                                       task: "сверка платежей", address: nil, save: true),
            phones: [], fill: .notApplicable, at: savedAt)
        let attempt = desk.failedAttemptTicket(id: "e2a1f0b3-6c5d-4e7f-8a9b-0c1d2e3f4a05", callID: "c10", operatorLogin: "op.petrova",
                                               phone: phone, match: .one(ivanova), callbackID: "d4a987d6-743d-4747-ae56-087b9cba94cd",
                                               at: savedAt)
        var attempted = missedCallback()
        attempted.recordFailedAttempt()
        var edited = try savedTicket()
        let changes = try desk.edit(&edited, command: TicketEditCommand(
            commandID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c07", ticketID: edited.ticketID, operatorLogin: "op.petrova",
            via: .myTickets, reasons: ["нет инета"], resolutions: ["Проконсультировал"], comment: "Уточнил адрес",
            contactPhones: nil, source: "исх", callbackDone: false),
                                    phones: try desk.phones(["83422001122"]), at: savedAt.addingTimeInterval(3600))
        let revision = TicketRevision(operatorLogin: "op.petrova", via: .myTickets, editedAt: savedAt.addingTimeInterval(3600),
                                      commandID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c07", changes: changes)
        var resolved = missedCallback()
        resolved.attempts = 1
        resolved.resolve(by: "op.petrova", how: .operatorDone, at: savedAt)
        let events: [GatewayEvent] = [
            .ticketDrafted(matched),
            .ticketDrafted(anonymous),
            .ticketDrafted(missed),
            .ticketAutofilled(ambiguous),
            .ticketSaved(try savedTicket()),
            .ticketSaved(task),
            .callbackNeeded(missedCallback(), try matchedFill()),
            .callbackNeeded(missedCallback(), SubscriberFill(.several([ivanova, try Fixture.ivanov()]), at: lastMissed, in: Fixture.moscow)),
            .callbackNeeded(Callback(callbackID: "cb", ticketID: "t", phone: "+79000001122", origin: .requested, openedAt: savedAt,
                                     missedAt: nil), SubscriberFill(.none, at: savedAt, in: Fixture.moscow)),
            .callbackResolved(resolved),
            .ticketSaved(attempt),
            .callbackAttempted(attempted, attempt),
            .callbackOverdue(missedCallback(), try matchedFill()),
            .ticketEdited(edited, revision),
            .commandRejected(commandID: "37109cf2-0ae5-453b-af2b-096488b0fc89", commandType: "ticket.save",
                             operatorLogin: "op.petrova", CommandRejection(.unknownCatalogEntry, "unknown reason 'x'")),
            .commandRejected(commandID: nil, commandType: nil, operatorLogin: nil, CommandRejection(.invalidCommand, "not JSON")),
        ]
        var documents = events.enumerated().map { index, event in
            encoder.encode(event, eventID: String(format: "00000000-0000-4000-8000-%012d", index), occurredAt: savedAt)
        }
        documents.append(encoder.encode(CommandReply(commandID: "c1", rejection: nil, ticketID: "t1"),
                                        eventID: "00000000-0000-4000-8000-000000000100", occurredAt: savedAt))
        documents.append(encoder.encode(CommandReply(commandID: "c2", rejection: CommandRejection(.ticketAlreadySaved, "saved"),
                                                     ticketID: nil),
                                        eventID: "00000000-0000-4000-8000-000000000101", occurredAt: savedAt))
        return documents
    }

    @Test("Every kind of event and reply writes its keys once each, in sorted order, at every level")
    func keysAreSorted() throws {
        func check(_ value: ParsedJSON, _ path: String) {
            switch value {
            case let .object(fields):
                let keys = fields.map(\.0)
                #expect(keys == keys.sorted(), "keys of \(path.isEmpty ? "the body" : path)")
                #expect(Set(keys).count == keys.count, "a key repeats in \(path)")
                for (key, child) in fields { check(child, path + "/" + key) }
            case let .array(items):
                for item in items { check(item, path + "[]") }
            default:
                break
            }
        }
        for document in try everyKindOfEvent() {
            check(try #require(ParsedJSON.parse([UInt8](document))), "")
        }
    }

    @Test("Every encoded event is valid against its JSON Schema in contracts/")
    func eventsMatchTheirSchemas() throws {
        let documents = try everyKindOfEvent()
        let types = try documents.map { try object($0)["type"] as? String }
        #expect(Set(types.compactMap { $0 }) == ["ticket.drafted", "ticket.autofilled", "ticket.saved", "callback.needed",
                                                  "callback.resolved", "callback.attempted", "callback.overdue",
                                                  "ticket.edited", "command.rejected", "command.reply"])
        let result = try SchemaValidator.validate(documents)
        #expect(result.status == 0, "validate.py: \(result.output)")
        #expect(result.output.isEmpty)
    }

    @Test("The schema check catches an event that breaks its contract")
    func schemaCheckCanFail() throws {
        let callback = Callback(callbackID: "cb", ticketID: "t", phone: "89000001122", origin: .missedCall,
                                openedAt: lastMissed, missedAt: lastMissed)
        let bad = encoder.encode(.callbackNeeded(callback, try matchedFill()), eventID: "9f0f967d-36ab-4b7e-bd55-d58192c6d48a",
                                 occurredAt: lastMissed)
        let result = try SchemaValidator.validate([bad])
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("line 1: $.phone: "))
    }
}

/// Runs `contracts/validate.py --by-type` on documents, one per line.
enum SchemaValidator {
    static func validate(_ documents: [Data]) throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: ContractValidator.python),
                     "\(ContractValidator.python) is needed to check events against the schemas")
        return try ContractValidator.validate(documents)
    }
}
