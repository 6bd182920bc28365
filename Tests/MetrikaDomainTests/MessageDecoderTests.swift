import Foundation
import Testing
@testable import MetrikaDomain

/// A contract example with one change applied, and the error it must produce.
struct BrokenMessage: Sendable, CustomTestStringConvertible {
    let testDescription: String
    let example: String
    let edit: @Sendable (inout [String: Any]) -> Void
    let kind: InboundError.Kind
    let message: String

    init(_ description: String, _ example: String, _ kind: InboundError.Kind, _ message: String,
         edit: @escaping @Sendable (inout [String: Any]) -> Void) {
        self.testDescription = description
        self.example = example
        self.edit = edit
        self.kind = kind
        self.message = message
    }

    func body() throws -> Data {
        try editedExample(example, edit)
    }
}

/// `contracts/examples/<name>.json` with `edit` applied to its JSON object.
func editedExample(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> Data {
    var object = try #require(try JSONSerialization.jsonObject(with: Fixture.example(name)) as? [String: Any])
    edit(&object)
    return try JSONSerialization.data(withJSONObject: object)
}

/// Replaces `key` inside the nested object at `path`.
private func setNested(_ object: inout [String: Any], _ path: [String], _ key: String, _ value: Any?) {
    guard let head = path.first else {
        object[key] = value
        return
    }
    var inner = object[head] as? [String: Any] ?? [:]
    setNested(&inner, Array(path.dropFirst()), key, value)
    object[head] = inner
}

@Suite("Inbound messages are decoded exactly as CONTRACTS.md describes them")
struct MessageDecoderTests {
    let decoder = MessageDecoder(plan: Fixture.ru)

    @Test("The subscriber.updated example decodes with phones normalised to E.164")
    func subscriberUpdatedExample() throws {
        let message = try decoder.decode(Fixture.example("subscriber.updated"))
        let expected = SubscriberUpdated(
            eventID: "0b9c5a52-5a0e-4a43-9d57-1f0e8d0c1a01",
            occurredAt: Date(timeIntervalSince1970: 1_795_155_300),
            version: 1739,
            subscriber: try Fixture.ivanova(),
            rawPhones: ["+7 (900) 000-11-22", "8 342 200-11-22"])
        #expect(message == .subscriberUpdated(expected))
        #expect(message.messageID == "0b9c5a52-5a0e-4a43-9d57-1f0e8d0c1a01")
        #expect(message.type == "subscriber.updated")
    }

    @Test("Phones that cannot be normalised or repeat are dropped but kept in the raw list")
    func subscriberPhonesAreFilteredAndDeduplicated() throws {
        let body = try editedExample("subscriber.updated") { object in
            setNested(&object, ["subscriber"], "phones", ["8 900 000-11-22", "анонимный", "+79000001122", "101"])
        }
        guard case let .subscriberUpdated(update) = try decoder.decode(body) else {
            Issue.record("expected subscriber.updated")
            return
        }
        #expect(update.subscriber.phones == [try Fixture.phone("+79000001122")])
        #expect(update.rawPhones == ["8 900 000-11-22", "анонимный", "+79000001122", "101"])
    }

    @Test("The call.ended example decodes a missed inbound call with no operator")
    func callEndedExample() throws {
        let message = try decoder.decode(Fixture.example("call.ended"))
        #expect(message == .callEnded(CallEnded(
            eventID: "5f1d7a0e-7c1b-4d8e-b0a4-000000000001", callID: "1764748800.1042", direction: .inbound,
            subscriberNumber: "89000001122", line: "+73422000000", operatorLogin: nil,
            startedAt: Date(timeIntervalSince1970: 1_796_281_200), answeredAt: nil,
            endedAt: Date(timeIntervalSince1970: 1_796_281_241), outcome: .missed)))
        #expect(message.type == "call.ended")
    }

    @Test("The call.answered example decodes with its operator")
    func callAnsweredExample() throws {
        let message = try decoder.decode(Fixture.example("call.answered"))
        #expect(message == .callAnswered(CallAnswered(
            eventID: "5f1d7a0e-7c1b-4d8e-b0a4-000000000002", callID: "1764749400.1057", direction: .inbound,
            subscriberNumber: "89000001122", line: "+73422000000", operatorLogin: "op.petrova",
            answeredAt: Date(timeIntervalSince1970: 1_796_281_812))))
        #expect(message.messageID == "5f1d7a0e-7c1b-4d8e-b0a4-000000000002")
    }

    @Test("The ticket.create example decodes as a saved create from the RS card")
    func ticketCreateExample() throws {
        let message = try decoder.decode(Fixture.example("ticket.create"))
        #expect(message == .ticketCreate(TicketCreateCommand(
            commandID: "c95bc260-4365-4d14-a840-021d99b651f8", operatorLogin: "op.petrova", via: .rsCard,
            rsID: 100234, source: "Входящий звонок", contactPhones: ["+79000001122"], reasons: ["нет инета"],
            resolutions: ["Проконсультировал"],
            comment: "Абонент сообщил, что пропал интернет; проверили линию, порт поднят.",
            task: nil, address: nil, save: true)))
        #expect(message.messageID == "c95bc260-4365-4d14-a840-021d99b651f8")
        #expect(message.type == "ticket.create")
    }

    @Test("A minimal ticket.create defaults to the manual form, no lists and no save")
    func minimalTicketCreate() throws {
        let body = Data(#"{"command_id":"c1","type":"ticket.create","operator":"op.sidorov"}"#.utf8)
        #expect(try decoder.decode(body) == .ticketCreate(TicketCreateCommand(
            commandID: "c1", operatorLogin: "op.sidorov", via: .manual, rsID: nil, source: nil, contactPhones: [],
            reasons: [], resolutions: [], comment: nil, task: nil, address: nil, save: false)))
    }

    @Test("The ticket.save example decodes without closing a callback")
    func ticketSaveExample() throws {
        let message = try decoder.decode(Fixture.example("ticket.save"))
        #expect(message == .ticketSave(TicketSaveCommand(
            commandID: "65e6ced7-5c55-4e03-b5d2-f737bbe6aecb", ticketID: "5a20e76f-b0d8-436f-b663-5b647edcc43a",
            operatorLogin: "op.petrova", contactPhones: ["+79000001122"], source: "Входящий звонок",
            reasons: ["Нет интернета", "Попросил перезвонить"], resolutions: ["Передано специалисту"],
            comment: "Нужен выезд монтажника, перезвонить после 18:00.", address: nil, callbackDone: false)))
        #expect(message.type == "ticket.save")
    }

    @Test("A ticket.save with callback done records that the callback was handled")
    func ticketSaveCallbackDone() throws {
        let body = try editedExample("ticket.save") { $0["callback"] = "done" }
        guard case let .ticketSave(command) = try decoder.decode(body) else {
            Issue.record("expected ticket.save")
            return
        }
        #expect(command.callbackDone)
    }

    @Test("The ticket.edit example decodes its changes")
    func ticketEditExample() throws {
        let message = try decoder.decode(Fixture.example("ticket.edit"))
        #expect(message == .ticketEdit(TicketEditCommand(
            commandID: "eea95d1c-c391-40a6-b3e3-3ef80110c484", ticketID: "5a20e76f-b0d8-436f-b663-5b647edcc43a",
            operatorLogin: "op.petrova", via: .myTickets, reasons: ["Нет интернета"],
            resolutions: ["Передано специалисту", "Проконсультировал"],
            comment: "Перезвонили, монтажник назначен на 04.12.",
            contactPhones: ["+79000001122", "83422001122"], source: "Входящий звонок", callbackDone: false)))
        #expect(message.type == "ticket.edit")
    }

    @Test("Unknown extra fields are ignored, at the top level and nested")
    func unknownFieldsAreIgnored() throws {
        let body = try editedExample("subscriber.updated") { object in
            object["priority"] = "high"
            object["trace"] = ["span": 7]
            setNested(&object, ["subscriber"], "email", "anna@example.ru")
            setNested(&object, ["subscriber", "tariff"], "price", 500)
        }
        #expect(try decoder.decode(body) == decoder.decode(Fixture.example("subscriber.updated")))
    }

    @Test("A call.ended with operator null is accepted")
    func operatorNullIsAccepted() throws {
        let body = try editedExample("call.ended") { $0["operator"] = NSNull() }
        guard case let .callEnded(call) = try decoder.decode(body) else {
            Issue.record("expected call.ended")
            return
        }
        #expect(call.operatorLogin == nil)
    }

    @Test("A comment may hold line breaks and tabs")
    func commentMayHoldLineBreaks() throws {
        let body = try editedExample("ticket.save") {
            $0["comment"] = "строка 1\nстрока 2\r\n\tитог"
        }
        guard case let .ticketSave(command) = try decoder.decode(body) else {
            Issue.record("expected ticket.save")
            return
        }
        #expect(command.comment == "строка 1\nстрока 2\r\n\tитог")
    }

    @Test("An AMQP message_id equal to the body id is accepted, and an empty one is ignored", arguments: [
        "5f1d7a0e-7c1b-4d8e-b0a4-000000000001", "",
    ])
    func matchingMessageIDIsAccepted(amqpMessageID: String) throws {
        let message = try decoder.decode(Fixture.example("call.ended"), amqpMessageID: amqpMessageID)
        #expect(message.messageID == "5f1d7a0e-7c1b-4d8e-b0a4-000000000001")
    }

    @Test("An AMQP message_id that differs from the body id is refused")
    func differentMessageIDIsRefused() throws {
        let error = try #require(throws: InboundError.self) {
            try decoder.decode(Fixture.example("call.ended"), amqpMessageID: "5f1d7a0e-7c1b-4d8e-b0a4-000000000009")
        }
        #expect(error == InboundError(.messageIDMismatch,
            "AMQP message_id '5f1d7a0e-7c1b-4d8e-b0a4-000000000009' differs from body id '5f1d7a0e-7c1b-4d8e-b0a4-000000000001'"))
        #expect(error.description == "message_id_mismatch: " + error.message)
    }

    @Test("Bodies that are not a JSON object are refused with the class that says why", arguments: [
        ("empty", Data(), InboundError(.emptyBody, "the body is empty")),
        ("plain text", Data("hello".utf8), InboundError(.notJSON, "the body is not a valid UTF-8 JSON object")),
        ("truncated JSON", Data(#"{"type":"call.ended","#.utf8), InboundError(.notJSON, "the body is not a valid UTF-8 JSON object")),
        ("invalid UTF-8", Data([0x7B, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0xFF, 0x22, 0x7D]),
         InboundError(.notJSON, "the body is not a valid UTF-8 JSON object")),
        ("JSON array", Data(#"[{"type":"call.ended"}]"#.utf8), InboundError(.invalidMessage, "the body must be a JSON object")),
        ("JSON string", Data(#""call.ended""#.utf8), InboundError(.invalidMessage, "the body must be a JSON object")),
        ("no type", Data(#"{"event_id":"e1"}"#.utf8), InboundError(.invalidMessage, "missing required field 'type'")),
        ("numeric type", Data(#"{"type":7}"#.utf8), InboundError(.invalidMessage, "field 'type' has the wrong type (expected string)")),
        ("unknown type", Data(#"{"type":"call.transferred","event_id":"e1"}"#.utf8),
         InboundError(.unknownType, "unknown message type 'call.transferred'")),
    ] as [(String, Data, InboundError)])
    func malformedBodies(what: String, body: Data, expected: InboundError) {
        #expect(throws: expected) { try decoder.decode(body) }
    }

    @Test("A body over the size limit is refused before it is parsed")
    func bodyOverTheLimit() throws {
        var limits = InputLimits()
        limits.maxBodyBytes = 100
        let small = MessageDecoder(plan: Fixture.ru, limits: limits)
        let body = Data(repeating: UInt8(ascii: " "), count: 101)
        #expect(throws: InboundError(.bodyTooLarge, "the body has 101 bytes; the limit is 100")) { try small.decode(body) }
        let exactly = Data((#"{"type":"x"}"# + String(repeating: " ", count: 88)).utf8)
        #expect(throws: InboundError(.unknownType, "unknown message type 'x'")) { try small.decode(exactly) }
    }

    @Test("The default size limit is 64 KiB")
    func defaultSizeLimit() {
        let body = Data(repeating: UInt8(ascii: " "), count: 65_537)
        #expect(throws: InboundError(.bodyTooLarge, "the body has 65537 bytes; the limit is 65536")) { try decoder.decode(body) }
    }

    static let broken: [BrokenMessage] = [
        BrokenMessage("missing event_id", "call.ended", .invalidMessage, "missing required field 'event_id'") {
            $0["event_id"] = nil
        },
        BrokenMessage("null event_id", "call.ended", .invalidMessage, "field 'event_id' must not be null") {
            $0["event_id"] = NSNull()
        },
        BrokenMessage("empty event_id", "call.ended", .invalidMessage, "field 'event_id': must not be empty") {
            $0["event_id"] = ""
        },
        BrokenMessage("empty command_id", "ticket.save", .invalidMessage, "field 'command_id': must not be empty") {
            $0["command_id"] = ""
        },
        BrokenMessage("missing tariff since", "subscriber.updated", .invalidMessage,
                      "missing required field 'subscriber.tariff.since'") {
            setNested(&$0, ["subscriber", "tariff"], "since", nil)
        },
        BrokenMessage("impossible tariff since", "subscriber.updated", .invalidMessage,
                      "field 'subscriber.tariff.since': '2026-02-30' is not a YYYY-MM-DD date") {
            setNested(&$0, ["subscriber", "tariff"], "since", "2026-02-30")
        },
        BrokenMessage("version as a string", "subscriber.updated", .invalidMessage,
                      "field 'version' has the wrong type (expected integer)") {
            $0["version"] = "1739"
        },
        BrokenMessage("negative version", "subscriber.updated", .invalidMessage, "field 'version': must not be negative") {
            $0["version"] = -1
        },
        BrokenMessage("rs_id as a string", "subscriber.updated", .invalidMessage,
                      "field 'subscriber.rs_id' has the wrong type (expected integer)") {
            setNested(&$0, ["subscriber"], "rs_id", "100234")
        },
        BrokenMessage("phone as a number", "subscriber.updated", .invalidMessage,
                      "field 'subscriber.phones[1]' has the wrong type (expected string)") {
            setNested(&$0, ["subscriber"], "phones", ["+79000001122", 83422001122])
        },
        BrokenMessage("unknown status", "subscriber.updated", .invalidMessage, "field 'subscriber.status': 'deleted' is not one of active, suspended, terminated") {
            setNested(&$0, ["subscriber"], "status", "deleted")
        },
        BrokenMessage("control character in a name", "subscriber.updated", .invalidMessage,
                      "field 'subscriber.full_name': contains control characters") {
            setNested(&$0, ["subscriber"], "full_name", "Иванова\u{0007} Анна")
        },
        BrokenMessage("DEL in an address", "subscriber.updated", .invalidMessage,
                      "field 'subscriber.address': contains control characters") {
            setNested(&$0, ["subscriber"], "address", "г. Пермь\u{007F}")
        },
        BrokenMessage("operator absent", "call.ended", .invalidMessage, "missing required field 'operator'") {
            $0["operator"] = nil
        },
        BrokenMessage("answered_at absent", "call.ended", .invalidMessage, "missing required field 'answered_at'") {
            $0["answered_at"] = nil
        },
        BrokenMessage("timestamp without offset", "call.ended", .invalidMessage,
                      "field 'ended_at': '2026-12-03T10:00:41' is not an RFC 3339 timestamp with an offset") {
            $0["ended_at"] = "2026-12-03T10:00:41"
        },
        BrokenMessage("offset without colon", "call.answered", .invalidMessage,
                      "field 'answered_at': '2026-12-03T10:10:12+0300' is not an RFC 3339 timestamp with an offset") {
            $0["answered_at"] = "2026-12-03T10:10:12+0300"
        },
        BrokenMessage("numeric timestamp", "call.answered", .invalidMessage,
                      "field 'answered_at' has the wrong type (expected string)") {
            $0["answered_at"] = 1_796_281_812
        },
        BrokenMessage("unknown outcome", "call.ended", .invalidMessage, "field 'outcome': 'dropped' is not one of answered, missed, busy, abandoned, failed") {
            $0["outcome"] = "dropped"
        },
        BrokenMessage("over-long call_id", "call.ended", .invalidMessage,
                      "field 'call_id': is 129 characters long; the limit is 128") {
            $0["call_id"] = String(repeating: "7", count: 129)
        },
        BrokenMessage("over-long comment", "ticket.save", .invalidMessage,
                      "field 'comment': is 4001 characters long; the limit is 4000") {
            $0["comment"] = String(repeating: "ж", count: 4001)
        },
        BrokenMessage("too many reasons", "ticket.save", .invalidMessage,
                      "field 'reasons': has 51 entries; the limit is 50") {
            $0["reasons"] = Array(repeating: "Нет интернета", count: 51)
        },
        BrokenMessage("control character in a nested change", "ticket.edit", .invalidMessage,
                      "field 'changes.comment': contains control characters") {
            setNested(&$0, ["changes"], "comment", "abc\u{0000}def")
        },
        BrokenMessage("changes absent", "ticket.edit", .invalidMessage, "missing required field 'changes'") {
            $0["changes"] = nil
        },
        BrokenMessage("unknown via", "ticket.edit", .invalidMessage, "field 'via': 'phone' is not one of rs_card, my_tickets, callback_list, manual") {
            $0["via"] = "phone"
        },
        BrokenMessage("callback neither done nor null", "ticket.save", .invalidMessage,
                      #"field 'callback': must be "done" or null"#) {
            $0["callback"] = "later"
        },
        BrokenMessage("save as a string", "ticket.create", .invalidMessage,
                      "field 'save' has the wrong type (expected boolean)") {
            $0["save"] = "true"
        },
        BrokenMessage("operator missing from a command", "ticket.create", .invalidMessage,
                      "missing required field 'operator'") {
            $0["operator"] = nil
        },
    ]

    @Test("Messages that break the contract are refused with a message naming the field", arguments: broken)
    func brokenMessages(broken: BrokenMessage) throws {
        let body = try broken.body()
        let error = try #require(throws: InboundError.self) { try decoder.decode(body) }
        #expect(error == InboundError(broken.kind, broken.message))
    }
}
