import Foundation
import MetrikaAMQP
import MetrikaDomain
import MetrikaStore
import MetrikaTestSupport
import Testing

/// End-to-end behaviour against the real RabbitMQ and a real SQLite file.
@Suite(.serialized)
struct GatewayFlowTests {
    @Test func aMissedCallFromAKnownNumberOpensACallbackWithTheSubscribersDetails() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 100234, version: 1739, phones: ["+7 (900) 000-11-22", "8 342 200-11-22"]))
        try gateway.publishCall(Fixtures.callEnded(callID: "1764748800.1042", number: "89000001122", outcome: "missed"))

        let needed = try gateway.nextEvent(ofType: "callback.needed")
        #expect(needed["phone"] as? String == "+79000001122")
        #expect(needed["missed_count"] as? Int == 1)
        #expect(needed["origin"] as? String == "missed_call")
        #expect(needed["match"] as? String == "matched")
        let snapshot = try #require(needed["subscriber"] as? [String: Any])
        #expect(snapshot["rs_id"] as? Int == 100234)
        #expect(snapshot["contract_no"] as? String == "Д-2019/4471")
        #expect(snapshot["tariff_name"] as? String == "Домашний 500")
        #expect(snapshot["days_on_tariff"] as? Int == 277)
        #expect(snapshot["switch"] as? String == "sw-perm-len10-2")
        #expect(needed.messageID == needed["event_id"] as? String)

        let ticketID = try #require(needed["ticket_id"] as? String)
        let ticket = try #require(try gateway.ticket(ticketID))
        #expect(ticket.kind == .callback)
        #expect(ticket.state == .draft)
        #expect(ticket.source?.title == "Пропущенный звонок")
        #expect(ticket.reasons.map(\.title) == ["Попросил перезвонить"])
        #expect(ticket.subscriber?.contractNo == "Д-2019/4471")
        #expect(ticket.subscriber?.daysOnTariff == 277)
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 10, кв. 5")
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open' AND phone = '+79000001122' AND missed_count = 1") == 1)
    }

    @Test func answeredCallEventsInEitherOrderAndDuplicatedGiveExactlyOneDraftPerCall() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 7, version: 1, phones: ["9000001122"]))
        let answeredFirst = Fixtures.callAnswered(callID: "call-a", number: "89000001122", operatorLogin: "op.ivanov")
        let endedSecond = Fixtures.callEnded(callID: "call-a", number: "89000001122", outcome: "answered", operatorLogin: "op.ivanov")
        let endedFirst = Fixtures.callEnded(callID: "call-b", number: "9000001122", outcome: "answered", direction: "outbound", operatorLogin: "op.sidorova")
        let answeredSecond = Fixtures.callAnswered(callID: "call-b", number: "9000001122", operatorLogin: "op.sidorova", direction: "outbound")
        for message in [answeredFirst, endedSecond, answeredFirst, endedSecond, endedFirst, answeredSecond, endedFirst, answeredSecond] {
            try gateway.publishCall(message)
        }
        let drafted = try gateway.events(during: 2).filter { $0.type == "ticket.drafted" }
        #expect(drafted.count == 2)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets WHERE call_id = 'call-a'") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets WHERE call_id = 'call-b'") == 1)
        let inbound = try #require(try gateway.query("SELECT ticket_id FROM tickets WHERE call_id = 'call-a'") { $0.text(0) }.first ?? nil)
        let ticket = try #require(try gateway.ticket(inbound))
        #expect(ticket.author == "op.ivanov")
        #expect(ticket.source?.title == "Входящий звонок")
        #expect(ticket.contactPhones == ["+79000001122"])
        #expect(ticket.match == .matched)
        #expect(ticket.subscriber?.rsID == 7)
        let outbound = try #require(try gateway.query("SELECT body FROM tickets WHERE call_id = 'call-b'") { $0.text(0) }.first ?? nil)
        #expect(outbound.contains("\"title\":\"Исходящий звонок\""))
        #expect(outbound.contains("\"author\":\"op.sidorova\""))
    }

    @Test func aRedeliveredMessageHasNoSecondEffect() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let missed = Fixtures.callEnded(callID: "call-r", number: "89001234567", outcome: "missed")
        try gateway.publishCall(missed)
        try gateway.publishCall(missed)
        let subscriber = Fixtures.subscriber(rsID: 55, version: 3, phones: ["89001234567"])
        try gateway.publishSubscriber(subscriber)
        try gateway.publishSubscriber(subscriber)
        #expect(try gateway.eventually { try gateway.count("SELECT COUNT(*) FROM inbox") == 2 })
        let events = try gateway.events(during: 1.5)
        #expect(events.filter { $0.type == "callback.needed" }.count == 1)
        #expect(events.filter { $0.type == "ticket.autofilled" }.count == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE missed_count = 1") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 1)
        #expect(try gateway.eventually { try gateway.count("SELECT COUNT(*) FROM outbox") == 0 })
    }

    @Test func poisonMessagesGoToTheDeadLetterQueueWithTheReasonAndTheNextGoodMessageIsProcessed() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishRaw(Data("{not json".utf8), exchange: gateway.names.telephonyExchange, routingKey: "call.ended")
        var missingField = Fixtures.callEnded(callID: "c1", number: "89000000001", outcome: "missed")
        missingField.removeValue(forKey: "ended_at")
        try gateway.publishCall(missingField)
        try gateway.publishRaw(Data([0xFF, 0xFE, 0x7B]), exchange: gateway.names.rsExchange, routingKey: "subscriber.updated")
        try gateway.publishCall(Fixtures.callEnded(callID: "c2", number: "89000000002", outcome: "missed"))

        let needed = try gateway.nextEvent(ofType: "callback.needed")
        #expect(needed["phone"] as? String == "+79000000002")
        let dead = try gateway.drain(queue: gateway.names.deadQueue, atLeast: 3)
        #expect(dead.count == 3)
        let byClass = Dictionary(grouping: dead) { message -> String in
            if case let .string(errorClass)? = message.headers["x-metrika-error-class"] { return errorClass }
            return "?"
        }
        #expect(byClass["not_json"]?.count == 2)
        let invalid = try #require(byClass["invalid_message"]?.first)
        #expect(invalid.headers["x-metrika-error"] == .string("missing required field 'ended_at'"))
        #expect(invalid.headers["x-metrika-original-exchange"] == .string(gateway.names.telephonyExchange))
        #expect(invalid.headers["x-metrika-original-routing-key"] == .string("call.ended"))
        #expect(invalid.headers["x-metrika-original-queue"] == .string(gateway.names.telephonyQueue))
        #expect(invalid.headers["x-metrika-attempts"] == .int64(1))
        #expect(invalid.headers["x-metrika-failed-at"] != nil)
        #expect(try JSONSerialization.jsonObject(with: invalid.body) as? [String: Any] != nil)
        #expect(dead.contains { $0.body == Data("{not json".utf8) })
        #expect(try gateway.count("SELECT COUNT(*) FROM dead_letters") == 3)
    }

    @Test func aHeaderTableWithAnEmptyFieldNameIsReadWithoutDroppingTheConsumerConnection() throws {
        // Valid AMQP that RabbitMQ passes on, but that rabbitmq-c 0.11's amqp_consume_message refuses to copy.
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let body = try JSONSerialization.data(withJSONObject: Fixtures.callEnded(callID: "c-hostile", number: "89000000003", outcome: "missed"))
        try gateway.publishRaw(body, exchange: gateway.names.telephonyExchange, routingKey: "call.ended",
                               headers: [("", .string("empty field name")), ("x-trace", .int64(7))])
        try gateway.publishCall(Fixtures.callEnded(callID: "c-after", number: "89000000004", outcome: "missed"))

        let first = try gateway.nextEvent(ofType: "callback.needed")
        let second = try gateway.nextEvent(ofType: "callback.needed")
        #expect([first["phone"] as? String, second["phone"] as? String] == ["+79000000003", "+79000000004"])
        #expect(try gateway.count("SELECT COUNT(*) FROM calls WHERE call_id = 'c-hostile'") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM dead_letters") == 0)
        #expect(!gateway.logs.contains { $0.contains("consumer connection lost") })
    }

    @Test func aDraftForAnUnknownNumberIsFilledInWhenRSLaterPublishesThatNumber() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callAnswered(callID: "u1", number: "8 (912) 345-67-89", operatorLogin: "op.ivanov"))
        let drafted = try gateway.nextEvent(ofType: "ticket.drafted")
        let draft = try #require(drafted["ticket"] as? [String: Any])
        #expect(draft["match"] as? String == "unmatched")
        #expect(draft["subscriber"] is NSNull)
        let ticketID = try #require(draft["ticket_id"] as? String)

        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 900, version: 1, phones: ["+7 912 345 67 89"], contract: "Д-2024/0001",
                                                          since: "2026-12-01"))
        let filled = try gateway.nextEvent(ofType: "ticket.autofilled")
        let ticket = try #require(filled["ticket"] as? [String: Any])
        #expect(ticket["ticket_id"] as? String == ticketID)
        #expect(ticket["match"] as? String == "matched")
        let stored = try #require(try gateway.ticket(ticketID))
        #expect(stored.subscriber?.contractNo == "Д-2024/0001")
        #expect(stored.subscriber?.daysOnTariff == 2)
        #expect(stored.state == .draft)
    }

    @Test func aStaleRSVersionChangesNothingAndRemovedPhonesStopMatching() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 42, version: 10, phones: ["89000000042"], tariff: "Новый 1000"))
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 42, version: 9, phones: ["89000000042", "89000000043"], tariff: "Старый 100"))
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 42, version: 10, phones: ["89000000043"], tariff: "Тот же номер версии"))
        #expect(try gateway.eventually { try gateway.count("SELECT COUNT(*) FROM inbox") == 3 })
        #expect(try gateway.query("SELECT tariff_name, version FROM subscribers WHERE rs_id = 42") { "\($0.text(0) ?? "") \($0.int(1))" } == ["Новый 1000 10"])
        #expect(try gateway.query("SELECT phone FROM subscriber_phones WHERE rs_id = 42") { $0.text(0) ?? "" } == ["+79000000042"])

        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 42, version: 11, phones: ["89000000043"]))
        try gateway.publishCall(Fixtures.callEnded(callID: "s1", number: "89000000042", outcome: "missed"))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        #expect(needed["match"] as? String == "unmatched")
        #expect(needed["subscriber"] is NSNull)
    }

    @Test func aNumberSharedBySeveralSubscribersListsTheCandidatesAndGuessesNone() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 2, version: 1, phones: ["83422001122"], contract: "Д-2"))
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 1, version: 1, phones: ["+7 342 200-11-22"], contract: "Д-1"))
        try gateway.publishCall(Fixtures.callEnded(callID: "sh1", number: "3422001122", outcome: "busy"))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        #expect(needed["match"] as? String == "ambiguous")
        #expect(needed["subscriber"] is NSNull)
        let candidates = try #require(needed["candidates"] as? [[String: Any]])
        #expect(candidates.map { $0["contract_no"] as? String } == ["Д-1", "Д-2"])
    }

    @Test func anIdleGatewayCopiesItsWriteAheadLogIntoTheDatabaseFile() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "w1", number: "89005550077", outcome: "missed"))
        _ = try gateway.nextEvent(ofType: "callback.needed")
        // The database file alone, copied without its log, holds the callback once the gateway has been
        // idle for half a second; SQLite's automatic checkpoint would wait for 40,000 pages.
        let copy = gateway.directory.appendingPathComponent("file-only.sqlite")
        let copied = try gateway.eventually {
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.copyItem(atPath: gateway.configuration.databasePath, toPath: copy.path)
            let connection = try SQLiteConnection(path: copy.path)
            defer { connection.close() }
            return try connection.query("SELECT phone FROM callbacks") { $0.text(0) } == ["+79005550077"]
        }
        #expect(copied)
    }

    @Test func furtherMissedCallsFromTheSameNumberJoinTheOpenCallback() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "m1", number: "89005550001", outcome: "missed", endedAt: "2026-12-03T10:00:00+03:00"))
        try gateway.publishCall(Fixtures.callEnded(callID: "m2", number: "+7 900 555-00-01", outcome: "abandoned", endedAt: "2026-12-03T10:05:00+03:00"))
        try gateway.publishCall(Fixtures.callEnded(callID: "m3", number: "9005550001", outcome: "busy", endedAt: "2026-12-03T09:55:00+03:00"))
        let needed = try (0..<3).map { _ in try gateway.nextEvent(ofType: "callback.needed") }
        #expect(Set(needed.compactMap { $0["callback_id"] as? String }).count == 1)
        #expect(needed.map { $0["missed_count"] as? Int } == [1, 2, 3])
        let last = try #require(needed.last)
        #expect(last["first_missed_at"] as? String == "2026-12-03T09:55:00.000+03:00")
        #expect(last["last_missed_at"] as? String == "2026-12-03T10:05:00.000+03:00")
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 1)
    }

    @Test func savingTheCallbackTicketWithCallbackDoneResolvesTheCallback() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "d1", number: "89007770000", outcome: "missed"))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        let ticketID = try #require(needed["ticket_id"] as? String)
        try gateway.publishCommand(Fixtures.save(ticketID: ticketID, [
            "reasons": ["нет инета"], "resolutions": ["Перезагрузил порт"], "comment": "Перезвонил, порт перезагружен",
            "callback": "done",
        ]))
        let saved = try gateway.nextEvent(ofType: "ticket.saved")
        let ticket = try #require(saved["ticket"] as? [String: Any])
        #expect(ticket["state"] as? String == "saved")
        #expect(ticket["author"] as? String == "op.petrova")
        #expect((ticket["reasons"] as? [[String: Any]])?.map { $0["title"] as? String } == ["Нет интернета"])
        let resolved = try gateway.nextEvent(ofType: "callback.resolved")
        #expect(resolved["callback_id"] as? String == needed["callback_id"] as? String)
        #expect(resolved["resolved_by"] as? String == "op.petrova")
        #expect(resolved["resolution"] as? String == "operator_done")
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open'") == 0)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets WHERE state = 'saved' AND author = 'op.petrova'") == 1)
    }

    @Test func anOperatorsCallMeBackTicketOpensACallbackAndAnIncompleteOneIsRefusedWithAReply() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 100234, version: 1, phones: ["+79000001122"]))
        let incomplete = Fixtures.create(["rs_id": 100234, "contact_phones": ["+79000001122"], "reasons": ["Попросил перезвонить"], "save": true])
        try gateway.publishCommand(incomplete, replyTo: "metrika.test.unused", correlationID: "corr-1")
        let rejected = try gateway.nextEvent(ofType: "command.rejected")
        #expect(rejected["command_id"] as? String == incomplete["command_id"] as? String)
        #expect(rejected["code"] as? String == "callback_incomplete")
        #expect((rejected["message"] as? String)?.contains("a comment with the essence of the question") == true)

        let complete = Fixtures.create(["rs_id": 100234, "contact_phones": ["8 900 000 11 22"], "source": "входящий звонок",
                                        "reasons": ["нет инета", "ПЕРЕЗВОНИТЬ"], "resolutions": ["Передано специалисту"],
                                        "comment": "Нужен инженер, сейчас недоступен", "save": true])
        try gateway.publishCommand(complete)
        let saved = try gateway.nextEvent(ofType: "ticket.saved")
        let ticket = try #require(saved["ticket"] as? [String: Any])
        #expect(ticket["kind"] as? String == "manual")
        #expect((ticket["subscriber"] as? [String: Any])?["contract_no"] as? String == "Д-2019/4471")
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        #expect(needed["origin"] as? String == "requested")
        #expect(needed["ticket_id"] as? String == ticket["ticket_id"] as? String)
        #expect(needed["missed_count"] as? Int == 0)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open' AND origin = 'requested'") == 1)
    }

    @Test func aRejectedCommandIsAnsweredOnItsReplyToQueueWithTheSameCorrelationID() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let replyQueue = try gateway.declareReplyQueue()
        let unknownReason = Fixtures.create(["reasons": ["телепортация"], "save": true])
        try gateway.publishCommand(unknownReason, replyTo: replyQueue, correlationID: "corr-42")
        let accepted = Fixtures.create(["task": "проверка платежей", "save": true])
        try gateway.publishCommand(accepted, replyTo: replyQueue, correlationID: "corr-43")
        let replies = try gateway.drain(queue: replyQueue, atLeast: 2)
        #expect(replies.count == 2)
        let rejection = try #require(replies.first { $0.correlationID == "corr-42" })
        #expect(rejection["status"] as? String == "rejected")
        #expect(rejection["code"] as? String == "unknown_catalog_entry")
        #expect(rejection["command_id"] as? String == unknownReason["command_id"] as? String)
        let acceptance = try #require(replies.first { $0.correlationID == "corr-43" })
        #expect(acceptance["status"] as? String == "accepted")
        let ticketID = try #require(acceptance["ticket_id"] as? String)
        let task = try #require(try gateway.ticket(ticketID))
        #expect(task.kind == .task)
        #expect(task.task?.title == "Проверка платежей")
        #expect(task.match == .notApplicable)

        // A client retrying after a timeout publishes the same commands again: no second effect, the same answers.
        try gateway.publishCommand(unknownReason, replyTo: replyQueue, correlationID: "corr-42-retry")
        try gateway.publishCommand(accepted, replyTo: replyQueue, correlationID: "corr-43-retry")
        let again = try gateway.drain(queue: replyQueue, atLeast: 2)
        let rejectionAgain = try #require(again.first { $0.correlationID == "corr-42-retry" })
        #expect(rejectionAgain["status"] as? String == "rejected")
        #expect(rejectionAgain["code"] as? String == "unknown_catalog_entry")
        #expect(rejectionAgain["message"] as? String == rejection["message"] as? String)
        let acceptanceAgain = try #require(again.first { $0.correlationID == "corr-43-retry" })
        #expect(acceptanceAgain["status"] as? String == "accepted")
        #expect(acceptanceAgain["ticket_id"] as? String == ticketID)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 1)
    }

    @Test func aRefusedCommandAmongCallsInOneBatchUndoesOnlyItself() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let replyQueue = try gateway.declareReplyQueue()
        try gateway.publishCall(Fixtures.callEnded(callID: "b1", number: "89001117701", outcome: "missed"))
        let refused = Fixtures.create(["reasons": ["телепортация"], "save": true, "contact_phones": ["89001117703"]])
        try gateway.publishCommand(refused, replyTo: replyQueue, correlationID: "corr-b")
        try gateway.publishCall(Fixtures.callEnded(callID: "b2", number: "89001117702", outcome: "missed"))
        let replies = try gateway.drain(queue: replyQueue, atLeast: 1)
        #expect(replies.map { $0["status"] as? String } == ["rejected"])
        _ = try gateway.nextEvent(ofType: "callback.needed")
        _ = try gateway.nextEvent(ofType: "callback.needed")
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open'") == 2)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets WHERE contact_phone = '+79001117703'") == 0)
        #expect(try gateway.count("SELECT COUNT(*) FROM inbox WHERE type != 'dead-letter'") == 3)
    }

    @Test func declaringTheTopologyTwiceIsHarmless() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let client = try AMQPConnection(AMQPConnectionSettings(url: testBrokerURL))
        defer { client.close() }
        try gateway.gateway.topology.declare(on: client)
        try gateway.gateway.topology.declare(on: client)
        try gateway.publishCall(Fixtures.callEnded(callID: "t1", number: "89001112233", outcome: "missed"))
        _ = try gateway.nextEvent(ofType: "callback.needed")
    }
}
